#!/usr/bin/env python3
"""The study's headline comparisons, re-checked from device bundles, as a Markdown report
and a plot (docs/results/study-report.md and .png by default).

    python benchmarks/study_report.py                      # docs/results/*.epb of paper suites
    python benchmarks/study_report.py A.epb B.epb --out-dir docs/results

Needs the ``analysis`` extra for the plot (the report is written without it). Bundles that
cannot be read are listed in the report and skipped. The bundles that complete it come from:

    edgeprobe run --suite paper-desktop --memory-budget 24GiB --impl both
    edgeprobe run --suite paper-desktop --models qwen2.5-0.5b mamba2-780m --impl both \\
        --find-max-context --memory-budget 24GiB --lengths 32K --decode-tokens 0
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgeprobe.analysis.compare import Comparison, compare  # noqa: E402
from edgeprobe.analysis.crossover import (  # noqa: E402
    CROSSOVER,
    NONE_IN_RANGE,
    OTHER_FASTER_EVERYWHERE,
    crossovers,
)
from edgeprobe.analysis.formats import markdown_table, to_markdown  # noqa: E402
from edgeprobe.analysis.maxctx import MaxContext  # noqa: E402
from edgeprobe.analysis.report import crossover_table, max_context_text  # noqa: E402
from edgeprobe.bundle import BundleError, read_bundle  # noqa: E402
from edgeprobe.units import format_bytes, format_seconds  # noqa: E402

BUDGET_24GIB = 24 * 1024**3
SHORT_TOKENS = 8192  # the study: Transformers faster "below ~8K tokens"
STUDY = "arXiv 2507.12442 (RTX 4090 24 GB, fp16, HF checkpoints)"


def _read(paths: list[Path]) -> tuple[list[Any], list[str]]:
    bundles, problems = [], []
    for path in paths:
        try:
            bundles.append(read_bundle(path))
        except BundleError as exc:
            problems.append(str(exc))
    return bundles, problems


def _default_paths() -> list[Path]:
    """docs/results/*.epb of the paper suites, and any bundle there with kernel profiles."""
    paths = []
    for path in sorted((REPO / "docs" / "results").glob("*.epb")):
        try:
            bundle = read_bundle(path)
        except BundleError:
            paths.append(path)  # listed as unreadable in the report
            continue
        suite = (bundle.header.get("suite") or {}).get("name") or ""
        if suite.startswith("paper") or bundle.of_type("kernels"):
            paths.append(path)
    return paths


Pending = dict[tuple[str, int], list[str]]  # (model, length) -> bundles yet to reach it


def _pending(bundles: list[Any], labels: list[str]) -> Pending:
    """Points a resumable bundle plans but has not reached: where a figure is missing only
    because its run was cut off, the report says which bundle will measure it."""
    pending: Pending = {}
    for bundle, label in zip(bundles, labels, strict=True):
        if not bundle.resumable:
            continue
        done = {(p.get("model"), p.get("length_tokens")) for p in bundle.points}
        for entry in bundle.header.get("plan") or []:
            for length in entry.get("lengths") or []:
                key = (entry.get("model"), length)
                if key not in done and label not in pending.get(key, []):
                    pending.setdefault(key, []).append(label)
    return pending


def _values(comparison: Comparison, model: str, length: int, key: str,
            fmt: Callable[[Any], str], pending: Pending) -> str:
    """Every measured value of ``key`` for ``model`` at ``length``, labelled by implementation
    (and bundle when several have it)."""
    found = [r for r in comparison.rows if r["model"] == model and r["length_tokens"] == length
             and r["status"] == "ok" and r.get(key) is not None]
    if not found:
        tried = [r for r in comparison.rows if r["model"] == model
                 and r["length_tokens"] == length]
        if tried:  # measured, but it did not fit or failed: say how
            return ", ".join(f"{r['status']} [{r['implementation']}, {r['bundle']}]"
                             for r in tried)
        if (model, length) in pending:
            return (f"not reached yet: {', '.join(pending[model, length])} stopped before it "
                    "(run --resume measures it)")
        return "not run: no bundle here has this length (the full paper-desktop sweep does)"
    several = len({r["bundle"] for r in found}) > 1
    return ", ".join(f"{fmt(r[key])} [{r['implementation']}"
                     + (f", {r['bundle']}]" if several else "]") for r in found)


def _best_speedups(comparison: Comparison, transformer_wins: bool,
                   lengths: Callable[[int], bool]) -> str:
    """The three largest TTFT ratios of one family over the other, at the lengths kept."""
    found = []
    for bundle in comparison.bundles:
        rows = [r for r in comparison.rows if r["bundle"] == bundle.label
                and lengths(r["length_tokens"])]
        for item in crossovers(bundle.label, rows, comparison.variant):
            best = item.transformer_speedup if transformer_wins else item.other_speedup
            if not best:
                continue
            fast, slow = (item.transformer, item.other) if transformer_wins \
                else (item.other, item.transformer)
            found.append((best[0], f"{fast.removesuffix('/hf')} {best[0]:.2f}x faster than "
                                   f"{slow.removesuffix('/hf')} at {best[1]:,}"))
    if not found:
        return "none measured" if transformer_wins else "SSM/hybrid never faster here"
    found.sort(reverse=True)
    return "; ".join(text for _, text in found[:3])


def _crossover_summary(comparison: Comparison) -> str:
    """How many SSM/hybrid-Transformer pairs cross over, and the earliest and latest length
    (every pair is in the crossover tables below)."""
    items = comparison.crossovers
    if not items:
        return "no Transformer/SSM pair in one bundle"
    crossing = sorted((c for c in items if c.kind == CROSSOVER and c.crossover_tokens),
                      key=lambda c: c.crossover_tokens or 0)
    always = sum(c.kind == OTHER_FASTER_EVERYWHERE for c in items)
    never = sum(c.kind == NONE_IN_RANGE for c in items)
    parts = [f"{len(items)} pairs"]
    if crossing:
        first, last = crossing[0], crossing[-1]
        parts.append(f"{len(crossing)} cross over, from ~{first.crossover_tokens:,.0f} tokens "
                     f"({first.other.removesuffix('/hf')} vs "
                     f"{first.transformer.removesuffix('/hf')}, {first.bundle}) to "
                     f"~{last.crossover_tokens:,.0f} ({last.other.removesuffix('/hf')} vs "
                     f"{last.transformer.removesuffix('/hf')}, {last.bundle})")
    if always:
        parts.append(f"{always} SSM/hybrid faster at every shared length")
    if never:
        parts.append(f"{never} with no crossover in the lengths both ran")
    return ", ".join(parts)


_SOURCE_RANK = {"search": 0, "search, cut short": 1}  # anything else: a sweep's lower bound


def _evidence_rank(item: MaxContext) -> tuple[int, int]:
    """A finished search before one cut short before a sweep's lower bound, then the largest."""
    return _SOURCE_RANK.get(item.source, 2), -(item.max_ok_tokens or 0)


def _best_evidence(items: list[MaxContext]) -> list[MaxContext]:
    """One max context per model, implementation and prefill: the best ranked."""
    chosen: dict[tuple[str, str, str], MaxContext] = {}
    for item in items:
        key = (item.model, item.implementation, item.variant)
        if key not in chosen or _evidence_rank(item) < _evidence_rank(chosen[key]):
            chosen[key] = item
    return [chosen[key] for key in sorted(chosen)]


def _max_context_claim(items: list[MaxContext]) -> str:
    budgeted = _best_evidence([m for m in items if m.memory_budget_bytes == BUDGET_24GIB])
    if not budgeted:
        return "no max-context data under a 24 GiB budget"
    parts = []
    for variant in ("published", "lean"):
        best = {}
        for family in ("transformer", "ssm"):
            fitted = [m for m in budgeted if m.variant == variant and m.family == family
                      and m.max_ok_tokens]
            best[family] = max(fitted, key=lambda m: m.max_ok_tokens or 0, default=None)
        ssm, transformer = best["ssm"], best["transformer"]
        if ssm and transformer and ssm.max_ok_tokens and transformer.max_ok_tokens:
            parts.append(f"{VARIANT_WORDS[variant]}: SSM / Transformer = "
                         f"{ssm.max_ok_tokens / transformer.max_ok_tokens:.2f}x "
                         f"({ssm.model} {max_context_text(ssm)[0]} vs {transformer.model} "
                         f"{max_context_text(transformer)[0]})")
        else:
            parts.append(f"{VARIANT_WORDS[variant]}: no SSM and Transformer pair under "
                         "24 GiB yet, no ratio")
    per_model = []
    for item in budgeted:
        best = max_context_text(item)[0]
        stop = "" if item.fail_status in (None, "oom") else f", {item.fail_status}"
        per_model.append(f"{item.model} [{item.implementation}, {item.variant}] {best}"
                         + (f" ({item.source}{stop})" if item.source != "search" or stop
                            else ""))
    return "; ".join(parts) + ". Each model's best evidence: " + "; ".join(per_model)


VARIANT_WORDS = {"published": "all-position logits", "lean": "last-position logits"}


def _claims(lean: Comparison, published: Comparison, everything: Comparison) -> str:
    short = (lambda n: n < SHORT_TOKENS)  # noqa: E731
    every = (lambda n: True)  # noqa: E731
    rows = [
        ("1", "SSMs process ~4x longer contexts on a 24 GB GPU", "~220K (SSM) vs 57-64K "
         "(Transformer) tokens", _max_context_claim(everything.max_context)),
        ("2", "Transformers up to 1.8-1.9x faster below ~8K tokens", "1.8-1.9x",
         f"all-position logits: {_best_speedups(published, True, short)}. "
         f"Last-position logits: {_best_speedups(lean, True, short)}"),
        ("3", "SSMs up to 4x faster at ~57K tokens (a crossover)", "up to 4x at 57K",
         f"all-position logits: {_best_speedups(published, False, every)}; crossover: "
         f"{_crossover_summary(published)}. Last-position logits: "
         f"{_best_speedups(lean, False, every)}; crossover: {_crossover_summary(lean)}"),
        ("4", "SSM kernels take over 55% of latency (Jetson)", "55.5-62.9 % (mamba-130m)",
         _shares_claim(everything)),
    ]
    lines = ["| # | study claim | study | measured here |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d.replace('|', '/')} |" for a, b, c, d in rows]
    return "\n".join(lines) + "\n"


def _shares_claim(comparison: Comparison) -> str:
    rows = [r for r in comparison.category_shares if r["category_shares"]]
    if not rows:
        return "no kernel profiles in these bundles yet"
    parts = []
    for row in rows:
        share = next((v for k, v in row["category_shares"].items()
                      if k.lower() in ("ssm_scan", "ssm scan")), None)
        if share is not None:
            parts.append(f"{row['model']} [{row.get('implementation')}] @ "
                         f"{row.get('length_tokens')}: {share * 100:.1f} %")
    return "; ".join(parts) or "profiles present, but no SSM_Scan category"


def _numbers(lean: Comparison, published: Comparison, pending: Pending) -> str:
    qwen, mamba2 = "qwen2.5-0.5b", "mamba2-780m"
    ttft = (lambda c, m, n: _values(c, m, n, "ttft_s", format_seconds, pending))  # noqa: E731
    rows = [
        ("TTFT at 1,024: Qwen2.5-0.5B vs mamba2-780m", "13.8 ms vs 26.0 ms",
         f"{ttft(published, qwen, 1024)} vs {ttft(published, mamba2, 1024)}"),
        ("TTFT at 32K, same pair", "1.30 s vs 0.49 s",
         f"{ttft(published, qwen, 32768)} vs {ttft(published, mamba2, 32768)}"),
        ("TPOT at 32K, same pair", "41.8 ms vs 13.7 ms",
         f"{_values(lean, qwen, 32768, 'tpot_s', format_seconds, pending)} vs "
         f"{_values(lean, mamba2, 32768, 'tpot_s', format_seconds, pending)}"),
        ("TTFT at 57,344: Qwen2.5-1.5B / mamba2-1.3b / Falcon-H1-1.5B", "8.24 s / 1.35 s / "
         "2.95 s", " / ".join(ttft(published, m, 57344)
                              for m in ("qwen2.5-1.5b", "mamba2-1.3b", "falcon-h1-1.5b"))),
        ("prefill energy at 57K: Qwen / Mamba2 / Falcon-H1 (1.5B class)", "1,492.6 J / "
         "370.5 J / 613.2 J", " / ".join(
             _values(published, m, 57344, "prefill_energy_j", lambda v: f"{v:,.1f} J",
                     pending)
             for m in ("qwen2.5-1.5b", "mamba2-1.3b", "falcon-h1-1.5b"))),
        ("peak memory: Qwen-0.5B @57K / Llama-1B @64K / mamba2-780m @220K / Falcon-H1-0.5B "
         "@164K", "19.9 / 20.7 / 23.2 / 21.8 GB", " / ".join(
             _values(published, m, n, "peak_bytes", format_bytes, pending)
             for m, n in (("qwen2.5-0.5b", 57344), ("llama-3.2-1b", 65536),
                          ("mamba2-780m", 220000), ("falcon-h1-0.5b", 163840)))),
    ]
    lines = ["| what | study | measured here |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines) + "\n"


def build_report(paths: list[Path], out_dir: Path, name: str,
                 command: str = "python benchmarks/study_report.py") -> tuple[Path, Path | None]:
    bundles, problems = _read(paths)
    if not bundles:
        raise SystemExit("study_report: no readable bundle among: "
                         + ", ".join(str(p) for p in paths))
    # Speed figures come from timed bundles only: a bundle run with no warm-up (max-context
    # searches, profiling runs) times cold first passes; it still gives max context and
    # kernel shares.
    timed = [b for b in bundles if (b.header.get("settings") or {}).get("warmup", 1) >= 1]
    timed = timed or bundles
    # Ratios against the complete bundle with the most points.
    base = max(timed, key=lambda b: (b.complete, len(b.points)))
    lean = compare(timed, baseline=str(base.path), variant="lean")
    published = compare(timed, baseline=str(base.path), variant="published")
    everything = compare(bundles, variant="published")
    devices = sorted({b.device for b in everything.bundles})
    out_dir.mkdir(parents=True, exist_ok=True)  # before the plot, which goes there first
    plot_path: Path | None = out_dir / f"{name}.png"
    try:
        from edgeprobe.analysis.plots import save_plot

        save_plot(lean, plot_path)  # last-position logits: the runs that measured energy too
    except ImportError as exc:
        problems.append(f"plot not drawn: {exc} (pip install 'edgeprobe[analysis]')")
        plot_path = None
    sources = "\n".join(
        f"- `{Path(b.path).name}`: {b.device}, suite {b.suite} "
        f"({(b.suite_sha256 or '')[:12]}), budget "
        f"{format_bytes(b.memory_budget_bytes) if b.memory_budget_bytes else 'none'}, "
        f"{b.points} points" + ("" if b.complete else f", **incomplete** ({b.damage})")
        + (f", **{b.run_status}** before its end" + (", resumable" if b.resumable else "")
           if b.complete and b.run_status not in (None, "completed") else "")
        for b in everything.bundles) + "".join(
        f"\n- `{Path(b.path).name}` ran without warm-up: used for max context and kernel "
        "shares, not for speed" for b in bundles if b not in timed)
    parts = [
        f"# The study's headline claims, re-checked on {', '.join(devices)}\n",
        f"Study: {STUDY}. Bundles:\n\n{sources}\n",
        *(f"- **not read:** {p}\n" for p in problems),
        f"Made by `{command}` (run from the repository's root, it writes this file again, "
        "byte for byte); every figure below comes from the "
        "bundles listed, through `edgeprobe compare`. 'all-position logits' is the prefill "
        "as the study measured it, 'last-position logits' keeps only the last position's "
        "logits. K = 1,024 tokens.\n",
        "## Headline claims\n", _claims(lean, published, everything),
        "## Numbers against the study's\n",
        _numbers(lean, published, _pending(timed, [b.label for b in published.bundles])),
    ]
    if plot_path is not None:
        parts.append(f"![TTFT and peak memory against prompt length]({plot_path.name})\n")
    parts += ["## Comparison (all-position logits, as the study measured)\n",
              to_markdown(published, level=3)]
    if lean.crossovers:
        parts += ["## Crossover with last-position logits\n",
                  markdown_table(crossover_table(lean.crossovers, "lean"), level=3)]
    report = out_dir / f"{name}.md"
    report.write_text("\n".join(parts))
    return report, plot_path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundles", nargs="*", type=Path,
                        help="device bundles (default: docs/results/*.epb of paper suites "
                             "and those with kernel profiles)")
    parser.add_argument("--out-dir", type=Path, default=REPO / "docs" / "results")
    parser.add_argument("--name", default="study-report")
    args = parser.parse_args()
    report, plot = build_report(args.bundles or _default_paths(), args.out_dir, args.name,
                                " ".join(["python benchmarks/study_report.py", *sys.argv[1:]]))
    print(f"report: {report}")
    print(f"plot:   {plot or 'not drawn'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
