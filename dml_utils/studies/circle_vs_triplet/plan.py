"""Study 01's plan of runs: the main comparison (circle vs triplet, with and without the miner)
and the margin sweep, as specs and the task that carries one out (``run_spec``), with what a run
executes and nothing else.

A run's cache key holds the source of this module and what it imports (dml_utils.runs), not the
study's analysis: editing a claim or a table in ``study`` retrains nothing.
"""

from __future__ import annotations

from typing import Any

from pytorch_metric_learning.losses import CircleLoss, TripletMarginLoss
from pytorch_metric_learning.miners import MultiSimilarityMiner

from dml_utils.class_disjoint import RetrievalData
from dml_utils.config import Config
from dml_utils.retrieval_run import train_and_evaluate
from dml_utils.runs import RunSpec

LOSSES = ("circle", "triplet")


MINERS = ("multisimilarity", "none")


def build_loss(name: str, margin: float, gamma: float = 80.0):
    """PML's CircleLoss (cosine similarity; m = margin) or TripletMarginLoss (L2-normalized)."""
    if not margin > 0:
        raise ValueError(f"margin must be > 0, got {margin}")
    if name == "circle":
        return CircleLoss(m=margin, gamma=gamma)
    if name == "triplet":
        return TripletMarginLoss(margin=margin)
    raise ValueError(f"unknown loss {name!r}; use one of {list(LOSSES)}")


def build_miner(name: str):
    if name == "multisimilarity":
        return MultiSimilarityMiner(epsilon=0.1)
    if name == "none":
        return None
    raise ValueError(f"unknown miner {name!r}; use one of {list(MINERS)}")


def run(
    cfg: Config,
    data: RetrievalData,
    loss_name: str,
    margin: float,
    seed: int,
    iterations: int,
    track: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Train one model with ``loss_name`` at ``margin`` behind the configured miner."""
    loss_fn, miner = build_loss(loss_name, margin, cfg.circle_gamma), build_miner(cfg.miner)
    r = train_and_evaluate(
        cfg,
        data,
        loss_fn,
        miner,
        seed,
        iterations,
        desc=f"{loss_name} m={margin} seed {seed}",
        track=track,
        progress=progress,
    )
    r["summary"] = {"loss": loss_name, "margin": margin, **r["summary"]}
    return r


def main_plan(cfg: Config) -> list[RunSpec]:
    """Both losses at their configured margins, every seed, tracked every eval_every iterations."""
    margins = {"circle": cfg.circle_margin, "triplet": cfg.triplet_margin}
    return [
        RunSpec.of(cfg.notebook, "main", seed, {"loss": loss, "margin": margins[loss]}, iterations=cfg.iterations)
        for loss in LOSSES
        for seed in cfg.seeds
    ]


def sweep_plan(cfg: Config) -> list[RunSpec]:
    """Every margin of each loss's sweep × every sweep seed, untracked."""
    return [
        RunSpec.of(cfg.notebook, "sweep", s, {"loss": loss, "margin": m}, iterations=cfg.sweep_iterations)
        for loss, margins in (("circle", cfg.circle_margins), ("triplet", cfg.triplet_margins))
        for m in margins
        for s in cfg.sweep_seeds
    ]


def run_spec(cfg: Config, data: RetrievalData, spec: RunSpec, progress: bool = False) -> dict[str, Any]:
    """One run of the main comparison (tracked) or of the sweep."""
    track = spec.kind == "main"
    return run(cfg, data, spec["loss"], spec["margin"], spec.seed, spec["iterations"], track=track, progress=progress)
