"""Study 05 (report 002: batch-hard triplet loss on HPatches-style patches): the collapse map,
progressive growth, and why collapse happens; notebook 05's steps.

A class is one patch (one scene point); its samples are its 16 views (ref, e1…t5), so a P × K
batch holds P patches × K of their views. Descriptors come from a small ConvNet on 32 × 32
patches (65-pixel patches area-downsampled, each standardized to zero mean and unit std, as
L2-Net and HardNet feed theirs). The method (a ``Setting`` trained by ``run`` with the collapse
monitor, progressive growth, the gradient near collapse) lives in ``batch_hard``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dml_utils.batch_hard import Setting, gradient_norms_near_collapse
from dml_utils.collapse import LN2, spread_collapsed  # noqa: F401 (notebook 05 reads bhc.LN2)
from dml_utils.hpatches import IMAGE_TYPES, PatchSequence
from dml_utils.memo import cached_call
from dml_utils.models import SmallConvNet
from dml_utils.runs import run_plan
from dml_utils.seeds import seed_everything

from .parameters import VARIANTS
from .plan import (  # noqa: F401 (tests read them as study.<name>)
    PATCH_INPUT,
    PatchData,
    _scores,
    _setting,
    descriptors,
    make_setting,
    map_plan,
    map_run,
    map_settings,
    patch_arrays,
    progressive_plan,
    progressive_spec_run,
    settle_plan,
    task_scores,
    variant_of,
)


def raw_pixel_descriptors(seqs: dict[str, PatchSequence], size: int = PATCH_INPUT) -> dict[str, dict[str, np.ndarray]]:
    """The raw-pixel baseline: each patch as the network sees it (32 px, standardized), flattened."""
    out = {}
    for name, s in seqs.items():
        x, _ = patch_arrays(seqs, [name], size)
        d = x.reshape(s.n, len(IMAGE_TYPES), -1).numpy().astype(np.float64)
        out[name] = {t: d[:, k] for k, t in enumerate(IMAGE_TYPES)}
    return out


# ---------------------------------------------------------------- notebook 05's steps (parameters.py)
AT_VALUE = 1e-2  # "stuck at m" / "≈ 0.693": the last step's loss (drawn before that step's update) within 1e-2
FULLY_COLLAPSED = 1e-3  # ... of the runs whose final spread is below 1e-3 of step 0 (descriptors equal to 3 digits)
VARIANT_LABELS = {
    "plain": "hard margin, plain distance",
    "squared": "hard margin, squared distance",
    "soft": "soft margin, plain distance",
    "soft-squared": "soft margin, squared distance",
    "normalized": "hard margin, L2-normalized",
}


def _subset(seqs: dict[str, PatchSequence], n: int | None) -> dict[str, PatchSequence]:
    """The first ``n`` patches of every sequence (all when None)."""
    if n is None:
        return seqs
    return {name: PatchSequence(name, {t: p[:n] for t, p in s.patches.items()}) for name, s in seqs.items()}


def prepare(cfg) -> PatchData:
    """Training views and test sequences: HPatches (``data_root``, split ``split``) when given,
    else the synthetic release cut from scikit-image's photos (whole photos held out)."""
    from dml_utils import hpatches as hp
    from dml_utils.parameters import ConfigError

    if cfg.data_root is not None:
        train = hp.load_hpatches(cfg.data_root, cfg.split, "train")
        test = hp.load_hpatches(cfg.data_root, cfg.split, "test")
        train, test = _subset(train, cfg.n_patches), _subset(test, cfg.n_patches)
        source = f"HPatches release, benchmark split {cfg.split!r} (train / test parts of splits.json)"
        name = "hpatches"
    elif cfg.profile == "paper":
        raise ConfigError(
            "the paper profile runs on HPatches: set data_root to the folder holding hpatches-release/ (the 116 "
            "sequence folders) and splits.json from the hpatches-benchmark repository; without it use the "
            "default profile (patches cut from scikit-image's photos)"
        )
    else:
        photos_train = tuple(cfg.photos_train or hp.PHOTOS_TRAIN)
        photos_test = tuple(cfg.photos_test or hp.PHOTOS_TEST)
        seqs, splits = cached_call(
            hp.synthetic_release,
            photos_train + photos_test,
            cfg.n_patches,
            cfg.release_seed,
            cfg.max_side,
            test_photos=photos_test,
        )
        train = {n: seqs[n] for n in splits["a"]["train"]}
        test = {n: seqs[n] for n in splits["a"]["test"]}
        source = (
            f"HPatches-style sequences cut from scikit-image's photos (release seed {cfg.release_seed}): "
            f"train photos {', '.join(photos_train)}; test photos {', '.join(photos_test)}"
        )
        name = "synthetic-hpatches"
    x, y = patch_arrays(train, list(train), cfg.patch_size)
    map_seqs, table_seqs = _subset(test, cfg.map_patches), _subset(test, cfg.table_patches)
    lengths = {n: s.n for n, s in table_seqs.items()}
    prov = {
        "name": name,
        "source": source,
        "n_train_sequences": len(train),
        "n_test_sequences": len(test),
        "n_train_patches": int(len(np.unique(y))),
        "n_train_views": int(len(y)),
        "n_test_patches": int(sum(s.n for s in test.values())),
        "n_map_patches": int(sum(s.n for s in map_seqs.values())),
        "n_table_patches": int(sum(lengths.values())),
    }
    return PatchData(
        x,
        y,
        map_seqs,
        table_seqs,
        hp.verification_pairs(lengths, cfg.verification_pairs),
        hp.informative(table_seqs),
        prov,
    )


def run_collapse_map(cfg, data: PatchData, progress: bool = True):
    """Every cell of ``map_settings`` × seed: a row each (outcome, step caught, final loss and
    spread, matching mAP on the map's test patches; the low-lr and Hermans runs also get the
    retrieval table's scores, prefixed "table_"). Returns (rows, traces by (group, label, seed))."""
    import pandas as pd

    done = run_plan(
        map_plan(cfg),
        map_run,
        cfg=cfg,
        data=data,
        desc="collapse map",
        progress=progress,
    )
    traces = {(spec["group"], _setting(spec).label(), spec.seed): d["trace"] for spec, d in done.items()}
    return pd.DataFrame([_with_end_loss(d, cfg.pinned_window) for d in done.values()]), traces


def _with_end_loss(done: dict, window: int) -> dict:
    """A run's row with "end_loss": the mean of its last ``window`` step losses, the loss its class is
    read from (``classify_runs``). The last step's loss alone flickers across the collapse value on
    small batches (measured: a horizon pilot's 8 × 2 run at lr 0.005 read diverged at step 400 and
    below m at step 600 by its last step's loss, below m at both by the mean of 20)."""
    return {**done["row"], "end_loss": float(np.mean(done["trace"]["loss"][-window:]))}


def run_settled(cfg, data: PatchData, progress: bool = True):
    """The runs of ``settle_plan`` (cells of the map run ``settle_factor`` × longer), as rows like the
    map's (group "settled"), and their traces keyed like the map's."""
    import pandas as pd

    plan = settle_plan(cfg)
    if not plan:
        return pd.DataFrame(), {}
    done = run_plan(plan, map_run, cfg=cfg, data=data, desc=f"{cfg.settle_factor}× longer", progress=progress)
    traces = {(spec["group"], _setting(spec).label(), spec.seed): d["trace"] for spec, d in done.items()}
    return pd.DataFrame([_with_end_loss(d, cfg.pinned_window) for d in done.values()]), traces


