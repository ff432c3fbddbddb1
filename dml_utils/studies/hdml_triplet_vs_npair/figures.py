"""The figures of notebook 02 (HDML, triplet vs N-pair): what only this study draws (the shared ones and ``savefig``
are in ``dml_utils.plots``)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from dml_utils import plots  # noqa: F401  (sets the seaborn theme every figure of the notebooks shares)
from dml_utils.plots import difference_intervals  # noqa: F401  (shared; the notebook calls it from here)

CURVE_PANELS = {
    "J_m": (r"$J_m$ (real tuples + weight decay)", True),
    "J_syn": (r"$J_{syn}$ (synthetic tuples)", True),
    "J_gen": (r"$J_{gen} = J_{recon} + J_{soft}$", True),
    "hardness": (r"hardness $\lambda = e^{-\alpha/J_{avg}}$", False),
    "balance": (r"balance $e^{-\beta/J_{gen}}$ (weight of $J_m$)", False),
}


def hdml_curves(curves, title: str, block: int | None = None, keys=tuple(CURVE_PANELS)):
    """Block means of HDML's losses and weights against the step, mean over seeds, one line per
    method, one panel per entry of ``keys`` (CURVE_PANELS: J_m with and without HDML, J_syn, J_gen,
    and the two weights of eq. 1 and eq. 2). A figure answers one question: pass the panels it needs."""
    panels = [(key, *CURVE_PANELS[key]) for key in keys]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.0 * len(panels) + 0.5, 3.6), squeeze=False)
    axes = axes[0]
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


def scale_hardness(curves, title: str, block: int):
    """λ over the steps (it holds for a block, so drawn as steps), mean over seeds (a band: min to
    max), one line per scale and loss; lines that coincide are told apart by width and marker; the
    graded zone 0.05 < λ < 0.95 shaded."""
    fig, ax = plt.subplots(figsize=(8.5, 4.2))
    ax.axhspan(0.05, 0.95, color="0.92", zorder=0, label="graded: 0.05 < λ < 0.95")
    markers = "sodv^<>"
    for i, ((scale, loss), sub) in enumerate(curves.groupby(["scale", "loss"], sort=False)):
        g = sub.groupby("step")["hardness"]
        mean, lo, hi = g.mean(), g.min(), g.max()
        x = np.append(mean.index.to_numpy(), mean.index[-1] + block)  # the last block's λ holds to its end
        ls = "--" if scale.startswith("proxy") else "-"
        ax.plot(
            x,
            np.append(mean.values, mean.values[-1]),
            drawstyle="steps-post",
            ls=ls,
            lw=4.0 if i == 0 else 1.8,
            marker=markers[i % len(markers)],
            markevery=list(range(len(mean))),
            color=f"C{i}",
            label=f"{loss}, {scale}",
        )
        ax.fill_between(
            x,
            np.append(lo.values, lo.values[-1]),
            np.append(hi.values, hi.values[-1]),
            step="post",
            color=f"C{i}",
            alpha=0.15,
            lw=0,
        )
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(f"step (λ is fixed for each block of {block} steps: J_avg is the previous block's mean)")
    ax.set_ylabel(r"hardness $\lambda = e^{-\alpha/J_{avg}}$")
    ax.legend(fontsize=7, loc="upper right")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def ratio_histograms(table, title: str, bins: int = 40):
    """Per loss, the cumulative share of tuples against d⁻/d⁺ for each kind of negative (log x, a
    line at 1: the hardest a negative can be without violating the tuple). Cumulative rather than a
    histogram: eq. 1 puts many negatives at exactly 1, a spike that squashed every other bar; here
    it is a step whose height is that share. ``bins`` is kept for callers; it is not used."""
    losses = list(dict.fromkeys(table["loss"]))
    lo, hi = max(table["ratio"].min(), 1e-2) * 0.9, table["ratio"].max() * 1.1
    fig, axes = plt.subplots(1, len(losses), figsize=(5.5 * len(losses), 3.8), squeeze=False)
    for ax, loss in zip(axes[0], losses):
        sub = table[table["loss"] == loss]
        for kind, part in sub.groupby("kind", sort=False):
            r = np.sort(part["ratio"].to_numpy())
            at_one = float(np.mean(np.isclose(r, 1.0, rtol=1e-4)))
            ax.step(
                np.concatenate([[lo], r]),
                np.arange(len(r) + 1) / len(r),
                where="post",
                label=f"{kind} (median {np.median(r):.2f}; at 1: {at_one:.0%}; n={len(r)})",
            )
        ax.axvline(1.0, color="k", ls="--", lw=1, label="d⁻ = d⁺")
        ax.set_xscale("log")
        ax.set_xlim(lo, hi)
        ticks = [t for t in (0.1, 0.25, 0.5, 1, 2, 4, 8) if lo <= t <= hi]
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.xaxis.set_minor_locator(plt.NullLocator())
        ax.set_xlabel("d(anchor, negative) / d(anchor, positive)")
        ax.set_ylabel("share of tuples at or below")
        ax.set_title(loss, fontsize=10)
        ax.legend(fontsize=7, loc="upper left")
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
