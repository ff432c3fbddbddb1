"""The figures of notebook 04 (sampling matters): what only this study draws (the shared ones and ``savefig``
are in ``dml_utils.plots``)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from dml_utils import plots  # noqa: F401  (sets the seaborn theme every figure of the notebooks shares)


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