def settle_table(grid, settled, base, margin: float):
    """Each run of ``settled`` beside the map's run of the same cell and seed (its first steps): the
    class of both (``classify_runs``). Returns (pairs: one row per run with "short" and "long"
    classes, transitions: per cell, how many runs went from one class to another)."""
    import pandas as pd

    cols = ["pk", "lr", "variant", "seed"]
    if settled is None or not len(settled):
        return pd.DataFrame(columns=[*cols, "short", "long", "map_short", "map_long"]), pd.DataFrame()
    short = grid[grid["group"] == "grid"].assign(short=lambda g: classify_runs(g, base, margin))
    long = settled.assign(long=classify_runs(settled, base, margin))
    pairs = long[[*cols, "long", "map_mean"]].merge(
        short[[*cols, "short", "map_mean"]], on=cols, how="left", suffixes=("_long", "_short"), validate="one_to_one"
    )
    missing = pairs["short"].isna()
    if missing.any():
        raise ValueError(
            f"{int(missing.sum())} longer runs have no run of the map with the same cell and seed (first: "
            f"{pairs[missing].iloc[0][cols].to_dict()}): settle_cells must be cells of the map"
        )
    pairs = pairs.rename(columns={"map_mean_short": "map_short", "map_mean_long": "map_long"})
    pairs = pairs[[*cols, "short", "long", "map_short", "map_long"]]
    pairs["move"] = pairs["short"] + " → " + pairs["long"]
    transitions = pd.crosstab([pairs["pk"], pairs["lr"], pairs["variant"]], pairs["move"])
    return pairs, transitions


def _settled_claim(pairs, short_steps: int, long_steps: int) -> dict[str, str]:
    """Whether the map's outcomes are settled at its length: the share of runs whose class changes when the
    same run goes on ``long_steps / short_steps`` × as long. A share claimed to be 0, decided as the
    growth rule: *not reproduced* when a class changed (the exact interval excludes 0), *reproduced*
    when none did and the exact (Clopper–Pearson) 95 % upper bound is below 0.1 (≥ 36 runs),
    *inconclusive* otherwise (``_share_of_none``)."""
    claim = f"(ours) the map's outcomes are settled at {short_steps} steps ({long_steps // short_steps}× longer changes none)"
    why = (
        "the claim is a share of 0: not reproduced = a run's class changed (the exact interval excludes 0), "
        "reproduced = none changed and the exact 95 % upper bound is below 0.1 (≥ 36 runs); the longer runs "
        f"continue the map's own (same seed, weights and batches), so a change happened after step {short_steps}"
    )
    if not len(pairs):
        return {
            "claim": claim,
            "kind": "replication",
            "reported": "not tested",
            "ours": "no cell run longer in this profile",
            "verdict": "inconclusive",
            "why": why,
        }
    changed = pairs[pairs["short"] != pairs["long"]]
    moves = changed["move"].value_counts()
    cells = pairs[["pk", "lr"]].drop_duplicates()
    ours = (
        f"{len(changed)}/{len(pairs)} runs changed class between step {short_steps} and step {long_steps} "
        f"({len(cells)} cells × {pairs['variant'].nunique()} variants)"
        + (": " + ", ".join(f"{m} {n}" for m, n in moves.items()) if len(moves) else "")
    )
    text, verdict = _share_of_none(len(changed), len(pairs))
    return {
        "claim": claim,
        "kind": "replication",
        "reported": "not tested",
        "ours": f"{ours}; {text}",
        "verdict": verdict,
        "how_if_not": "reversed",  # runs changed class: the exception the rule denies
        "why": why,
    }


def _adam_claim(adam: dict[str, list[float]], iterations: int) -> dict[str, str]:
    """Our "squared distance stops pushing near collapse" under Adam: the squared/plain ratio of
    Adam's update norms when the batch has shrunk 1000-fold, read at the map's length."""
    ratio = {
        t: (
            adam["squared_update"][i] / adam["plain_update"][i],
            adam["squared_gradient"][i] / adam["plain_gradient"][i],
        )
        for i, t in enumerate(adam["step"])
    }
    at = max((t for t in ratio if t <= iterations), default=min(ratio))
    ours = (
        f"squared/plain norm of Adam's update: {ratio[min(ratio)][0]:.2f} at step {min(ratio)} (scale 1), "
        + ", ".join(f"{ratio[t][0]:.3g} at step {t}" for t in sorted(ratio) if t != min(ratio))
        + f" (scale 1e-3 from step {ADAM_DESCENT + 1}); the raw gradients' ratio there is {ratio[at][1]:.3g}"
    )
    return {
        "claim": "(ours) under Adam, the optimizer of every run, the squared distance's push near collapse stays "
        f"weaker than the plain one's within a run ({iterations} steps)",
        "kind": "replication",
        "reported": "not tested",
        "ours": ours,
        "verdict": "reproduced" if ratio[at][0] < 0.1 else "not reproduced",
        "how_if_not": "reversed",
        "why": f"descriptors taken as the parameters Adam moves, shrunk 1000-fold in {ADAM_DESCENT} steps (as fast as "
        f"the map's collapses) and then held; reproduced = the update ratio at step {at} is below 0.1 (squared's push "
        "at least 10× weaker); Adam rescales a shrinking gradient only as its running mean of squares forgets",
    }


def _share_of_none(hits: int, n: int) -> tuple[str, str]:
    """A claim that a share is 0 (a rule with no exception), from ``hits`` of ``n``: the share with its
    exact (Clopper–Pearson) 95 % interval, and the verdict: *not reproduced* when the interval excludes
    0 (any hit), *reproduced* when its upper bound is below 0.1 (no hit in ≥ 36), else *inconclusive*."""
    from dml_utils.stats import share_interval

    ci = share_interval(hits, n)
    text = f"share {ci['share']:.2f}, exact 95 % CI [{ci['lo']:.2f}, {ci['hi']:.2f}] (n={ci['n']})"
    if ci["lo"] > 0:
        return text, "not reproduced"
    return text, "reproduced" if ci["hi"] < 0.1 else "inconclusive"


def run_progressive(cfg, data: PatchData, progress: bool = True):
    """Progressive batch growth along ``schedule`` at ``lr`` for every progressive variant × seed,
    and the same variant started at the schedule's last P × K ("large start": same lr, seed and
    initial weights), both for ``progressive_iterations`` steps and scored on the retrieval table's
    patches. Returns (rows, traces by (group, variant, seed))."""
    import pandas as pd

    done = run_plan(
        progressive_plan(cfg),
        progressive_spec_run,
        cfg=cfg,
        data=data,
        desc="progressive vs large start",
        progress=progress,
    )
    traces = {(spec["start"], spec["variant"], spec.seed): d["trace"] for spec, d in done.items()}
    return pd.DataFrame([_with_end_loss(d, cfg.pinned_window) for d in done.values()]), traces


