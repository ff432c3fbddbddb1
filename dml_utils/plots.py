"""Figures: one savefig helper, and the plots the notebooks share."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from .collapse import SPREAD_BELOW
from .config import Config

sns.set_theme(context="notebook", style="whitegrid")


def savefig(fig, cfg: Config, what: str, dpi: int = 110) -> Path:
    """Save as ``<figures_dir>/NN_slug_what.png`` (build/<profile>/figures for smoke and paper)."""
    if not what or "/" in what or what.endswith(".png"):
        raise ValueError(f"'what' names the figure (e.g. 'tsne'), got {what!r}")
    cfg.figures_dir.mkdir(parents=True, exist_ok=True)
    path = cfg.figures_dir / f"{cfg.notebook}_{what}.png"
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


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


def smoothed_loss_panels(runs: dict[str, dict], smooth_fn, window: int, title: str):
    """Per loss: raw training loss faint, its moving average bold, and the validation loss at the
    evaluation points over all tuples and with the miner."""
    fig, axes = plt.subplots(1, len(runs), figsize=(5.5 * len(runs), 3.8), squeeze=False)
    for ax, (name, r) in zip(axes[0], runs.items()):
        steps = np.arange(1, len(r["step_loss"]) + 1)
        ax.plot(steps, r["step_loss"], color="C0", alpha=0.2, lw=0.8, label="train loss (raw, miner)")
        sm = smooth_fn(r["step_loss"], window)
        ax.plot(steps[len(steps) - len(sm) :], sm, color="C0", lw=2, label=f"train loss, moving average {window}")
        it = [c["iteration"] for c in r["curve"]]
        ax.plot(
            it, [c["val_loss_all_tuples"] for c in r["curve"]], "o-", color="C3", ms=3, label="val loss, all tuples"
        )
        ax.plot(
            it, [c["val_loss_with_miner"] for c in r["curve"]], "s--", color="C2", ms=3, label="val loss, with miner"
        )
        ax.set_xlabel("iteration")
        ax.set_ylabel("loss")
        ax.set_title(name)
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def band_curves(df, x: str, y: str, hue: str, title: str, xlabel: str, ylabel: str, marks: dict | None = None):
    """Mean over seeds with a ±1 std band, one line per ``hue``; optional vertical marks per hue."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for i, (name, sub) in enumerate(df.groupby(hue, sort=False)):
        g = sub.groupby(x)[y]
        m, s = g.mean(), g.std(ddof=1).fillna(0)
        ax.plot(m.index, m.values, "-o", ms=3, color=f"C{i}", label=str(name))
        ax.fill_between(m.index, m - s, m + s, color=f"C{i}", alpha=0.2)
        if marks and name in marks:
            ax.axvline(marks[name], color=f"C{i}", ls=":", lw=1.5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def margin_sweep_panels(
    sweep, title: str, report_range=(0.4, 1.0), inversion: float = 0.5, baselines: dict | None = None
):
    """MAP@R vs margin (mean ± std over seeds) for each loss, on held-out images of the training
    classes and on unseen classes (dotted lines: ``baselines``, {name: {metric: value}}); last panel:
    circle loss's mean same- and different-class cosine similarity vs margin."""
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.2))
    for ax, metric, what in (
        (axes[0], "val_map_at_r", "held-out images, training classes"),
        (axes[1], "map_at_r", "unseen classes"),
    ):
        ax.axvspan(*report_range, color="0.92", label="report's sweep")
        for i, (loss, sub) in enumerate(sweep.groupby("loss", sort=False)):
            g = sub.groupby("margin")[metric]
            ax.errorbar(
                g.mean().index,
                g.mean().values,
                yerr=g.std(ddof=1).fillna(0).values,
                fmt="-o",
                ms=4,
                capsize=3,
                color=f"C{i}",
                label=loss,
            )
        for k, (name, vals) in enumerate((baselines or {}).items()):
            ax.axhline(vals[metric], color="0.4", ls=[":", "-."][k % 2], lw=1, label=name)
        ax.axvline(inversion, color="k", ls="--", lw=1, label="circle: Δn = Δp at m = 0.5")
        ax.set_xlabel("margin (circle: m; triplet: α)")
        ax.set_ylabel(f"MAP@R, {what}")
        ax.set_title(f"Which margins give good embeddings? ({what.split(',')[0]})", fontsize=10)
        ax.legend(fontsize=7)
    ax = axes[2]
    circle = sweep[sweep["loss"] == "circle"]
    for col, label, c in (("sim_same", "same class", "C2"), ("sim_diff", "different class", "C3")):
        g = circle.groupby("margin")[col]
        ax.errorbar(
            g.mean().index,
            g.mean().values,
            yerr=g.std(ddof=1).fillna(0).values,
            fmt="-o",
            ms=4,
            capsize=3,
            color=c,
            label=f"{label} (unseen test)",
        )
        gv = circle.groupby("margin")[f"val_{col}"]
        ax.plot(gv.mean().index, gv.mean().values, "--", color=c, alpha=0.7, label=f"{label} (val, training classes)")
    ms = np.array(sorted(circle["margin"].unique()))
    ax.plot(ms, 1 - ms, ":", color="C2", label="Δp = 1 − m")
    ax.plot(ms, ms, ":", color="C3", label="Δn = m")
    ax.axvline(inversion, color="k", ls="--", lw=1)
    ax.set_xlabel("circle margin m")
    ax.set_ylabel("mean cosine similarity")
    ax.set_title("Circle loss: where do similarities settle?")
    ax.legend(fontsize=7)
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


