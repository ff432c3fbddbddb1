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