def baselines(cfg, data: PatchData):
    """The untrained network (each seed's initial weights, as every run starts) and raw pixels, on
    the retrieval table's test patches and the map's."""
    import pandas as pd

    rows = []
    for seed in cfg.seeds:
        seed_everything(seed)
        model = SmallConvNet(embedding_size=cfg.embedding_size, in_channels=1, image_size=cfg.patch_size)
        rows.append({"model": "untrained", "seed": seed, **cached_call(_scores, model, data, cfg, False, table=True)})
    rows.append({"model": "raw pixels", "seed": None, **cached_call(raw_pixel_scores, cfg, data)})
    return pd.DataFrame(rows)


def raw_pixel_scores(cfg, data: PatchData) -> dict[str, float]:
    """Raw pixels as descriptors: matching mAP on the map's test patches, the three tasks on the table's."""
    from dml_utils import hpatches as hp

    out = {f"map_{k}": v for k, v in hp.matching_map(raw_pixel_descriptors(data.map_seqs, cfg.patch_size)).items()}
    out.update(task_scores(raw_pixel_descriptors(data.table_seqs, cfg.patch_size), data, cfg, "table_"))
    return out


def retrieval_table(grid, prog, base, cfg):
    """Mean ± std over seeds of the three tasks for the baselines, the large-start runs, Hermans'
    setting and the progressive runs (the rows that carry "table_" scores)."""
    import pandas as pd

    parts = [base.assign(model=base["model"])]
    with_table = grid[grid["table_matching_mean"].notna()] if "table_matching_mean" in grid else grid.iloc[:0]
    parts.append(
        with_table.assign(
            model=with_table["group"]
            + " "
            + with_table["pk"]
            + " "
            + with_table["variant"]
            + " lr "
            + with_table["lr"].map("{:g}".format)
        )
    )
    parts.append(
        prog.assign(
            model=prog["group"] + " " + prog["pk"] + " " + prog["variant"] + " lr " + prog["lr"].map("{:g}".format)
        )
    )
    df = pd.concat(parts, ignore_index=True)
    cols = [c for c in df.columns if c.startswith("table_")]
    agg = df.groupby("model", sort=False)[cols].agg(["mean", "std"])
    out = pd.DataFrame(index=agg.index)
    for c in cols:
        m, s = agg[(c, "mean")], agg[(c, "std")]
        out[c.removeprefix("table_")] = [
            f"{a:.3f}" if not np.isfinite(b) else f"{a:.3f} ± {b:.3f}" for a, b in zip(m, s)
        ]
    out["collapsed"] = [
        f"{int(g['collapsed'].sum())}/{len(g)}" if "collapsed" in g and g["collapsed"].notna().all() else "—"
        for _, g in df.groupby("model", sort=False)
    ]
    return out


def triplet_count_table(pk_list=((2, 2), (3, 4), (8, 2), (16, 4), (32, 4), (32, 8))):
    """Valid triplets (a, p, n) in a P × K batch: a brute-force count against P·K²(K−1)(P−1) and
    the report's K²(K−1)(S−1), S = P."""
    import pandas as pd

    from dml_utils.sampling import pk_triplet_count, valid_triplet_count

    rows = []
    for p, k in pk_list:
        brute = valid_triplet_count(np.repeat(np.arange(p), k)) if p * k <= 128 else None
        rows.append(
            {
                "P": p,
                "K": k,
                "brute force": brute,
                "P·K²(K−1)(P−1)": pk_triplet_count(p, k),
                "report: K²(K−1)(S−1)": k * k * (k - 1) * (p - 1),
            }
        )
    return pd.DataFrame(rows)


TRIPLET_CLASSES = (10, 30, 100, 300, 1000, 3000, 10_000)


def no_valid_triplet_curves(cfg) -> dict[int, dict[str, list[float]]]:
    """P(a uniformly random batch of B holds no valid triplet) for C = 10 … 10,000 classes, closed
    form and Monte Carlo (``mc_trials`` batches), per batch size of ``triplet_batches``."""
    from dml_utils.sampling import no_valid_triplet_monte_carlo, no_valid_triplet_probability

    out = {}
    for b in cfg.triplet_batches:
        out[b] = {
            "classes": list(TRIPLET_CLASSES),
            "closed_form": [no_valid_triplet_probability(b, c) for c in TRIPLET_CLASSES],
            "monte_carlo": [no_valid_triplet_monte_carlo(b, c, cfg.mc_trials, seed=b * 7 + c) for c in TRIPLET_CLASSES],
        }
    return out


GRADIENT_SCALES = (1.0, 0.3, 0.1, 0.03, 0.01, 1e-3, 1e-4, 0.0)


ADAM_DESCENT = 15  # steps in which the batch shrinks 1000-fold: the map's collapses are caught by step 10 to 15
ADAM_STEPS = (1, 16, 50, 1000, 5000)  # steps since the shrinking began at which the Adam update is read


def adam_updates_near_collapse(
    lr: float,
    margin: float = 0.5,
    descent: int = ADAM_DESCENT,
    steps=ADAM_STEPS,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    seed: int = 0,
) -> dict[str, list[float]]:
    """The gradient argument under the optimizer the runs use. A fixed random batch (as
    ``gradient_norms_near_collapse``) shrinks from scale 1 to 1e-3 in ``descent`` steps and then stays
    there; its descriptors are taken as the parameters Adam moves (torch's Adam: ``betas``, ``eps``, no
    weight decay). Returns, at each of ``steps`` (steps since the shrinking began), the batch's scale,
    the raw gradient norm and the norm of Adam's update, for plain and squared distance. Adam divides
    by a running root mean square of past gradients, so a gradient that shrinks is rescaled only as
    fast as that average forgets (β2 = 0.999: about a thousand steps).

    Once the scale is held, every gradient is the same, and Adam's moments after h more equal
    gradients g have a closed form (m ← β1ʰ m + (1 − β1ʰ) g, v ← β2ʰ v + (1 − β2ʰ) g²): written out
    here so that 5,000 steps cost one step; tests/test_batch_hard_collapse.py checks it against
    ``torch.optim.Adam`` step by step."""
    from dml_utils.losses import batch_hard_triplet

    b1, b2 = betas
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(32, 16, generator=g, dtype=torch.float64)
    labels = torch.arange(8).repeat_interleave(4)
    scales = [10 ** (-3 * min(t, descent) / descent) for t in range(descent + 1)]
    out: dict[str, list[float]] = {"step": [int(t) for t in steps], "scale": []}
    for squared in (False, True):
        name = "squared" if squared else "plain"
        miner, loss = batch_hard_triplet(margin=margin, squared=squared)
        grads = []
        for sc in scales:
            e = (z * sc).requires_grad_(True)
            (grad,) = torch.autograd.grad(loss(e, labels, miner(e, labels)), e)
            grads.append(grad)
        m, v, rows = torch.zeros_like(z), torch.zeros_like(z), {}
        for t, grad in enumerate(grads, start=1):  # Adam's step t sees the gradient at scales[t - 1]
            m, v = b1 * m + (1 - b1) * grad, b2 * v + (1 - b2) * grad**2
            rows[t] = (m, v, grad)
        updates, norms, at = [], [], []
        for t in steps:
            if t <= len(grads):
                mt, vt, gt = rows[t]
            else:  # the scale is held: t − len(grads) more steps of the last gradient
                h, (m0, v0, gt) = t - len(grads), rows[len(grads)]
                mt, vt = b1**h * m0 + (1 - b1**h) * gt, b2**h * v0 + (1 - b2**h) * gt**2
            step = lr * (mt / (1 - b1**t)) / ((vt / (1 - b2**t)).sqrt() + eps)
            updates.append(float(step.norm()))
            norms.append(float(gt.norm()))
            at.append(scales[min(t, len(scales)) - 1])
        out[f"{name}_update"], out[f"{name}_gradient"], out["scale"] = updates, norms, at
    return out


