"""What commands print, for a person at a terminal and for a script at the end of a pipe:
whole values, documented options and exit statuses, readers that stop early."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from edgeprobe.cli import build_parser
from edgeprobe.cli_help import COMMANDS
from edgeprobe.units import format_joules_compact
from tests.bundle_factory import DEVICE_RESULTS
from tests.conftest import REPO

SLICE = DEVICE_RESULTS / "h200-paper-slice.epb"
GRAPH = DEVICE_RESULTS / "h200-graph-vs-eager-qwen.epb"
PIPED = {"COLUMNS": ""}  # stdout is a pipe in these tests: nothing tells a width


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def test_every_command_and_option_says_what_it_does():
    commands = _subcommands()
    assert set(commands) == set(COMMANDS)
    for name, parser in commands.items():
        assert parser.description, name
        assert "examples:\n  edgeprobe " + name.split()[0] in parser.epilog, name
        assert "130  interrupted" in parser.epilog
        for action in parser._actions:
            assert action.help, f"{name} {action.option_strings or action.dest}"


def test_version_short_and_long(cli):
    for flag in ("-V", "--version"):
        result = cli(flag)
        assert result.returncode == 0 and result.stdout.startswith("edgeprobe 0.")


def test_a_reader_that_stops_early_ends_the_command_quietly():
    # More than a pipe's buffer (64 KiB), so the command is still writing when the reader
    # leaves.
    args = [str(SLICE)] * 6
    with subprocess.Popen([sys.executable, "-m", "edgeprobe", "show", *args], cwd=REPO,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as run:
        assert run.stdout.readline().startswith(b"bundle")
        run.stdout.close()
        stderr = run.stderr.read().decode()
        assert run.wait(timeout=120) == 0, stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr


def test_piped_tables_are_whole_lines_without_boxes(cli):
    result = cli("compare", str(SLICE), str(GRAPH), env=PIPED)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert not any(ch in result.stdout for ch in "│┃━─┏")
    start = lines.index(next(line for line in lines if line.startswith("Crossover")))
    rows = []
    for line in lines[start + 2:]:  # the rows under the header, up to the next section
        if not line.startswith("h200-paper-slice"):
            break
        rows.append(line.split())
    # One row per pair, each with every cell on its line: bundle, models, family, verdict.
    assert len(rows) == 5
    assert {row[2] for row in rows} == {"falcon-h1-0.5b", "mamba-790m", "mamba-790m/mamba_ssm",
                                        "mamba2-780m", "mamba2-780m/mamba_ssm"}
    assert all(row[1] == "qwen2.5-0.5b" and row[3] in ("ssm", "hybrid") for row in rows)


def test_show_reads_several_bundles_and_their_json_is_a_list(cli):
    text = cli("show", str(SLICE), str(GRAPH))
    assert text.returncode == 0, text.stderr
    assert [line.split()[1] for line in text.stdout.splitlines()
            if line.startswith("bundle ")][:2] == [str(SLICE), str(GRAPH)]
    document = json.loads(cli("show", str(SLICE), str(GRAPH), "--json").stdout)
    assert [len(d["points"]) for d in document] == [36, 2]
    missing = cli("show", str(SLICE), "nowhere.epb")
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr.strip() == "edgeprobe: nowhere.epb: no such file"


def test_power_modes_answers_alike_with_and_without_json(cli, tmp_path):
    env = {"EDGEPROBE_SYSFS_ROOT": str(tmp_path)}  # no board, no nvpmodel: nothing to switch
    text, document = cli("power-modes", env=env), cli("power-modes", "--json", env=env)
    assert text.returncode == document.returncode == 0
    note = json.loads(document.stdout)["note"]
    assert json.loads(document.stdout)["modes"] == [] and "--power-limit" in note
    assert " ".join(text.stdout.split()) == note


@pytest.mark.parametrize("to", ["csv", "json"])
def test_export_into_a_new_folder_never_overwrites_unasked(cli, tmp_path, to):
    out = f"{tmp_path}/results/"
    first = cli("export", str(SLICE), "--to", to, "--out", out)
    assert first.returncode == 0, first.stderr
    written = [line for line in first.stdout.splitlines() if line]
    assert written and all(line.startswith(out + "h200-paper-slice.") for line in written)
    before = {line: (tmp_path / line).read_bytes() for line in written}
    again = cli("export", str(SLICE), "--to", to, "--out", out)
    assert again.returncode == 2 and again.stdout == ""
    assert again.stderr.startswith(f"edgeprobe: {written[0]} exists")
    assert "--force" in again.stderr and len(again.stderr.splitlines()) == 1
    assert {line: (tmp_path / line).read_bytes() for line in written} == before
    forced = cli("export", str(SLICE), "--to", to, "--out", out, "--force")
    assert forced.returncode == 0 and forced.stdout == first.stdout


def test_crossover_and_max_context_fit_80_columns_without_cutting_a_value(cli):
    maxctx = DEVICE_RESULTS / "h200-maxctx-24GiB.epb"
    result = cli("compare", str(SLICE), str(maxctx), env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    tail = "\n".join(lines[lines.index(next(x for x in lines if x.startswith("Crossover"))):])
    words = set(tail.replace(";", " ").split())
    for whole in ("qwen2.5-0.5b", "mamba2-780m/mamba_ssm", "falcon-h1-0.5b", "~20,552",
                  "32,768", "75,776", "h200-maxctx-24GiB", "h200-paper-slice"):
        assert whole in words, whole
    wide = cli("compare", str(SLICE), str(maxctx), env={"COLUMNS": "250"})
    header = next(x for x in wide.stdout.splitlines() if x.startswith("bundle "))
    assert header.split() == ["bundle", "transformer", "vs", "family", "crossover",
                              "transformer", "faster", "by", "SSM/hybrid", "faster", "by"]


def test_listings_at_80_columns_keep_what_one_types_and_reads_whole(cli):
    models = cli("models", env={"COLUMNS": "80"})
    lines = models.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    listed = {line.split()[0] for line in lines[1:]}
    names = {m["name"] for m in json.loads(cli("models", "--json").stdout)}
    assert listed == names  # every name whole, one per line
    wide = cli("models", env={"COLUMNS": "200"}).stdout.splitlines()
    assert wide[0].split()[-2:] == ["shape", "from"]  # dropped only where it does not fit

    board = REPO / "tests" / "fixtures" / "sysfs" / "orin-nano-jp6"
    info = cli("info", env={"COLUMNS": "80", "EDGEPROBE_SYSFS_ROOT": str(board)})
    lines = info.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    sensors = json.loads(cli("info", "--json", env={"EDGEPROBE_SYSFS_ROOT": str(board)}).stdout)
    words = set(info.stdout.split())
    for sensor in sensors["sensors"]:  # every path it reads shows whole
        for word in sensor["detail"].split():
            if word.startswith("/sys/"):
                assert word in words, word


def test_doctor_shows_the_quick_checks_before_it_waits_on_the_worker(cli, tmp_path):
    env = {"COLUMNS": "80", "EDGEPROBE_SOCKET": str(tmp_path / "none.sock")}
    result = cli("doctor", "--quick", env=env)
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    wait = next(i for i, line in enumerate(lines) if line.startswith("... torch, GPU"))
    checks = {line[5:].split("  ")[0].strip(): i for i, line in enumerate(lines)
              if line[:5] in ("ok   ", "warn ", "FAIL ", "n/a  ")}
    assert checks["disk space for bundles"] < wait < checks["torch importable"]
    agent = " ".join(line.strip() for line in lines[checks["agent reachable"]:wait])
    assert "runs and the TUI work without it" in agent


def test_show_has_the_prefill_energy_and_fits_80_columns(cli):
    result = cli("show", str(SLICE), env={"COLUMNS": "80"})
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    header = next(line for line in lines if line.strip().startswith("tokens"))
    assert header.split()[-2:] == ["energy", "status"]
    points = json.loads(cli("show", str(SLICE), "--json").stdout)["points"]
    lean = next(p for p in points if p["model"] == "qwen2.5-0.5b" and p["length_tokens"] == 32768
                and p["variant"] == "lean")
    block = lines[lines.index(next(x for x in lines if x.startswith("qwen2.5-0.5b "))):]
    row = next(line for line in block if line.split()[0] == "32K")
    assert row.split()[6] == format_joules_compact(lean["prefill_energy_j"])
    # The header lines wrap between words; the bundle's path stays whole on its line.
    assert lines[0].split()[1] == str(SLICE)


def test_compare_groups_bundles_by_device_and_power_mode(cli):
    cpu = REPO / "tests" / "fixtures" / "bundles" / "cpu-mini.epb"
    maxctx = DEVICE_RESULTS / "h200-maxctx-24GiB.epb"
    result = cli("compare", str(SLICE), str(maxctx), str(cpu), env={"COLUMNS": "80"})
    lines = result.stdout.splitlines()
    devices = lines[lines.index("Devices") + 1:lines.index("Devices") + 3]
    assert devices == ["  CPU: AMD EPYC: n/a (C)", "  NVIDIA H200: power-limit 700 W (A, B)"]
    single = cli("compare", str(SLICE), str(maxctx), env={"COLUMNS": "80"})
    assert "Devices" not in single.stdout.splitlines()  # one device, one mode: nothing to group
