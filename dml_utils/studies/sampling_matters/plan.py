"""Study 04's plan of runs: the sampler × loss grid, as specs and the task that carries one out
(``grid_run``), with what a run executes and nothing else.

A run's cache key holds the source of this module and what it imports (dml_utils.runs), not the
study's analysis: editing a claim or a table in ``study`` retrains nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pytorch_metric_learning.losses import MarginLoss, TripletMarginLoss

from dml_utils.class_disjoint import RetrievalData
from dml_utils.collapse import cone_collapsed
from dml_utils.config import Config
from dml_utils.losses import SquaredHingeContrastiveLoss
from dml_utils.retrieval_run import train_and_evaluate
from dml_utils.runs import RunSpec
from dml_utils.sampling import NegativeSamplingMiner

LOSSES = ("contrastive", "triplet", "margin")


def build_loss(name: str, cfg: Config, num_classes: int):
    """contrastive: y·D² + (1 − y)[α − D]²₊; triplet ℓ2: [D_ap − D_an + α]₊; margin: (α + y(D − β))₊ with
    β learnable per class (PML indexes β by label, so ``num_classes`` = largest label + 1)."""
    if name == "contrastive":
        return SquaredHingeContrastiveLoss(pos_margin=0.0, neg_margin=cfg.contrastive_margin)
    if name == "triplet":
        return TripletMarginLoss(margin=cfg.triplet_margin)
    if name == "margin":
        return MarginLoss(margin=cfg.margin_alpha, beta=cfg.margin_beta, learn_beta=True, num_classes=num_classes)
    raise ValueError(f"unknown loss {name!r}; use one of {list(LOSSES)}")


def build_miner(strategy: str, cfg: Config) -> NegativeSamplingMiner:
    return NegativeSamplingMiner(strategy, cutoff=cfg.cutoff, nonzero_loss_cutoff=cfg.nonzero_loss_cutoff)


def run(cfg: Config, data: RetrievalData, sampler: str, loss: str, seed: int, progress: bool = False) -> dict[str, Any]:
    loss_fn = build_loss(loss, cfg, num_classes=int(data.y_train.max()) + 1)
    miner = build_miner(sampler, cfg)
    r = train_and_evaluate(
        cfg,
        data,
        loss_fn,
        miner,
        seed,
        cfg.iterations,
        desc=f"{sampler} × {loss} seed {seed}",
        track=True,
        progress=progress,
        loss_lr=cfg.beta_lr,
    )
    s = r["summary"]
    last = r["curve"][-1]
    r["summary"] = {
        "sampler": sampler,
        "loss": loss,
        **s,
        "final_train_loss": float(np.mean(r["step_loss"][-cfg.eval_every :])),
        "val_loss_with_miner": last["val_loss_with_miner"],
        "collapsed": cone_collapsed(s["val_sim_diff"]),
        "pairs_dropped": int(miner.pairs_dropped),
        "beta_mean": float(loss_fn.beta.detach().mean()) if loss == "margin" else float("nan"),
    }
    return r


def grid_plan(cfg: Config) -> list[RunSpec]:
    """Every sampler × loss × seed."""
    return [
        RunSpec.of(cfg.notebook, "grid", seed, {"sampler": s, "loss": loss}, iterations=cfg.iterations)
        for s in cfg.samplers
        for loss in cfg.losses
        for seed in cfg.seeds
    ]


def grid_run(cfg: Config, data: RetrievalData, spec: RunSpec) -> dict[str, Any]:
    """One run of the grid plan (the runner's task)."""
    return run(cfg, data, spec["sampler"], spec["loss"], spec.seed)