def gradient_study(cfg) -> dict[str, Any]:
    """Why collapse stays collapsed: the gradient's norm as a fixed batch shrinks to one point
    (plain vs squared distance), its norm at identical descriptors for every variant, and the same
    shrinking batch under Adam at ``cfg.lr`` (``adam_updates_near_collapse``)."""
    from dml_utils.losses import batch_hard_triplet

    norms = gradient_norms_near_collapse(GRADIENT_SCALES, margin=cfg.margin)
    labels = torch.arange(8).repeat_interleave(4)
    at_identical = {}
    for name, (soft, squared, normalize) in VARIANTS.items():
        miner, loss = batch_hard_triplet(margin=cfg.margin, soft=soft, squared=squared, normalize=normalize)
        e = torch.ones(32, 16, dtype=torch.float64).mul_(0.3).requires_grad_(True)
        value = loss(e, labels, miner(e, labels))
        (g,) = torch.autograd.grad(value, e)
        at_identical[name] = {"loss": float(value.detach()), "gradient_norm": float(g.norm())}
    adam = adam_updates_near_collapse(cfg.lr, cfg.margin)
    return {"near_collapse": norms, "at_identical": at_identical, "adam": adam}


def _paired(grid, unit: list[str], pick_a: dict, pick_b: dict, value: str = "collapsed", with_units: bool = False):
    """Values of ``value`` for rows matching ``pick_a`` and ``pick_b``, paired on ``unit`` columns
    (and, ``with_units``, the ``unit`` values of each pair)."""

    def side(pick):
        g = grid
        for col, want in pick.items():
            g = g[g[col].isin(want if isinstance(want, (list, tuple, set)) else [want])]
        return g.set_index(unit)[value].astype(float)

    a, b = side(pick_a), side(pick_b)
    for s in (a, b):
        if s.index.duplicated().any():
            raise ValueError(f"two runs share {unit} = {s.index[s.index.duplicated()][0]}: they cannot be paired")
    both = a.index.intersection(b.index)
    if with_units:
        return a.loc[both].to_numpy(), b.loc[both].to_numpy(), both
    return a.loc[both].to_numpy(), b.loc[both].to_numpy()


SHRUNK = 0.1  # a final probe spread below this share of step 0's counts as collapsed, caught by a check or not
COLLAPSED_LEVEL = 0.05  # matching mAP of descriptors as useless as collapsed ones (equal descriptors score 0.001 here)
RUN_CLASSES = ("trained", "collapsed", "diverged", "failed")
RETRIEVAL_LEVELS = ("at the collapsed level", "below the untrained net", "at or above the untrained net")


def classify_runs(runs, base, margin: float):
    """The outcome of every run of the map, from its training signals first, then its retrieval:
    *collapsed* = the monitor said so, or the probe batch's final spread is below SHRUNK of step 0's
    (a collapse between two checks, or a slow one); *diverged* = not collapsed, and the loss it ended
    in ("end_loss", the mean of its last ``pinned_window`` losses: ``_with_end_loss``; "final_loss",
    the last step's, for rows recorded without it) is above the collapse value (``margin``, or ln 2
    for the soft margin: the hardest negative ends closer than the hardest positive, worse than
    collapse); *failed* = neither, yet its matching
    mAP is below the untrained network's of its seed (training made its initial weights worse);
    *trained* = the rest. A list in the order of ``runs``."""
    untrained = _untrained_map(base)
    out = []
    for _, r in runs.iterrows():
        at = LN2 if str(r["variant"]).startswith("soft") else margin
        if bool(r["collapsed"]) or r["final_spread"] < SHRUNK:
            out.append("collapsed")
        elif _end_loss(r) > at:
            out.append("diverged")
        elif r["map_mean"] < untrained.get(int(r["seed"]), -np.inf):
            out.append("failed")
        else:
            out.append("trained")
    return out


def class_along(trace: dict, steps: list[int], margin: float, soft: bool = False, window: int = 1) -> list[str]:
    """A run's class from its training signals alone at each of ``steps`` (the trace of ``map_run``):
    *collapsed* once the monitor flagged it or the probe's spread at the last check by then is below
    SHRUNK of step 0's; *diverged* when the mean of its last ``window`` step losses is above the
    collapse value (m, or ln 2 with the soft margin); else *below* (below the collapse value: trained
    or failed, which only its retrieval could tell). A step beyond the run is left out."""
    at = LN2 if soft else margin
    checks, spread = np.asarray(trace["steps"]), np.asarray(trace["spread"])
    out = []
    for step in [s for s in steps if 1 <= s <= len(trace["loss"])]:
        last = np.searchsorted(checks, step, side="right") - 1
        caught = trace["collapsed_at"] is not None and trace["collapsed_at"] <= step
        if caught or (last >= 0 and spread[last] < SHRUNK):
            out.append("collapsed")
        elif float(np.mean(trace["loss"][max(0, step - window) : step])) > at:
            out.append("diverged")
        else:
            out.append("below")
    return out


def horizon_table(traces: dict, steps: list[int], margin: float, window: int = 1):
    """Per step of ``steps``: how many runs of ``traces`` (name → trace, a name holding "soft" for the
    soft margin) are in a class there other than the class they end in (``class_along``); the
    horizon where that count reaches 0 and stays there is where the runs' classes have settled.
    Returns (per-run classes as a DataFrame, run × step; the counts as a Series by step)."""
    import pandas as pd

    classes = pd.DataFrame(
        {name: class_along(t, steps, margin, "soft" in name, window) for name, t in traces.items()}, index=steps
    ).T
    moved = classes.ne(classes.iloc[:, -1], axis=0).sum().rename("runs not yet in their end class")
    return classes, moved


def _end_loss(r) -> float:
    end = r.get("end_loss")
    return float(r["final_loss"] if end is None or np.isnan(end) else end)


HORIZON_PILOT = Path("results") / "pilots" / "05_batch_hard_collapse.horizon.json"  # scripts/pilot_05_horizon.py


def horizon_pilot(root: Path):
    """The horizon pilot's count of runs not yet in their end class, by step (rows) and loss window
    (columns), with its seeds and run count; None (with why) without the file."""
    import pandas as pd

    path = Path(root) / HORIZON_PILOT
    if not path.exists():
        return None, f"no {HORIZON_PILOT} (python scripts/pilot_05_horizon.py makes it)"
    doc = json.loads(path.read_text())
    table = pd.DataFrame(doc["not_in_end_class"]).rename_axis("step")
    runs = len(next(iter(doc["classes"].values())))
    return table, f"{HORIZON_PILOT}: {runs} runs of seeds {doc['seeds']}, {doc['steps']} steps each"


