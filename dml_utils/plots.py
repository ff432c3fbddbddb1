"""Figures: one savefig helper, and the plots several notebooks share (each study's own figures are in
its folder, ``dml_utils.studies.<study>.figures``)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from .config import Config

sns.set_theme(context="notebook", style="whitegrid")


def savefig(fig, cfg: Config, what: str, dpi: int = 110) -> Path:
    """Save as ``<figures_dir>/NN_slug_what.png`` (build/<profile>/figures for smoke and paper)."""
    if not what or "/" in what or what.endswith(".png"):
        raise ValueError(f"'what' names the figure (e.g. 'tsne'), got {what!r}")
    path = cfg.figures_dir / f"{cfg.notebook}_{what}.png"
    tmp = path.with_name(f".{path.name}.partial")
    try:
        cfg.figures_dir.mkdir(parents=True, exist_ok=True)
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
        tmp.replace(path)  # whole or not at all: a failed save leaves no half-written figure
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise OSError(
            err.errno,
            f"figure {path.name} could not be written to {path.parent} ({err.strerror or err}); free space there "
            f"(df -h {path.parent}) or make the folder writable, then run the notebook again",
        ) from err
    return path


def scatter_panels(
    points: dict[str, np.ndarray], labels, title: str, method: str = "t-SNE", columns: int | None = None
):
    """2-D projections coloured by class; ``labels`` is one array for all panels or a dict per panel."""
    per_panel = labels if isinstance(labels, dict) else {k: labels for k in points}
    classes = np.unique(np.concatenate(list(per_panel.values())))
    cols = columns or len(points)
    rows = int(np.ceil(len(points) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 4.2 * rows), squeeze=False)
    palette = dict(zip(classes, sns.color_palette("tab10", n_colors=len(classes))))
    for ax, (name, p) in zip(axes.flat, points.items()):
        lab = per_panel[name]
        for c in classes:
            colour = palette[c]
            m = lab == c
            ax.scatter(p[m, 0], p[m, 1], s=4, color=colour, label=str(c))
        ax.set_title(name)
        ax.set_xlabel(f"{method} 1")
        ax.set_ylabel(f"{method} 2")
        ax.set_xticks([])
        ax.set_yticks([])
    axes.flat[cols - 1].legend(title="class", markerscale=3, fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def grouped_bars(df, group: str, bars: list[str], title: str, ylabel: str, labels: list[str] | None = None):
    """Mean ± std over rows of each column in ``bars``: one panel per value of ``group``, each with
    its own y scale (the groups' losses may differ by orders of magnitude)."""
    groups = list(dict.fromkeys(df[group]))
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups) + 1, 3.8), squeeze=False)
    for ax, g in zip(axes[0], groups):
        sub = df[df[group] == g]
        means = [sub[c].mean() for c in bars]
        stds = [sub[c].std(ddof=1) if len(sub) > 1 else 0 for c in bars]
        ax.bar(
            range(len(bars)),
            means,
            0.7,
            yerr=stds,
            capsize=3,
            color=[f"C{i}" for i in range(len(bars))],
            label=labels or bars,
        )
        ax.set_xticks(range(len(bars)), [])
        ax.set_title(str(g), fontsize=10)
        ax.set_ylabel(ylabel)
    axes[0][-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def interval_points(ax, rows) -> None:
    """Draw each row of ``rows`` (index: its label, top first; columns mean, lo, hi) as a point with
    its 95 % interval, and a line at 0: filled when the interval misses 0 (told apart), else hollow."""
    y = np.arange(len(rows))[::-1]
    for yi, (_, r) in zip(y, rows.iterrows()):
        clear = np.isfinite(r["lo"]) and (r["lo"] > 0 or r["hi"] < 0)
        ax.errorbar(
            r["mean"],
            yi,
            xerr=[[r["mean"] - r["lo"]], [r["hi"] - r["mean"]]],
            fmt="o",
            color="C0",
            mfc="C0" if clear else "white",
            capsize=3,
        )
    ax.axvline(0, color="k", lw=0.8, ls="--")
    ax.set_yticks(y, list(rows.index))


def difference_intervals(table, title: str, xlabel: str = "difference (a − b)"):
    """One panel per metric: each comparison's mean paired difference with its 95 % interval, and
    a line at 0 (no difference); a point whose interval misses 0 is drawn filled, else hollow.
    ``xlabel`` names the difference (e.g. "Yukawa − contrastive")."""
    metrics = list(dict.fromkeys(table["metric"]))
    comparisons = list(dict.fromkeys(table["comparison"]))
    fig, axes = plt.subplots(
        1, len(metrics), figsize=(3.3 * len(metrics) + 1.6, 0.5 * len(comparisons) + 2.0), sharey=True, squeeze=False
    )
    for ax, metric in zip(axes[0], metrics):
        interval_points(ax, table[table["metric"] == metric].set_index("comparison").reindex(comparisons))
        ax.set_title(metric, fontsize=10)
        ax.set_xlabel(xlabel)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
