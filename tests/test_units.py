import pytest

from edgeprobe.errors import UsageError
from edgeprobe.units import (
    format_bytes,
    format_bytes_compact,
    format_seconds,
    format_seconds_compact,
    format_tokens,
    parse_bytes,
    parse_tokens,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("24GiB", 24 * 1024**3), ("8GB", 8 * 10**9), ("512MiB", 512 * 1024**2), ("1.5 GiB", 1610612736),
    ("1000", 1000), ("16gi", 16 * 1024**3),
])
def test_parse_bytes(text, expected):
    assert parse_bytes(text) == expected


@pytest.mark.parametrize("text", ["", "GiB", "24 parsecs", "-3GiB", "0"])
def test_parse_bytes_rejects(text):
    with pytest.raises(UsageError):
        parse_bytes(text)


@pytest.mark.parametrize(("text", "expected"), [("32K", 32768), ("4096", 4096), ("1M", 1 << 20),
                                                ("220000", 220000), ("1k", 1024)])
def test_parse_tokens(text, expected):
    assert parse_tokens(text) == expected


@pytest.mark.parametrize("text", ["", "4.5K", "K", "0", "12 tokens"])
def test_parse_tokens_rejects(text):
    with pytest.raises(UsageError):
        parse_tokens(text)


def test_formatting_carries_units():
    assert format_bytes(3 * 1024**3) == "3.00 GiB"
    assert format_bytes(None) == "-"
    assert format_seconds(0.0138) == "13.80 ms"
    assert format_seconds(1.3) == "1.30 s"
    assert format_tokens(57344) == "56K"
    assert format_tokens(220000) == "220000"


def test_compact_formats_keep_three_digits_and_the_unit():
    assert format_bytes_compact(422.87 * 1024**2) == "423MiB"
    assert format_bytes_compact(1.07 * 1024**3) == "1.07GiB"
    assert format_bytes_compact(None) == "-"
    assert format_seconds_compact(0.02328) == "23.3ms"
    assert format_seconds_compact(1.3) == "1.30s"
    assert format_seconds_compact(0.000512) == "512µs"