def _untrained_map(base) -> dict[int, float]:
    rows = base[base["model"] == "untrained"] if len(base) and "map_mean" in base else base.iloc[:0]
    return {int(s): float(m) for s, m in zip(rows["seed"], rows["map_mean"])}


def retrieval_levels(runs, base) -> list[str]:
    """Each run's matching mAP on the map's test patches, as one of RETRIEVAL_LEVELS (the untrained
    network of the same seed is the ruler)."""
    untrained = _untrained_map(base)
    return [
        RETRIEVAL_LEVELS[0]
        if m < COLLAPSED_LEVEL
        else RETRIEVAL_LEVELS[1]
        if m < untrained.get(int(seed), -np.inf)
        else RETRIEVAL_LEVELS[2]
        for m, seed in zip(runs["map_mean"], runs["seed"])
    ]


def outcome_table(grid, base, margin: float):
    """The map with each run's class and retrieval level, and their confusion table (rows: the
    class; columns: the retrieval level; one row for the monitor alone)."""
    import pandas as pd

    runs = grid.assign(outcome=classify_runs(grid, base, margin), retrieval=retrieval_levels(grid, base))
    table = pd.crosstab(runs["outcome"], runs["retrieval"]).reindex(
        index=[c for c in RUN_CLASSES if c in set(runs["outcome"])], columns=list(RETRIEVAL_LEVELS), fill_value=0
    )
    monitor = runs[runs["collapsed"].astype(bool)]["retrieval"].value_counts()
    table.loc["(monitor flagged)"] = [int(monitor.get(level, 0)) for level in RETRIEVAL_LEVELS]
    return runs, table


def _outcome_claim(runs) -> dict[str, str]:
    """The classes against retrieval: every run at the collapsed level is classed collapsed or
    diverged, and no run classed trained is below the untrained network."""
    low = runs["retrieval"] == RETRIEVAL_LEVELS[0]
    missed_by_classes = int((low & ~runs["outcome"].isin(["collapsed", "diverged"])).sum())
    missed_by_monitor = int((low & ~runs["collapsed"].astype(bool)).sum())
    counts = runs["outcome"].value_counts()
    ours = (
        ", ".join(f"{c} {int(counts.get(c, 0))}" for c in RUN_CLASSES)
        + f" of {len(runs)} runs; {int(low.sum())} ended at the collapsed level (matching mAP < {COLLAPSED_LEVEL:g}): "
        f"the classes miss {missed_by_classes} of them, the collapse monitor alone {missed_by_monitor}"
    )
    return {
        "claim": "(ours) every run whose descriptors are useless is classed collapsed or diverged from its training "
        "signals alone",
        "kind": "replication",
        "reported": "collapse shown by the loss",
        "ours": ours,
        "verdict": "reproduced" if missed_by_classes == 0 else "not reproduced",
        "how_if_not": "reversed",
        "why": f"reproduced = no run at the collapsed level (matching mAP < {COLLAPSED_LEVEL:g}) is classed trained or "
        f"failed; collapsed = the monitor, or a final spread below {SHRUNK:g} of step 0; diverged = a last loss above "
        "the collapse value",
    }


def _by_both_criteria(row: dict[str, str], cell, variants: dict[str, str]) -> dict[str, str]:
    """``row`` (a collapse claim decided by the monitor's criterion: the descriptors' spread) with
    the other criterion beside it: per variant, the runs whose matching mAP ends at the collapsed
    level, and the mean matching mAP. A variant that is "not collapsed" by spread but useless by
    retrieval shows here."""
    if "map_mean" not in cell:
        return row
    parts = []
    for label, variant in variants.items():
        m = cell[cell["variant"] == variant]["map_mean"].to_numpy(dtype=float)
        parts.append(f"{label} {int((m < COLLAPSED_LEVEL).sum())}/{len(m)} (matching mAP {np.mean(m):.3f})")
    return {
        **row,
        "ours": row["ours"]
        + f"; by retrieval (matching mAP < {COLLAPSED_LEVEL:g}, the collapsed level): "
        + ", ".join(parts),
        "why": row["why"]
        + "; the verdict is the spread criterion's (the collapse monitor), the retrieval one is given beside it",
    }


def _same_size_pair(grid) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """Two P × K of the grid with the same batch size P·K and different K, the larger K first (the
    largest such batch size), or None."""
    by_size: dict[int, set[tuple[int, int]]] = {}
    for p, k in zip(grid["p"], grid["k"]):
        by_size.setdefault(int(p) * int(k), set()).add((int(p), int(k)))
    sizes = [b for b, pks in by_size.items() if len({k for _, k in pks}) > 1]
    if not sizes:
        return None
    pks = sorted(by_size[max(sizes)], key=lambda pk: pk[1])
    return pks[-1], pks[0]


def collapse_claim(
    runs,
    factor: str,
    a,
    b,
    blocks: list[str],
    claim: str,
    reported: str,
    note: str = "",
    labels: tuple[str, str] | None = None,
) -> dict[str, str]:
    """A claims row for "runs with ``factor`` = ``a`` collapse more often than with ``b``": each run
    at ``a`` paired with the run at ``b`` of the same seed and the same ``blocks`` (the other
    factors, held fixed), and the exact McNemar test on the discordant pairs
    (``results.binary_claim``). Pooling the pairs of several cells tests "no difference in any
    cell": a cell is a block, never a replicate, and only seeds replicate. A row with no pair says
    so (inconclusive)."""
    from dml_utils.claims import binary_claim, of_kind

    name_a, name_b = labels or (_level(factor, a), _level(factor, b))
    if a == b:
        return {
            "claim": claim,
            "kind": "replication",
            "reported": reported,
            "ours": f"the map holds one value of {factor} only ({name_a})",
            "verdict": "inconclusive",
            "why": "nothing to compare in this profile's grid",
        }
    x, y, units = _paired(runs, [*blocks, "seed"], {factor: a}, {factor: b}, with_units=True)
    cells = len({u[:-1] for u in units}) if blocks else 1
    held = f"pairs: the same seed and the same {' × '.join(blocks)} ({cells} cells)" if blocks else "paired by seed"
    if len(x) == 0:
        return {
            "claim": claim,
            "kind": "replication",
            "reported": reported,
            "ours": f"the map holds no runs at {name_a} and {name_b} with the other factors equal",
            "verdict": "inconclusive",
            "why": "nothing to compare in this profile's grid",
        }
    row = of_kind("replication", binary_claim(claim, reported, name_a, x > 0, name_b, y > 0, "collapsed", why=held))
    if note:
        row["ours"] += f"; {note}"
    return row


def _level(factor: str, value) -> str:
    if factor == "lr":
        return f"lr {value:g}"
    return f"{factor.upper()} {value}" if factor in ("p", "k") else str(value)