def distance_law_panels(samples: dict[int, np.ndarray], density, title: str, bins: int = 80):
    """Left: Monte-Carlo histogram (density) and analytic q(d) per dimension n. Right: the same on a log
    density axis, where the tails show whether the law holds away from √2."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 4))
    grid = np.linspace(1e-3, 2 - 1e-3, 800)
    edges = np.linspace(0, 2, bins + 1)
    for ax, log in zip(axes, (False, True)):
        for i, (n, d) in enumerate(samples.items()):
            ax.hist(d, bins=edges, density=True, color=f"C{i}", alpha=0.3)
            ax.plot(grid, density(grid, n), color=f"C{i}", lw=1.5, label=f"n = {n}")
        ax.axvline(2**0.5, color="k", ls="--", lw=1, label="√2")
        ax.set_xlabel("distance d between two uniform points on the unit sphere")
        ax.set_ylabel("density q(d)" + (" (log)" if log else ""))
        if log:
            ax.set_yscale("log")
            ax.set_ylim(1e-4, 50)
        ax.legend(fontsize=8)
    axes[0].set_title("bars: Monte-Carlo, lines: analytic", fontsize=10)
    axes[1].set_title("the same, log scale", fontsize=10)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def loss_shape_panels(shapes, title: str):
    """One panel per loss: value for a positive pair (solid) and a negative pair (dotted) vs distance."""
    names = list(dict.fromkeys(shapes["loss"]))
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.4), sharex=True)
    for ax, name in zip(np.atleast_1d(axes), names):
        for kind, ls, c in (("positive", "-", "C0"), ("negative", ":", "C2")):
            s = shapes[(shapes["loss"] == name) & (shapes["pair"] == kind)]
            ax.plot(s["distance"], s["value"], ls, color=c, lw=2, label=f"{kind} pair")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("pair distance D")
        ax.set_ylabel("loss")
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def grid_heatmaps(grid, metrics: list[str], labels: list[str], title: str, baselines: dict | None = None):
    """One heat map per metric: sampler (rows) × loss (columns), mean over seeds, annotated; the
    baselines' values in the panel title."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 3.8))
    for ax, metric, label in zip(np.atleast_1d(axes), metrics, labels):
        table = grid.pivot_table(index="sampler", columns="loss", values=metric, aggfunc="mean", sort=False)
        sns.heatmap(table, annot=True, fmt=".3f", cmap="viridis", ax=ax, cbar_kws={"label": "MAP@R"})
        ax.tick_params(axis="y", rotation=0)
        base = ""
        if baselines:
            base = "\n" + ", ".join(f"{k} {v[metric]:.3f}" for k, v in baselines.items())
        ax.set_title(label + base, fontsize=9)
        ax.set_xlabel("loss")
        ax.set_ylabel("negative sampler")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def sampler_diagnostics(picked, gvar, title: str):
    """Left panels: distances of the negatives each sampler picks, per batch. Right: variance of the
    negative's gradient vs embedding noise σ, per sampler."""
    batches = list(dict.fromkeys(picked["batch"]))
    fig, axes = plt.subplots(1, len(batches) + 1, figsize=(5 * (len(batches) + 1), 3.8))
    edges = np.linspace(0, 2, 61)
    for ax, b in zip(axes, batches):
        for i, (s, sub) in enumerate(picked[picked["batch"] == b].groupby("sampler", sort=False)):
            ax.hist(sub["distance"], bins=edges, density=True, histtype="step", lw=1.8, color=f"C{i}", label=s)
        ax.set_title(f"sampled negatives: {b}", fontsize=10)
        ax.set_xlabel("anchor–negative distance D_an")
        ax.set_ylabel("density")
        ax.legend(fontsize=8)
    ax = axes[-1]
    for i, (s, sub) in enumerate(gvar.groupby("sampler", sort=False)):
        sub = sub[sub["sigma"] > 0]
        ax.plot(
            sub["sigma"],
            sub["gradient_variance"],
            "-o",
            ms=4,
            color=f"C{i}",
            label=f"{s} (mean D_an {sub['mean_d_an'].iloc[0]:.2f})",
        )
    ax.set_xscale("log")
    ax.set_xlabel("noise σ added to the negative's embedding")
    ax.set_ylabel("variance of ∂ℓ/∂f(x_n) (trace)")
    ax.set_title("gradient variance (trained ConvNet)", fontsize=10)
    ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


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


