"""The figures of notebook 01 (circle vs triplet): what only this study draws (the shared ones and ``savefig``
are in ``dml_utils.plots``)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from dml_utils import plots  # noqa: F401  (sets the seaborn theme every figure of the notebooks shares)


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


def transfer_panels(curves: dict[tuple[str, int], list[dict]], margin: float, title: str):
    """Per variant (mean over seeds ± 1 std), against iterations from the untrained net (0) on: the
    unseen images' MAP@R minus its step-0 value, with the margin shaded around 0; the same for the
    backbone's trunk features; the participation ratio of the unseen images' embedding."""
    import pandas as pd

    rows = []
    for (variant, seed), curve in curves.items():
        for r in curve:
            rows.append(
                {
                    "variant": variant,
                    "seed": seed,
                    "iteration": r["iteration"],
                    "embedding": r["unseen_map_at_r"] - curve[0]["unseen_map_at_r"],
                    "trunk": r.get("unseen_features_map_at_r", np.nan)
                    - curve[0].get("unseen_features_map_at_r", np.nan),
                    "dims": r["unseen_participation_ratio"],
                }
            )
    df = pd.DataFrame(rows)
    panels = (
        ("embedding", "unseen MAP@R − untrained (embedding)"),
        ("trunk", "unseen MAP@R − untrained (trunk features)"),
        ("dims", "participation ratio (dimensions)"),
    )
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for ax, (col, label) in zip(axes, panels):
        for i, (name, sub) in enumerate(df.groupby("variant", sort=False)):
            g = sub.groupby("iteration")[col]
            m, s = g.mean(), g.std(ddof=1).fillna(0)
            ax.plot(m.index, m.values, "-o", ms=2.5, color=f"C{i}", label=str(name))
            ax.fill_between(m.index, m - s, m + s, color=f"C{i}", alpha=0.12)
        if col != "dims":
            ax.axhspan(-margin, margin, color="grey", alpha=0.2, lw=0, label=f"±{margin:g} (the margin)")
            ax.axhline(0, color="black", lw=0.8)
        ax.set_xlabel("iteration (0: untrained)")
        ax.set_ylabel(label)
    axes[0].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
