"""Study 01's plan of runs: the main comparison (circle vs triplet, with and without the miner),
triplet behind a miner that drops triplets (the loss-gap test), the margin sweep and two circle
margins at the report's sweep length, as specs and the task that carries one out (``run_spec``), with what a run
executes and nothing else.

A run's cache key holds the source of this module and what it imports (dml_utils.runs), not the
study's analysis: editing a claim or a table in ``study`` retrains nothing.
"""

from __future__ import annotations

from typing import Any

from pytorch_metric_learning.losses import CircleLoss, TripletMarginLoss
from pytorch_metric_learning.miners import MultiSimilarityMiner, TripletMarginMiner

from dml_utils.class_disjoint import RetrievalData
from dml_utils.config import Config
from dml_utils.retrieval_run import train_and_evaluate
from dml_utils.runs import RunSpec

LOSSES = ("circle", "triplet")


MINERS = ("multisimilarity", "none", "semihard")
DROPPING_MINERS = ("semihard",)  # miners whose tuples leave out triplets the loss would count (gap_miner)


def build_loss(name: str, margin: float, gamma: float = 80.0):
    """PML's CircleLoss (cosine similarity; m = margin) or TripletMarginLoss (L2-normalized)."""
    if not margin > 0:
        raise ValueError(f"margin must be > 0, got {margin}")
    if name == "circle":
        return CircleLoss(m=margin, gamma=gamma)
    if name == "triplet":
        return TripletMarginLoss(margin=margin)
    raise ValueError(f"unknown loss {name!r}; use one of {list(LOSSES)}")


def build_miner(name: str, margin: float | None = None):
    """The report's multi-similarity miner (it keeps every triplet the triplet loss would count, so a
    loss over its tuples equals the loss over all tuples), none, or FaceNet's semi-hard triplets
    (Schroff et al. 2015: d(a,p) < d(a,n) ≤ d(a,p) + ``margin``): it drops the hard violating
    triplets, so the mined loss and the all-tuples loss differ."""
    if name == "multisimilarity":
        return MultiSimilarityMiner(epsilon=0.1)
    if name == "none":
        return None
    if name == "semihard":
        if margin is None or not margin > 0:
            raise ValueError(f"the semi-hard miner needs the triplet margin (> 0), got {margin!r}")
        return TripletMarginMiner(margin=margin, type_of_triplets="semihard")
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
    miner: str | None = None,
) -> dict[str, Any]:
    """Train one model with ``loss_name`` at ``margin`` behind ``miner`` (None: the configured one)."""
    miner = miner or cfg.miner
    loss_fn = build_loss(loss_name, margin, cfg.circle_gamma)
    r = train_and_evaluate(
        cfg,
        data,
        loss_fn,
        build_miner(miner, margin),
        seed,
        iterations,
        desc=f"{loss_name} m={margin} ({miner}) seed {seed}",
        track=track,
        progress=progress,
    )
    r["summary"] = {"loss": loss_name, "margin": margin, "miner": miner, **r["summary"]}
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


def gap_miner_plan(cfg: Config) -> list[RunSpec]:
    """Triplet at its margin behind ``gap_miner`` (a miner that drops triplets), every seed, tracked:
    the loss-gap test where mining changes the training loss."""
    return [
        RunSpec.of(
            cfg.notebook,
            "main",
            seed,
            {"loss": "triplet", "margin": cfg.triplet_margin, "miner": cfg.gap_miner},
            iterations=cfg.iterations,
        )
        for seed in cfg.seeds
    ]


def long_margin_plan(cfg: Config) -> list[RunSpec]:
    """Circle at each of ``long_margins`` × every sweep seed, run as sweep points of ``long_iterations``
    (the report's length): where the sweep runs as long (the full profile), these are its runs."""
    return [
        RunSpec.of(cfg.notebook, "sweep", s, {"loss": "circle", "margin": m}, iterations=cfg.long_iterations)
        for m in cfg.long_margins
        for s in cfg.sweep_seeds
    ]


def run_spec(cfg: Config, data: RetrievalData, spec: RunSpec, progress: bool = False) -> dict[str, Any]:
    """One run of the main comparison (tracked) or of the sweep; a spec naming its miner runs behind it."""
    track = spec.kind == "main"
    miner = dict(spec.setting).get("miner")
    return run(
        cfg,
        data,
        spec["loss"],
        spec["margin"],
        spec.seed,
        spec["iterations"],
        track=track,
        progress=progress,
        miner=miner,
    )