def claims(cfg, counts, novalid, grads, grid, prog, base, settled=None, ruler=None):
    """The claims table of notebook 05 (every verdict from the numbers passed in; ``settled``: the
    rows of ``run_settled``, the map's cells run longer). ``ruler`` (``ruler``): the ranking of
    progressive growth against the large start on matching mAP reads *no resolution* when its proxy
    cannot rank."""
    from dml_utils.claims import beats_baselines_claim, claims_table, interval_claim, with_id
    from dml_utils.ruler import judged

    rows = []
    brute = counts.dropna(subset=["brute force"])
    formula_ok = bool((brute["brute force"] == brute["P·K²(K−1)(P−1)"]).all())
    report_ok = bool((brute["brute force"] == brute["report: K²(K−1)(S−1)"]).all())
    eg = brute.iloc[-1]
    rows.append(
        with_id(
            "pk-batch-triplet-count",
            {
                "claim": "a P × K batch (S = P classes × K ≥ 2) guarantees K²(K−1)(S−1) valid triplets",
                "kind": "identity",  # a count, checked by brute force
                "reported": "K²(K−1)(S−1)",
                "ours": f"brute force over {len(brute)} batches equals P·K²(K−1)(P−1) for all: {formula_ok}; equals the report's "
                f"formula: {report_ok} (P {int(eg['P'])} × K {int(eg['K'])}: {int(eg['brute force'])} vs the report's "
                f"{int(eg['report: K²(K−1)(S−1)'])})",
                "verdict": "reproduced" if report_ok else "not reproduced",
                "how_if_not": "reversed",
                "why": "the report's count is the triplets of one class's anchors; the batch has P classes, so P times as many",
            },
        )
    )
    worst = max(abs(m - c) for cur in novalid.values() for m, c in zip(cur["monte_carlo"], cur["closed_form"]))
    b0 = min(novalid)
    at = dict(zip(novalid[b0]["classes"], novalid[b0]["closed_form"]))
    big = max(at)
    rows.append(
        with_id(
            "random-batch-no-triplet",
            {
                "claim": "uniformly random batches hold no valid triplet when the classes are many",
                "kind": "identity",  # a closed form, checked by Monte Carlo
                "reported": "argued, no number",
                "ours": f"P(no valid triplet), batch {b0}: "
                + ", ".join(f"C={c}: {p:.3f}" for c, p in at.items())
                + f"; Monte Carlo ({cfg.mc_trials} batches) within {worst:.3f} of the closed form",
                "verdict": "reproduced" if at[big] > 0.5 and worst < 5 / np.sqrt(cfg.mc_trials) else "not reproduced",
                "how_if_not": "not observed",
                "why": f"reproduced = more than half of random batches of {b0} have no valid triplet at C = {big} and the "
                f"Monte Carlo agrees with the closed form within 5/√trials",
            },
        )
    )
    grid = grid.copy()
    main = grid[grid["group"].isin(["grid", "extra", "low lr"])]
    pks = sorted({(p, k) for p, k in zip(main["p"], main["k"])}, key=lambda pk: (pk[0] * pk[1], pk[1]))
    small, large = f"{pks[0][0]}×{pks[0][1]}", f"{pks[-1][0]}×{pks[-1][1]}"
    g = main[main["group"] == "grid"]
    hard = f"hard margin, {' and '.join(cfg.distance_variants)} distance"
    rows.append(
        with_id(
            "large-batch-collapses",
            collapse_claim(
                g,
                "pk",
                large,
                small,
                ["lr", "variant"],
                f"large batches with large K collapse, small batches do not ({large} vs {small}, {hard})",
                "collapse at large P × K",
            ),
        )
    )
    ps, ks = sorted(set(g["p"])), sorted(set(g["k"]))
    rows.append(
        with_id(
            "more-classes-collapse",
            collapse_claim(
                g,
                "p",
                ps[-1],
                ps[0],
                ["k", "lr", "variant"],
                f"(ours) at a fixed K, more classes per batch collapse more (P {ps[-1]} vs {ps[0]})",
                "not separated from K",
            ),
        )
    )
    rows.append(
        with_id(
            "more-views-collapse",
            collapse_claim(
                g,
                "k",
                ks[-1],
                ks[0],
                ["p", "lr", "variant"],
                f"(ours) at a fixed P, more views per class collapse more (K {ks[-1]} vs {ks[0]})",
                "large K collapses",
            ),
        )
    )
    same_size = _same_size_pair(g)
    if same_size:
        (p1, k1), (p2, k2) = same_size
        both = g[g["pk"].isin([f"{p1}×{k1}", f"{p2}×{k2}"])]
        rows.append(
            with_id(
                "same-size-larger-k-collapses",
                collapse_claim(
                    both,
                    "pk",
                    f"{p1}×{k1}",
                    f"{p2}×{k2}",
                    ["lr", "variant"],
                    f"(ours) at one batch size ({p1 * k1} images), the larger K collapses more ({p1}×{k1} vs {p2}×{k2})",
                    "large K collapses",
                ),
            )
        )
    lrs = sorted(set(main["lr"]))
    rows.append(
        with_id(
            "low-lr-avoids-collapse",
            collapse_claim(
                main,
                "lr",
                lrs[-1],
                lrs[0],
                ["pk", "variant"],
                f"a low learning rate avoids collapse (lr {lrs[-1]:g} vs {lrs[0]:g}, at every P × K the map holds both)",
                "low lr avoids it",
            ),
        )
    )
    if {"plain", "squared"} <= set(cfg.distance_variants):
        rows.append(
            with_id(
                "squared-collapses-more",
                collapse_claim(
                    g,
                    "variant",
                    "squared",
                    "plain",
                    ["pk", "lr"],
                    "squared Euclidean distance collapses more than plain Euclidean",
                    "squared collapses more",
                ),
            )
        )
    for variant, value, name in (
        ("soft", LN2, "ln 2 ≈ 0.693"),
        ("plain", cfg.margin, f"the margin m = {cfg.margin:g}"),
    ):
        hit = grid[(grid["variant"] == variant) & (grid["final_spread"] < FULLY_COLLAPSED)]
        if len(hit) == 0:
            verdict, ours = (
                "inconclusive",
                (f"no {variant} run ended fully collapsed ({int((grid['variant'] == variant).sum())} runs)"),
            )
        else:
            off = (hit["final_loss"] - value).abs().max()
            verdict = "reproduced" if off < AT_VALUE else "not reproduced"
            ours = (
                f"{len(hit)} {variant} runs ended with spread < {FULLY_COLLAPSED:g} of step 0 (max "
                f"{hit['final_spread'].max():.2g}); their last loss is at most {off:.1e} from {value:.6f}"
            )
        claim = (
            "the soft-margin loss collapses at ≈ 0.693"
            if variant == "soft"
            else "a collapsed hard-margin run has its loss stuck at the margin, all descriptors equal"
        )
        rows.append(
            with_id(
                "soft-loss-at-ln2" if variant == "soft" else "hard-loss-at-margin",
                {
                    "claim": claim,
                    "kind": "identity",  # the loss at identical descriptors, read off the runs that collapsed
                    "reported": "0.693" if variant == "soft" else "loss = margin",
                    "ours": ours,
                    "verdict": verdict,
                    "how_if_not": "not observed",
                    "why": f"reproduced = the last loss of every run that ended fully collapsed is within "
                    f"{AT_VALUE:g} of {name}; inconclusive when none did",
                },
            )
        )
    if len(prog):
        final = f"{cfg.schedule[-1][0]}×{cfg.schedule[-1][1]}"
        grew = prog[prog["group"] == "progressive"]
        reached = f"{int((grew['final_pk'] == final).sum())}/{len(grew)} progressive runs reached {final}"
        rows.append(
            with_id(
                "progressive-avoids-collapse",
                collapse_claim(
                    prog,
                    "group",
                    "large start",
                    "progressive",
                    ["variant"],
                    f"progressive growth avoids the collapse of a large start (lr {cfg.lr:g}, "
                    f"{cfg.progressive_iterations} iterations each)",
                    "progressive growth without collapse",
                    note=reached,
                ),
            )
        )
        rows.append(with_id("growth-below-margin-safe", _growth_claim(grew)))
        a, b = _paired(
            prog, ["variant", "seed"], {"group": "progressive"}, {"group": "large start"}, "table_matching_mean"
        )
        rows.append(
            with_id(
                "progressive-better-descriptors",
                judged(
                    interval_claim(
                        "progressive growth gives better descriptors than the large start (matching mAP)",
                        "not reported",
                        a - b,
                        "hpatches_map",
                        ours=f"progressive {np.mean(a):.3f} vs large start {np.mean(b):.3f} ({reached})",
                        label="mAP difference",
                    ),
                    ruler,
                ),
            )
        )
    hi_lr = max(cfg.lr_grid)
    if "normalized" in set(main["variant"]) and "plain" in set(main["variant"]):
        cell = main[(main["pk"] == large) & (main["lr"] == hi_lr)]
        row = collapse_claim(
            cell,
            "variant",
            "plain",
            "normalized",
            [],
            f"(ours) L2-normalized descriptors collapse less than raw ones ({large}, lr {hi_lr:g}, plain distance)",
            "normalization 'does not avoid collapse'",
            labels=("raw", "normalized"),
        )
        rows.append(
            with_id(
                "normalized-collapses-less", _by_both_criteria(row, cell, {"raw": "plain", "normalized": "normalized"})
            )
        )
    near = grads["near_collapse"]
    i, one = near["scale"].index(1e-3), near["scale"].index(1.0)
    zero = max(v["gradient_norm"] for v in grads["at_identical"].values())
    ratio, ratio1 = near["squared"][i] / near["plain"][i], near["squared"][one] / near["plain"][one]
    rows.append(
        with_id(
            "collapse-stationary",
            {
                "claim": "(ours) collapse is a stationary point, and the squared distance stops pushing before it",
                "kind": "identity",  # gradients computed at and near identical descriptors
                "reported": "not tested",
                "ours": f"largest gradient norm at identical descriptors over {len(grads['at_identical'])} variants: {zero:.1e}; "
                f"squared/plain gradient ratio {ratio1:.2g} at the batch's scale, {ratio:.2g} at 1e-3 of it",
                "verdict": "reproduced" if zero == 0 and ratio < 1e-2 * ratio1 else "not reproduced",
                "how_if_not": "reversed",
                "why": "reproduced = exactly 0 at identical descriptors, and shrinking the batch 1000-fold shrinks the "
                "squared/plain gradient ratio at least 100-fold",
            },
        )
    )
    if "adam" in grads:
        rows.append(with_id("adam-squared-push-weaker", _adam_claim(grads["adam"], cfg.iterations)))
    if "map_mean" in grid and len(base) and "map_mean" in base:
        runs, _ = outcome_table(grid, base, cfg.margin)
        rows.append(with_id("classes-catch-useless-runs", _outcome_claim(runs)))
        if cfg.settle_cells:
            pairs, _ = settle_table(grid, settled, base, cfg.margin)
            rows.append(
                with_id("map-settled", _settled_claim(pairs, cfg.iterations, cfg.iterations * cfg.settle_factor))
            )
    untrained = base[base["model"] == "untrained"].sort_values("seed")
    raw = float(base[base["model"] == "raw pixels"]["table_matching_mean"].iloc[0])
    trained = {}
    scored = grid[grid["table_matching_mean"].notna()] if "table_matching_mean" in grid else grid.iloc[:0]
    for _, r in scored.groupby(["group", "pk", "lr", "variant"], sort=False):
        if r["table_matching_mean"].notna().all() and len(r) == len(untrained):
            g0 = r.iloc[0]
            trained[f"{'Hermans ' if g0['group'] == 'hermans' else ''}{g0['pk']} {g0['variant']} lr {g0['lr']:g}"] = (
                r.sort_values("seed")["table_matching_mean"].to_numpy()
            )
    if trained:
        rows.append(
            with_id(
                "beats-baselines",
                beats_baselines_claim(
                    "batch-hard training at a learning rate that does not collapse beats the baselines "
                    "(matching mAP on the test photos)",
                    trained,
                    untrained["table_matching_mean"].to_numpy(),
                    raw,
                    "hpatches_map",
                ),
            )
        )
    return claims_table(rows)


