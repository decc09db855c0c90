"""Plots people would rather look at than tables: training curves and gradient alignment.

Matplotlib with the non-interactive Agg backend; every figure is written through a
temporary file and a rename, so a failure leaves no half-written image.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .outputs import write_all  # noqa: E402

__all__ = ["plot_history", "plot_alignment", "save_figure", "render"]


def render(fig) -> bytes:
    """The figure as PNG bytes (nothing written); closes it."""
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=110)
    finally:
        plt.close(fig)
    return buf.getvalue()


def save_figure(fig, path):
    """Save ``fig`` as PNG atomically and close it; ``path`` None returns the PNG bytes."""
    png = render(fig)
    if path is not None:
        write_all({path: png})
    return png


def plot_history(histories: dict, path, title: str):
    """Loss (log scale) and, where defined, accuracy per epoch for one or more runs.

    ``histories`` maps a label (e.g. "fixed PC") to a :class:`~.training.History`.
    With ``path`` None nothing is written and the PNG bytes are returned.
    """
    has_acc = any(not np.all(np.isnan(h.train_acc)) for h in histories.values())
    fig, axes = plt.subplots(1, 2 if has_acc else 1, figsize=(11 if has_acc else 6, 4),
                             squeeze=False)
    # Runs that agree (exact PC and backprop; the hardware and the golden model) overlap:
    # each later run is drawn thinner on top, so every one stays visible.
    widths = {label: 1.0 + 2.5 * (len(histories) - 1 - i) / max(1, len(histories) - 1)
              for i, label in enumerate(histories)}
    ax = axes[0, 0]
    for label, h in histories.items():
        a = h.as_arrays()
        (line,) = ax.semilogy(a["epochs"], np.maximum(a["train_loss"], 1e-12),
                              lw=widths[label], label=f"{label} train")
        if not np.all(np.isnan(a["test_loss"])):
            ax.semilogy(a["epochs"], np.maximum(a["test_loss"], 1e-12), "--",
                        lw=widths[label], color=line.get_color(), label=f"{label} test")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss  ½‖y − ŷ‖² (mean)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    if has_acc:
        ax = axes[0, 1]
        for label, h in histories.items():
            a = h.as_arrays()
            (line,) = ax.plot(a["epochs"], 100 * a["train_acc"], lw=widths[label],
                              label=f"{label} train")
            if not np.all(np.isnan(a["test_acc"])):
                ax.plot(a["epochs"], 100 * a["test_acc"], "--", lw=widths[label],
                        color=line.get_color(), label=f"{label} test")
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy (%)")
        ax.set_ylim(0, 102)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_alignment(ticks, curves: dict, path, title: str, ylabel: str, gap: bool = False):
    """Curves over inference ticks, e.g. cosine similarity to backprop or relative error.

    ``curves`` maps a label to an array of the same length as ``ticks``; with several
    rows (one per sample) the median is drawn with the 10-90 % band shaded. With ``gap``
    (for cosines) a second panel shows 1 - cos on a log scale, where curves that all look
    like 1 part: float exact mode (~1e-16) from fixed point (its rounding).
    """
    fig, axes = plt.subplots(1, 2 if gap else 1, figsize=(12 if gap else 7, 4.5),
                             squeeze=False)
    styles = ("-", "--", "-.", ":")
    for panel, ax in enumerate(axes[0]):
        for i, (label, c) in enumerate(curves.items()):
            c = np.atleast_2d(np.asarray(c, dtype=np.float64))
            if panel:
                c = np.maximum(1 - c, 1e-17)
            med = np.nanmedian(c, axis=0)
            (line,) = ax.plot(ticks, med, styles[i % len(styles)], marker="o", markersize=3,
                              label=label)
            if c.shape[0] > 1:
                lo, hi = np.nanpercentile(c, [10, 90], axis=0)
                ax.fill_between(ticks, lo, hi, color=line.get_color(), alpha=0.15)
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlabel("inference ticks T")
        ax.grid(True, which="both", alpha=0.3)
        if panel:
            ax.set_yscale("log")
            ax.set_ylabel("1 - cosine (log scale)")
        else:
            ax.set_ylabel(ylabel)
            ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)
