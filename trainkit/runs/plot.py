"""The curves of several runs overlaid, one panel per metric, written to a PNG.

Uses matplotlib when installed (``pip install "trainkit[plot]"``); without it the
error says what to install. Only ``trainkit compare --plot`` imports this module.
"""
from __future__ import annotations

from pathlib import Path

from .metrics import run_scalars
from .table import run_labels

__all__ = ["plot_runs"]


def plot_runs(runs: list[Path], out: Path, columns) -> Path:
    """Draw ``columns`` (one panel each) of every run in ``runs`` against the step; returns ``out``."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(
            "trainkit compare --plot needs matplotlib: pip install \"trainkit[plot]\" (or pip install matplotlib)"
        ) from None
    columns = list(columns)
    fig, axes = plt.subplots(1, len(columns), figsize=(5 * len(columns), 3.6), squeeze=False)
    for run, label in zip(runs, run_labels(runs)):
        scalars = run_scalars(run)
        for ax, tag in zip(axes[0], columns):
            points = sorted(scalars.get(tag) or [], key=lambda p: p[0])
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points], label=label, linewidth=1.4)
    for ax, tag in zip(axes[0], columns):
        ax.set_title(tag)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if "loss" in tag:
            ax.set_yscale("log")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
