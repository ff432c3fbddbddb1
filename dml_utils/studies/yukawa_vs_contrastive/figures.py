"""The figures of notebook 03 (Yukawa vs contrastive): what only this study draws (the shared ones and ``savefig``
are in ``dml_utils.plots``)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from dml_utils import plots  # noqa: F401  (sets the seaborn theme every figure of the notebooks shares)


def distance_histograms(
    dists: dict[str, np.ndarray], same: np.ndarray, title: str, bins: int = 60, threshold: float | None = 0.5
):
    """One panel per pair kind (positive, negative); one histogram per model, on shared bins."""
    same = np.asarray(same) == 1
    edges = np.linspace(0, max(float(d.max()) for d in dists.values()) * 1.02, bins + 1)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, mask, kind in ((axes[0], same, "positive"), (axes[1], ~same, "negative")):
        for name, d in dists.items():
            ax.hist(
                d[mask],
                bins=edges,
                alpha=0.5,
                density=True,
                label=f"{name} (mean {d[mask].mean():.3f}, std {d[mask].std():.3f})",
            )
        if threshold is not None:
            ax.axvline(threshold, color="k", ls="--", lw=1, label=f"threshold D = {threshold}")
        ax.set_xlabel("test pair distance D (embedding units)")
        ax.set_ylabel("density")
        ax.set_title(f"{kind} pairs")
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def paired_points(df, x: str, y: str, hue: str, pair: str, title: str, ylabel: str):
    """Per-seed values joined by lines (paired design), one panel per value of ``x``."""
    groups = list(dict.fromkeys(df[x]))
    fig, axes = plt.subplots(1, len(groups), figsize=(4.5 * len(groups), 3.8), squeeze=False, sharey=False)
    for ax, g in zip(axes[0], groups):
        sub = df[df[x] == g]
        levels = list(dict.fromkeys(sub[hue]))
        for _, grp in sub.groupby(pair):
            grp = grp.set_index(hue).reindex(levels)
            ax.plot(range(len(levels)), grp[y].to_numpy(), "-o", color="0.5", alpha=0.6, ms=4)
        means = [sub[sub[hue] == lv][y].mean() for lv in levels]
        ax.plot(range(len(levels)), means, "s", color="C3", ms=9, label="mean over seeds")
        ax.set_xticks(range(len(levels)), levels)
        ax.set_xlim(-0.4, len(levels) - 0.6)
        ax.set_title(str(g))
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def loss_curves(curves: dict[str, list[float]], title: str, ylabel: str = "training loss (epoch mean)"):
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for name, c in curves.items():
        ax.plot(np.arange(1, len(c) + 1), c, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_yscale("log")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