def _first_growth(growth: str) -> int | None:
    """The step of the first growth in a "8×2 at step 0; 16×4 at step 17" record (None: never grew)."""
    steps = [int(part.rsplit(" ", 1)[1]) for part in growth.split("; ")[1:]]
    return steps[0] if steps else None


def _growth_claim(grew) -> dict[str, str]:
    """The report's rule: once the loss is below the collapse value, a grown batch does not collapse.
    Per progressive run that grew at least once: did it collapse at or after its first growth? The
    claim is that the share is 0, a rule with no exception: *not reproduced* when a grown run
    collapsed (the exact interval of the share then excludes 0), *reproduced* when the exact
    (Clopper–Pearson) 95 % upper bound of the share is below 0.1 (at least 36 grown runs, none
    collapsed), *inconclusive* otherwise (or when no run grew)."""
    claim = "once the loss is below the collapse value, growing the batch does not bring collapse"
    first = [_first_growth(g) for g in grew["growth"]]
    after = [
        bool(c) and at is not None and f is not None and at >= f
        for c, at, f in zip(grew["collapsed"], grew["collapsed_at"], first)
    ]
    grown = [i for i, f in enumerate(first) if f is not None]
    hits = [after[i] for i in grown]
    where = "; ".join(
        f"{grew.iloc[i]['variant']} seed {grew.iloc[i]['seed']} at step {int(grew.iloc[i]['collapsed_at'])} "
        f"(grew at step {first[i]})"
        for i in grown
        if after[i]
    )
    ours = f"{len(grown)}/{len(grew)} progressive runs grew; {sum(hits)} of them collapsed after growing" + (
        f": {where}" if where else ""
    )
    why = (
        "the claim is a share of 0: not reproduced = a grown run collapsed (the exact interval excludes 0), "
        "reproduced = the exact 95 % upper bound below 0.1 (≥ 36 grown runs, none collapsed)"
    )
    if not grown:
        return {
            "claim": claim,
            "kind": "replication",
            "reported": "the risk of collapse disappears below the margin",
            "ours": ours,
            "verdict": "inconclusive",
            "why": "no progressive run grew; " + why,
        }
    text, verdict = _share_of_none(sum(hits), len(hits))
    ours += f"; {text}"
    return {
        "claim": claim,
        "kind": "replication",
        "reported": "the risk of collapse disappears below the margin",
        "ours": ours,
        "verdict": verdict,
        "how_if_not": "reversed",
        "why": why,
    }


