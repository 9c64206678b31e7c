"""A comparison as one PNG (matplotlib, from the ``analysis`` extra): TTFT and peak memory
against prompt length on log-log axes, energy per token, and kernel category shares."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeprobe.analysis.compare import Comparison
from edgeprobe.analysis.plotdata import METRICS, metric_series, share_bars
from edgeprobe.analysis.report import VARIANT_LABEL
from edgeprobe.units import format_tokens

_LINE_STYLES = ("-", "--", ":", "-.")
_MARKERS = {"transformer": "o", "ssm": "s", "hybrid": "^"}


def matplotlib_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _empty(axes: Any, title: str, why: str) -> None:
    axes.set_title(title)
    axes.text(0.5, 0.5, why, ha="center", va="center", transform=axes.transAxes, color="gray")
    axes.set_xticks([])
    axes.set_yticks([])


def _spread_band(axes: Any, series: Any, colour: str) -> None:
    """Median ± half the interquartile range, as a light band where the spread is known."""
    known = [(n, v, s) for n, v, s in zip(series.lengths_tokens, series.values, series.spreads,
                                          strict=False) if s is not None]
    if len(known) > 1:
        lengths, values, spreads = zip(*known, strict=True)
        axes.fill_between(lengths, [v - s / 2 for v, s in zip(values, spreads, strict=True)],
                          [v + s / 2 for v, s in zip(values, spreads, strict=True)],
                          color=colour, alpha=0.15, linewidth=0)


def _line_panel(axes: Any, comparison: Comparison, metrics: tuple[str, ...]) -> None:
    bundles = [b.label for b in comparison.bundles]
    models = sorted({r["model"] + "/" + r["implementation"] for r in comparison.rows})
    colours = {m: f"C{i % 10}" for i, m in enumerate(models)}
    drawn = 0
    for metric in metrics:
        name = METRICS[metric][0]
        for series in metric_series(comparison, metric):
            key = f"{series.model}/{series.implementation}"
            style = _LINE_STYLES[bundles.index(series.bundle) % len(_LINE_STYLES)]
            prefix = f"{name.split()[0].lower()}: " if len(metrics) > 1 else ""
            axes.plot(series.lengths_tokens, series.values, linestyle=style,
                      marker=_MARKERS.get(series.family, "x"), color=colours.get(key, "k"),
                      label=prefix + series.label, markersize=4)
            _spread_band(axes, series, colours.get(key, "k"))
            drawn += 1
    title = " / ".join(METRICS[m][0] for m in metrics)
    unit = METRICS[metrics[0]][2]
    if not drawn:
        _empty(axes, title, "not measured in these bundles")
        return
    from matplotlib.ticker import FuncFormatter

    axes.set_xscale("log", base=2)
    axes.set_yscale("log")
    axes.xaxis.set_major_formatter(FuncFormatter(lambda v, _: format_tokens(round(v))))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axes.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axes.tick_params(axis="y", which="minor", labelsize=6)
    axes.set_title(title)
    axes.set_xlabel("prompt tokens")
    axes.set_ylabel(unit)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=6, loc="best")


def _shares_panel(axes: Any, comparison: Comparison) -> None:
    labels, categories, shares = share_bars(comparison)
    if not labels:
        _empty(axes, "Kernel category shares", "no kernel profiles in these bundles")
        return
    left = [0.0] * len(labels)
    for index, category in enumerate(categories):
        widths = [row[index] * 100 for row in shares]
        axes.barh(labels, widths, left=left, label=category, color=f"C{index % 10}")
        left = [a + b for a, b in zip(left, widths, strict=True)]
    axes.set_title("Kernel category shares")
    axes.set_xlabel("% of device time")
    axes.set_xlim(0, 100)
    axes.tick_params(axis="y", labelsize=6)
    axes.legend(fontsize=6, loc="lower right")


def save_plot(comparison: Comparison, path: str | Path) -> Path:
    """Draw the comparison into ``path`` (PNG, or any format matplotlib knows by suffix)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(14, 10), layout="constrained")
    (ttft, memory), (energy, shares) = figure.subplots(2, 2)
    _line_panel(ttft, comparison, ("ttft_s",))
    _line_panel(memory, comparison, ("peak_bytes",))
    _line_panel(energy, comparison, ("prefill_energy_per_token_j", "decode_energy_per_token_j"))
    _shares_panel(shares, comparison)
    figure.suptitle(f"edgeprobe compare: {', '.join(b.label for b in comparison.bundles)} "
                    f"({VARIANT_LABEL[comparison.variant]} prefill)", fontsize=10)
    path = Path(path)
    figure.savefig(path, dpi=110)
    return path