def collapse_share_heatmaps(table, title: str, rows: str = "pk", cols: str = "lr", panel: str = "variant"):
    """One heat map per ``panel`` value (e.g. hard/plain, hard/squared, soft/plain): the share of
    seeds that collapsed in each ``rows`` × ``cols`` cell, annotated."""
    panels = list(dict.fromkeys(table[panel]))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    for ax, name in zip(axes[0], panels):
        share = table[table[panel] == name].pivot_table(
            index=rows, columns=cols, values="collapsed", aggfunc="mean", sort=False
        )
        share = share.reindex(
            sorted(share.columns, reverse=True), axis=1
        )  # columns by value, rows as the table lists them
        sns.heatmap(
            share,
            ax=ax,
            vmin=0,
            vmax=1,
            annot=True,
            fmt=".2f",
            cmap="rocket_r",
            cbar=ax is axes[0][-1],
            cbar_kws={"label": "share of seeds collapsed"},
        )
        ax.set_title(str(name))
        ax.set_xlabel("learning rate")
        ax.set_ylabel("batch P × K")
    fig.suptitle(title)
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
    for i, (name, t) in enumerate(traces.items()):
        color = f"C{i % 10}"
        ax_l.plot(np.arange(1, len(t["loss"]) + 1), t["loss"], color=color, lw=1.2, label=name)
        ax_s.plot(t["steps"], np.maximum(t["spread"], 1e-8), "-o", ms=3, color=color, label=name)
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


def hdml_curves(curves, title: str, block: int | None = None):
    """Block means of HDML's losses and weights against the step, mean over seeds, one line per
    method: J_m (with and without HDML), J_syn, J_gen, and the two weights of eq. 1 and eq. 2."""
    panels = [
        ("J_m", r"$J_m$ (real tuples + weight decay)", True),
        ("J_syn", r"$J_{syn}$ (synthetic tuples)", True),
        ("J_gen", r"$J_{gen} = J_{recon} + J_{soft}$", True),
        ("hardness", r"hardness $\lambda = e^{-\alpha/J_{avg}}$", False),
        ("balance", r"balance $e^{-\beta/J_{gen}}$ (weight of $J_m$)", False),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.0 * len(panels), 3.6))
    for ax, (key, label, log) in zip(axes, panels):
        for i, (method, sub) in enumerate(curves.groupby("method", sort=False)):
            if key not in sub or sub[key].isna().all():
                continue
            m = sub.groupby("step")[key].mean()
            ax.plot(m.index, m.values, color=f"C{i}", ls="-" if "HDML" in method else "--", label=method)
        if block:
            ax.axvline(block, color="grey", lw=0.8, ls=":", label=f"first block ({block} steps) ends")
        ax.set_yscale("log" if log else "linear")
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("step")
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def ratio_histograms(table, title: str, bins: int = 40):
    """Per loss, histograms of d⁻/d⁺ for each kind of negative (log-spaced bins, a line at 1: the
    hardest a negative can be without violating the tuple)."""
    losses = list(dict.fromkeys(table["loss"]))
    edges = np.geomspace(max(table["ratio"].min(), 1e-2) * 0.9, table["ratio"].max() * 1.1, bins + 1)
    fig, axes = plt.subplots(1, len(losses), figsize=(5.5 * len(losses), 3.8), squeeze=False)
    for ax, loss in zip(axes[0], losses):
        sub = table[table["loss"] == loss]
        for kind, part in sub.groupby("kind", sort=False):
            r = part["ratio"].to_numpy()
            ax.hist(r, bins=edges, alpha=0.5, label=f"{kind} (median {np.median(r):.2f}, n={len(r)})")
        ax.axvline(1.0, color="k", ls="--", lw=1, label="d⁻ = d⁺")
        ax.set_xscale("log")
        ticks = [t for t in (0.1, 0.25, 0.5, 1, 2, 4, 8) if edges[0] <= t <= edges[-1]]
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.xaxis.set_minor_locator(plt.NullLocator())
        ax.set_xlabel("d(anchor, negative) / d(anchor, positive)")
        ax.set_ylabel("tuples")
        ax.set_title(loss, fontsize=10)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def metric_by_k(
    table,
    x: str,
    y: str,
    hue: str,
    title: str,
    mark: dict[str, float] | None = None,
    xlabel: str = "",
    ylabel: str = "",
):
    """A metric against a parameter (log x), one line per ``hue``, optional vertical marks."""
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for i, (name, sub) in enumerate(table.groupby(hue, sort=False)):
        m = sub.groupby(x)[y].agg(["mean", "std"])
        ax.errorbar(m.index, m["mean"], yerr=m["std"].fillna(0), color=f"C{i}", marker="o", ms=3, capsize=2, label=name)
    for j, (label, v) in enumerate((mark or {}).items()):
        ax.axvline(v, color="k", ls=["--", ":"][j % 2], lw=1, label=label)
    ax.set_xscale("log")
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or y)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