def traces_at(traces: dict, pk, lr: float, seed: int) -> dict[str, dict]:
    """The traces of every variant run at ``pk`` and ``lr`` with ``seed``, by variant name
    (keys of ``run_collapse_map``'s traces are (group, setting label, seed))."""

    out = {}
    for v in VARIANTS:
        soft, squared, normalize = VARIANTS[v]
        label = Setting(int(pk[0]), int(pk[1]), float(lr), soft, squared, normalize).label()
        for (group, lab, s), t in traces.items():
            if s == seed and lab == label:
                out[v] = t
    return out


def progressive_pairs(cfg, prog_traces: dict, seed: int) -> dict[str, dict]:
    """For the figure: each progressive variant's trace beside its large start's (same lr, seed)."""
    out = {}
    for v in cfg.progressive_variants:
        out[f"progressive {v}"] = prog_traces[("progressive", v, seed)]
        out[f"large start {v} (P{cfg.schedule[-1][0]}×K{cfg.schedule[-1][1]})"] = prog_traces[("large start", v, seed)]
    return out


# ---------------------------------------------------------------- before / after the patch data's fix
def before_after(cfg, provenance: dict[str, Any], grid, base, claims):
    """This run beside the committed one on the first patch layout (every physical point two labels;
    ``results.first_layout_results``): the data's size, the share of the map's runs that collapsed
    per learning rate, the untrained net's and the map's mean matching mAP, and every verdict. None
    (with why) at another profile or without that file."""
    import pandas as pd

    from dml_utils.claims import before_after as table
    from dml_utils.results import first_layout_results

    old, why = first_layout_results(cfg)
    if old is None:
        return None, why
    was = old["data"][0]
    rows = [
        (
            "data",
            what,
            was[key],
            provenance[key],
        )
        for what, key in (
            ("training patches (classes)", "n_train_patches"),
            ("training images", "n_train_views"),
            ("test patches", "n_test_patches"),
            ("test patches in the map's matching", "n_map_patches"),
        )
    ]
    old_grid, old_base = pd.DataFrame(old["collapse_map"]), pd.DataFrame(old["baselines"])
    for lr, share in grid[grid["group"] == "grid"].groupby("lr")["collapsed"].mean().items():
        was_share = old_grid[(old_grid["group"] == "grid") & (old_grid["lr"] == lr)]["collapsed"].mean()
        rows.append(("map: share collapsed", f"lr {lr:g}", float(was_share), float(share)))
    untrained = base[base["model"] == "untrained"]["map_mean"].mean()
    rows.append(
        (
            "matching mAP",
            "untrained net",
            float(old_base[old_base["model"] == "untrained"]["map_mean"].mean()),
            float(untrained),
        )
    )
    rows.append(
        ("matching mAP", "every run of the map", float(old_grid["map_mean"].mean()), float(grid["map_mean"].mean()))
    )
    return table(rows, old["claims"], claims), why


# ---------------------------------------------------------------- the ruler of the descriptor proxy
RULED_METRIC = "table_matching_mean"  # matching mAP on the retrieval table's test patches


def controls(cfg, data: PatchData, progress: bool = True):
    """The ruler's control runs (``plan_controls``): progressive growth trained 1/``control_fraction``
    of ``progressive_iterations``, and trained them all on shuffled labels, every seed."""
    from dml_utils.ruler import run_controls

    from .plan_controls import control_plan, control_run

    return run_controls(control_plan(cfg), control_run, cfg, data, progress)


def matching_ceiling(data: PatchData) -> float:
    """Matching mAP of perfect descriptors on the retrieval table's test patches: each patch one
    one-hot vector in every one of its views (1 unless two patches of a sequence share one)."""
    from dml_utils import hpatches as hp

    perfect = {
        name: {t: np.eye(len(seq.patches["ref"]), dtype=np.float32) for t in IMAGE_TYPES}
        for name, seq in data.table_seqs.items()
    }
    return hp.matching_map(perfect)["mean"]


def ruler(cfg, prog, base, ctrl, data: PatchData) -> dict[str, Any]:
    """The ruler (``dml_utils.ruler``) of matching mAP on the table's patches for the progressive
    comparison: floor (untrained net, raw pixels), ceiling, headroom of the best (start, variant),
    seed spread, both controls, the claim's margin."""
    from dml_utils.claims import EQUIVALENCE_MARGINS
    from dml_utils.ruler import Rule, measure_with_controls

    from .parameters import RULER

    scores = prog.assign(method=prog["group"] + ", " + prog["variant"])
    full = prog[(prog["group"] == "progressive") & (prog["variant"] == RULER.control_variant)]
    untrained = float(base.loc[base["model"] == "untrained", RULED_METRIC].mean())
    raw = float(base.loc[base["model"] == "raw pixels", RULED_METRIC].iloc[0])
    return measure_with_controls(
        scores,
        full,
        ctrl,
        (untrained, raw),
        matching_ceiling(data),
        Rule(EQUIVALENCE_MARGINS["hpatches_map"][0], RULER.headroom_margins, RULER.control_fraction),
        RULED_METRIC,
        f"progressive growth, {RULER.control_variant} distance",
    )


def format_ruler(found: dict[str, Any]) -> str:
    from dml_utils.ruler import format_ruler as _format

    return _format(found, "matching mAP, the table's test patches", "parameters.RULER and results.EQUIVALENCE_MARGINS")


SHORT_HORIZON = Path("results") / "before" / "05_batch_hard_collapse.horizon_50.json"  # the map at 50 steps


def before_horizon(cfg, grid, base, claims):
    """This run beside the committed default run whose map stopped at 50 steps, before the map was
    decided at a horizon where its classes have settled (issue 47): per learning rate of the grid,
    the share of runs in each class (``classify_runs``, each run by its state at its last step); the
    map's mean matching mAP; every verdict. None (with why) at another profile or without that file."""
    import pandas as pd

    from dml_utils.claims import before_after as table
    from dml_utils.results import earlier_results

    old, why = earlier_results(cfg, SHORT_HORIZON, "the 50-step map")
    if old is None:
        return None, why
    was = old["config"]["iterations"]
    old_grid, old_base = pd.DataFrame(old["collapse_map"]), pd.DataFrame(old["baselines"])
    then = old_grid[old_grid["group"] == "grid"].assign(c=lambda g: classify_runs(g, old_base, cfg.margin))
    now = grid[grid["group"] == "grid"].assign(c=lambda g: classify_runs(g, base, cfg.margin))
    rows = []
    for lr in sorted(set(now["lr"])):
        a, b = then[then["lr"] == lr]["c"], now[now["lr"] == lr]["c"]
        for c in RUN_CLASSES:
            rows.append((f"map, lr {lr:g}: share of runs", c, float((a == c).mean()), float((b == c).mean())))
    rows.append(
        ("matching mAP", "every run of the map", float(old_grid["map_mean"].mean()), float(grid["map_mean"].mean()))
    )
    labels = (f"map at {was} steps", f"now (map at {cfg.iterations} steps)")
    return table(rows, old["claims"], claims, labels), why
