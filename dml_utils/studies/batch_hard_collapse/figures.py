"""The figures of notebook 05 (batch-hard collapse): what only this study draws (the shared ones and ``savefig``
are in ``dml_utils.plots``)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from dml_utils import plots  # noqa: F401  (sets the seaborn theme every figure of the notebooks shares)
from dml_utils.collapse import SPREAD_BELOW


def mark_collapse(ax, collapsed_at: dict | None, label: str = "collapse") -> bool:
    """A dashed vertical line at the step where a CollapseMonitor first said *collapsed*
    (``History.collapsed_at``), labelled with its reason; nothing when the run did not collapse.
    Returns whether a mark was drawn."""
    if not collapsed_at:
        return False
    ax.axvline(
        collapsed_at["step"],
        color="k",
        ls="--",
        lw=1,
        label=f"{label} at step {collapsed_at['step']} ({collapsed_at['reason']})",
    )
    return True


def no_valid_triplet_panel(curves: dict[int, dict[str, list[float]]], title: str):
    """P(no valid triplet) against the number of classes, one line per batch size (closed form)
    with its Monte Carlo estimates as dots. ``curves[B]`` = {"classes", "closed_form", "monte_carlo"}."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for i, (b, c) in enumerate(sorted(curves.items())):
        ax.plot(c["classes"], c["closed_form"], color=f"C{i}", label=f"batch of {b}: closed form")
        ax.plot(c["classes"], c["monte_carlo"], "o", color=f"C{i}", ms=4, label=f"batch of {b}: Monte Carlo")
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("classes C in the training set (uniform random batch)")
    ax.set_ylabel("P(batch holds no valid triplet)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig


CLASS_LETTERS = {"collapsed": "c", "diverged": "d", "failed": "f", "trained": "t"}


def run_class_heatmaps(table, title: str, rows: str = "pk", cols: str = "lr", panel: str = "variant"):
    """One heat map per ``panel`` value: each ``rows`` × ``cols`` cell coloured by the share of its
    runs that did not train (collapsed, diverged or failed: ``table["outcome"]``) and labelled with
    the count of each class (c collapsed, d diverged, f failed, t trained), so a 0 share is a cell
    where every run trained, not one that hides a failure. Cells the map does not hold stay blank."""
    import pandas as pd

    panels = list(dict.fromkeys(table[panel]))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8), squeeze=False)
    t = table.assign(bad=table["outcome"] != "trained")
    for ax, name in zip(axes[0], panels):
        part = t[t[panel] == name]
        share = part.pivot_table(index=rows, columns=cols, values="bad", aggfunc="mean", sort=False)
        share = share.reindex(sorted(share.columns, reverse=True), axis=1)
        labels = pd.DataFrame("", index=share.index, columns=share.columns)
        for (r, c), cell in part.groupby([rows, cols]):
            n = cell["outcome"].value_counts()
            labels.loc[r, c] = " ".join(f"{int(n[k])}{v}" for k, v in CLASS_LETTERS.items() if n.get(k, 0))
        sns.heatmap(
            share.astype(float),
            ax=ax,
            vmin=0,
            vmax=1,
            annot=labels.to_numpy(),
            fmt="",
            cmap="rocket_r",
            cbar=ax is axes[0][-1],
            cbar_kws={"label": "share of runs that did not train"},
        )
        ax.set_title(str(name))
        ax.set_xlabel("learning rate")
        ax.set_ylabel("batch P × K")
    fig.suptitle(title)
    fig.text(0.5, -0.02, "c collapsed · d diverged · f failed (below the untrained net) · t trained", ha="center")
    fig.tight_layout()
    return fig


def gradient_norm_panel(norms: dict[str, list[float]], title: str):
    """The batch-hard gradient norm as the descriptors shrink towards one point (log–log)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    scale = np.asarray(norms["scale"])
    keep = scale > 0
    for name in ("plain", "squared"):
        ax.plot(
            scale[keep],
            np.asarray(norms[name])[keep],
            "-o",
            ms=4,
            label={"plain": "plain Euclidean √(Σ + 1e-12)", "squared": "squared Euclidean"}[name],
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("scale of the descriptors (1 = the batch as drawn; → 0 = collapse)")
    ax.set_ylabel("‖∂loss / ∂descriptors‖")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig


def collapse_traces(traces: dict[str, dict], title: str, pinned: dict[str, float], spread_below: float = SPREAD_BELOW):
    """Per run: the batch-hard loss per step (left, with the collapse values dashed) and the probe
    batch's spread relative to step 0 (right, log scale, with the collapse threshold). A trace is
    {"loss", "steps", "spread", "collapsed_at", "growth"}; growth steps (progressive runs) are dotted."""
    fig, (ax_l, ax_s) = plt.subplots(1, 2, figsize=(12, 4.2))
    styles, markers = ["-", "--", ":", "-."], ["o", "s", "^", "D"]
    drawn: dict[str, list] = {}
    for i, (name, t) in enumerate(traces.items()):
        color, ls, marker = f"C{i % 10}", styles[i % 4], markers[i % 4]
        same = [other for other, spread in drawn.items() if np.allclose(spread, t["spread"], rtol=1e-3, atol=1e-9)]
        drawn[name] = list(t["spread"])
        label = f"{name} (spread on top of {', '.join(same)})" if same else name
        ax_l.plot(np.arange(1, len(t["loss"]) + 1), t["loss"], color=color, ls=ls, lw=1.2, label=name)
        ax_s.plot(
            t["steps"],
            np.maximum(t["spread"], 1e-8),
            ls=ls,
            marker=marker,
            ms=6 - i % 4,
            mfc="none",
            color=color,
            label=label,
        )
        for step, _ in (t.get("growth") or [])[1:]:
            for ax in (ax_l, ax_s):
                ax.axvline(step, color=color, ls=":", lw=1)
        if t.get("collapsed_at") is not None:
            ax_s.plot([t["collapsed_at"]], [max(_spread_at(t, t["collapsed_at"]), 1e-8)], "x", ms=9, mew=2, color=color)
    for j, (label, value) in enumerate(pinned.items()):
        ax_l.axhline(value, color="k", ls="--" if j == 0 else "-.", lw=0.8, label=f"{label} = {value:.3f}")
    ax_s.axhline(spread_below, color="k", ls="--", lw=0.8, label=f"collapse: spread < {spread_below:g}")
    ax_l.set_yscale("symlog", linthresh=1.0)
    ax_l.set_ylim(bottom=0)
    ax_l.set_xlabel("step")
    ax_l.set_ylabel("batch-hard loss of the step's batch")
    ax_s.set_yscale("log")
    ax_s.set_xlabel("step")
    ax_s.set_ylabel("probe spread ÷ spread at step 0")
    ax_s.set_title("×: caught by the monitor; a spread of 0 is drawn at 1e-8", fontsize=9)
    ax_l.legend(fontsize=7)
    ax_s.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _spread_at(trace: dict, step: int) -> float:
    return trace["spread"][trace["steps"].index(step)]
