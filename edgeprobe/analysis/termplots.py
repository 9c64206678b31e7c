"""Terminal plots of a comparison (plotext, from the ``analysis`` extra): TTFT, peak memory
and energy per token against prompt length, on log-log axes."""

from __future__ import annotations

from edgeprobe.analysis.compare import Comparison
from edgeprobe.analysis.frames import require
from edgeprobe.analysis.plotdata import METRICS, metric_series
from edgeprobe.units import format_tokens

# One character per series, so that lines stay apart without colour.
_MARKERS = ("*", "+", "x", "o", "#", "@", "%", "&", "=", "$")
TERM_METRICS = ("ttft_s", "peak_bytes", "prefill_energy_per_token_j", "decode_energy_per_token_j")


def terminal_plots(comparison: Comparison, width: int = 100, height: int = 22,
                   colour: bool = False) -> str:
    """The plots as text, one below the other; metrics nobody measured are left out."""
    plt = require("plotext", "terminal plots")
    parts = []
    for metric in TERM_METRICS:
        series = metric_series(comparison, metric)
        if not series:
            continue
        name, _, unit = METRICS[metric]
        plt.clear_figure()
        plt.plotsize(width, height)
        plt.theme("pro" if colour else "clear")
        for index, item in enumerate(series):
            plt.plot(item.lengths_tokens, item.values, label=item.label,
                     marker=_MARKERS[index % len(_MARKERS)])
        plt.xscale("log")
        plt.yscale("log")
        lengths = sorted({n for item in series for n in item.lengths_tokens})
        plt.xticks(lengths, [format_tokens(n) for n in lengths])
        plt.title(f"{name} ({unit}) vs prompt tokens, log-log")
        parts.append(plt.build() if colour else plt.uncolorize(plt.build()))
    plt.clear_figure()
    return "\n".join(parts) if parts else "nothing to plot: no successful points"
