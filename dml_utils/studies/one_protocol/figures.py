"""The figures of notebook 06 (one protocol): what only this study draws."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from dml_utils import plots

from .schema import LABELS


def leaderboard(
    board, gaps, baselines: dict[str, float], metric: str = "map_at_r", title: str = "", ceiling: float | None = None
):
    """Which methods can be told apart? Left: each method's mean ``metric`` on the unseen classes with
    its 95 % interval over seeds, the baselines as lines, on the metric's whole range from 0 to the
    ``ceiling`` (what a perfect embedding scores), so the headroom is seen at its true size. Right:
    each method minus the leader, paired by seed, with its 95 % interval; a point whose interval
    misses 0 (told apart from the leader) is filled, else hollow."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 0.42 * len(board) + 2.2), sharey=False)
    y = np.arange(len(board))[::-1]
    for yi, (_, r) in zip(y, board.iterrows()):
        err = [[r[metric] - r["lo"]], [r["hi"] - r[metric]]] if np.isfinite(r["lo"]) else None
        left.errorbar(r[metric], yi, xerr=err, fmt="o", color="C0", capsize=3)
    for (name, value), color in zip(baselines.items(), ("C3", "C2")):
        left.axvline(value, color=color, ls="--", lw=1, label=f"{name} {value:.3f}")
    if ceiling is not None:
        left.axvline(ceiling, color="k", ls=":", lw=1, label=f"ceiling (perfect embedding) {ceiling:.3f}")
        left.set_xlim(0, ceiling * 1.03)
    left.set_yticks(y, [f"{m} ({d} diverged)" if d else m for m, d in zip(board["method"], board["diverged"])])
    label = LABELS.get(metric, metric)
    left.set_xlabel(f"{label}, unseen classes (mean, 95 % CI over seeds)")
    left.legend(fontsize=8, loc="upper left")
    top = board["method"].iloc[0]
    order = [m for m in board["method"] if m != top]
    plots.interval_points(
        right,
        gaps.set_index("comparison").loc[[f"{m} − {top}" for m in order]].rename(index=lambda c: c.split(" − ")[0]),
    )
    right.xaxis.set_major_locator(MaxNLocator(5))
    right.set_xlabel(f"{label}: method − {top}, paired by seed (filled: told apart)")
    fig.suptitle(title or "Which methods can be told apart under one protocol?")
    fig.tight_layout()
    return fig


def learning_curves(curves, finals, title: str = ""):
    """Does each final reach a plateau, and does its checkpoint sit where the unseen classes peak?
    One panel per method: MAP@R on the validation classes (solid; what the stop and the checkpoint
    are chosen on) and on the unseen classes (dashed; recorded, never chosen on), mean over seeds,
    with each seed's chosen checkpoint marked on the validation curve."""
    methods = list(dict.fromkeys(finals["method"]))
    cols = 4
    rows = -(-len(methods) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.5 * rows), sharex=True, sharey=True, squeeze=False)
    for ax, name in zip(axes.flat, methods):
        c = curves[curves["method"] == name]
        if len(c):
            mean = c.groupby("iteration")[["val_map_at_r", "test_map_at_r"]].mean()
            ax.plot(mean.index, mean["val_map_at_r"], color="C0", label="validation classes")
            ax.plot(mean.index, mean["test_map_at_r"], color="C1", ls="--", label="unseen classes")
            picked = finals[(finals["method"] == name) & ~finals["diverged"].astype(bool)]
            at = c.merge(
                picked[["seed", "best_iteration"]], left_on=["seed", "iteration"], right_on=["seed", "best_iteration"]
            )
            ax.plot(at["iteration"], at["val_map_at_r"], "k|", ms=8, label="checkpoint (per seed)")
        f = finals[finals["method"] == name]
        done = int(f["plateaued"].fillna(False).astype(bool).sum()) if "plateaued" in f else 0
        ax.set_title(f"{name} ({done}/{len(f)} plateaued)", fontsize=9)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(methods) :]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("iteration")
    for ax in axes[:, 0]:
        ax.set_ylabel("MAP@R")
    axes.flat[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(title or "Learning curves of the finals: where each stops")
    fig.tight_layout()
    return fig


def tuning_curves(table, title: str = ""):
    """Would more trials change the choice? Best validation MAP@R found so far against the number of
    trials, one line per method."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for i, (name, g) in enumerate(table.groupby("method", sort=False)):  # 11 methods: 20 colours, 4 markers
        ax.plot(g["trials"], g["best_val_map_at_r"], marker="osD^"[i % 4], ms=4, color=plt.cm.tab20(i), label=name)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trials")
    ax.set_ylabel("best validation MAP@R so far")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.grid(alpha=0.3)
    ax.set_title(title or "Tuning curves: best setting found against trials", fontsize=10)
    fig.tight_layout()
    return fig
