"""Property-based fuzzing of bundles: damaged and hostile files through the reader and the
reading commands (fixed seed, small budget; benchmarks/bundle_fuzz.py runs 10,000 cases)."""

from __future__ import annotations

import resource
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import bundle_fuzzing as fz

FUZZ = settings(max_examples=150, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> tuple[bytes, list]:
    path = fz.write_base(tmp_path_factory.mktemp("base") / "base.epb")
    data = path.read_bytes()
    return data, fz.decoded(data)


_positions = st.integers(min_value=0, max_value=1 << 16)
_damage = st.one_of(
    st.builds(lambda at, x: ("flip", at, x), _positions, st.integers(0, 254)),
    st.builds(lambda at: ("truncate", at), _positions),
    st.builds(lambda at, b: ("insert", at, b), _positions, st.binary(min_size=1, max_size=16)),
    st.builds(lambda at, n: ("remove", at, n), _positions, st.integers(1, 64)),
    st.builds(lambda at: ("oversize", at), _positions),
)


def _apply(data: bytes, mutation: tuple) -> bytes:
    kind, *args = mutation
    return {"flip": fz.flip, "truncate": fz.truncate, "insert": fz.insert,
            "remove": fz.remove, "oversize": fz.oversize_length}[kind](data, *args)


@FUZZ
@given(mutations=st.lists(_damage, min_size=1, max_size=3),
       command=st.sampled_from(fz.COMMANDS))
def test_damaged_bundles_never_change_a_value_or_raise(base, tmp_path, mutations, command):
    data, original = base
    for mutation in mutations:
        data = _apply(data, mutation) or data
    path = tmp_path / "fuzzed.epb"
    path.write_bytes(data)
    outcome = fz.check_reader(path, original)
    assert not outcome.silent_change, mutations
    code = fz.check_command(command, path, tmp_path)
    if outcome.damaged or outcome.refused:
        assert code == 2


@FUZZ
@given(changes=st.lists(st.tuples(_positions, _positions, _positions), min_size=1, max_size=4),
       command=st.sampled_from(fz.COMMANDS))
def test_hostile_values_with_valid_checksums_get_one_line_at_most(base, tmp_path, changes,
                                                                   command):
    data, _ = base
    for record, where, value in changes:
        data = fz.hostile_value(data, record, where, value)
    path = tmp_path / "hostile.epb"
    path.write_bytes(data)
    fz.check_command(command, path, tmp_path)


def test_every_single_byte_flip_is_caught(base, tmp_path):
    """Exhaustive over the file: each flipped byte is refused or reported as damage."""
    data, original = base
    path = tmp_path / "flipped.epb"
    for at in range(len(data)):
        path.write_bytes(fz.flip(data, at, 0))
        outcome = fz.check_reader(path, original)
        assert not outcome.silent_change and not outcome.clean, at


def test_a_decompression_bomb_is_refused_in_bounded_memory(base, tmp_path):
    """A column of 512 MiB of zeros in 500 kB (more rows than a chunk may hold), and one of
    16 MiB within the row limit but past the size limit on decoding: both refused before
    anything is inflated, the samples before them exported."""
    data, _ = base
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for size, why in ((512 << 20, "rows (at most"), (16 << 20, "size limit")):
        path = tmp_path / f"bomb-{size}.epb"
        path.write_bytes(fz.bomb(data, size))
        assert path.stat().st_size < 1 << 20
        for command in (("export", "--to", "json", "--out", "-"), ("export", "--to", "csv")):
            code, _, err = fz.run_command([command[0], str(path), *command[1:]], tmp_path)
            assert code == 0 and "telemetry chunk 1" in err and why in err, err
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 100 * 1024


def test_old_bundles_read_unverified(tmp_path):
    fixture = Path(__file__).parent / "fixtures" / "bundles" / "cpu-mini.epb"
    code, out, err = fz.run_command(["show", str(fixture)], tmp_path)
    assert code == 0 and "tiny-mamba2" in out
    assert err.strip() == f"edgeprobe: note: {fixture}: unverified: written before bundles " \
        "carried checksums"
