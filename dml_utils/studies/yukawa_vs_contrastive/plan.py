"""Study 03's plan of runs: one run per seed (both losses on the same pairs), as specs and the
task that carries one out (``seed_run``), with what a run executes and nothing else.

A run's cache key holds the source of this module and what it imports (dml_utils.runs), not the
study's analysis: editing a claim or a table in ``study`` retrains nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from dml_utils.config import Config, seed_everything
from dml_utils.data import Dataset
from dml_utils.evaluate import PAIRS, embed
from dml_utils.losses import (
    KERAS_EPSILON,
    ClampedEuclideanDistance,
    PooledPairMeanReducer,
    SquaredHingeContrastiveLoss,
    YukawaLoss,
)
from dml_utils.models import MLPEmbedding
from dml_utils.pairs import (
    alternating_pairs,
    best_threshold,
    distance_stats,
    pair_distances,
    pair_loader,
    pair_loss,
    pair_verification_accuracy,
)
from dml_utils.runs import RunSpec
from dml_utils.seeds import run_generator, shifted
from dml_utils.train import fit, single_loss_step

LOSSES = ("contrastive", "yukawa")


@dataclass
class PairData:
    dataset: Dataset
    x_train: np.ndarray  # (N, D) float32, flattened
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    test_pairs: np.ndarray
    test_same: np.ndarray
    retrieval_idx: np.ndarray  # test items used for P@1 / MAP@R
    provenance: dict[str, Any]


def build_loss(name: str, eps: float = KERAS_EPSILON):
    """The report-003 losses by name, with its distance and its all-pairs mean."""
    distance = ClampedEuclideanDistance(eps=eps)
    if name == "contrastive":
        return SquaredHingeContrastiveLoss(
            pos_margin=0, neg_margin=1, distance=distance, reducer=PooledPairMeanReducer()
        )
    if name == "yukawa":
        return YukawaLoss(decay=10.0, pos_exponent=3, eps=eps, distance=distance, reducer=PooledPairMeanReducer())
    raise ValueError(f"unknown pair loss {name!r}; use 'contrastive' or 'yukawa'")


def evaluate_embeddings(emb_train, emb_test, data: PairData, train_pairs, train_same, cfg: Config) -> dict[str, float]:
    """Pair verification at the fixed threshold and at the threshold best on training pairs,
    distance statistics (all positives and the report's D < pos_filter), retrieval metrics."""
    d_test = pair_distances(emb_test, data.test_pairs)
    thr = best_threshold(pair_distances(emb_train, train_pairs), train_same)
    out = {
        "accuracy": pair_verification_accuracy(d_test, data.test_same, cfg.threshold),
        "best_threshold": thr,
        "accuracy_best_threshold": pair_verification_accuracy(d_test, data.test_same, thr),
        **distance_stats(d_test, data.test_same),
        **{
            f"{k}_filtered": v
            for k, v in distance_stats(d_test, data.test_same, cfg.pos_filter).items()
            if k.startswith("pos")
        },
        **PAIRS.retrieval(emb_test[data.retrieval_idx], data.y_test[data.retrieval_idx]),
    }
    return out


def _train_pairs_for_threshold(train_pairs, train_same, limit: int = 20000):
    return train_pairs[:limit], train_same[:limit]


def run_seed(data: PairData, seed: int, cfg: Config, progress: bool = True) -> dict[str, Any]:
    """Train every loss from the same initial weights with the same batches; evaluate at eval_epochs."""
    seed_everything(seed)
    model = MLPEmbedding(in_features=data.x_train.shape[1])
    init_state = {k: v.clone() for k, v in model.state_dict().items()}
    train_pairs, train_same = alternating_pairs(data.y_train, seed=shifted(seed))
    thr_pairs, thr_same = _train_pairs_for_threshold(train_pairs, train_same)
    records = [
        {
            "loss": "untrained",
            "seed": seed,
            "epoch": 0,
            **evaluate_embeddings(
                embed(model, data.x_train), embed(model, data.x_test), data, thr_pairs, thr_same, cfg
            ),
        }
    ]
    out: dict[str, Any] = {"records": records, "curves": {}, "embeddings": {"untrained": embed(model, data.x_test)}}
    for loss_name in LOSSES:
        model.load_state_dict(init_state)
        generator = seed_everything(seed)  # same dropout masks and batch order for every loss
        opt = torch.optim.RMSprop(model.parameters(), lr=cfg.lr, alpha=cfg.rho, eps=cfg.rms_eps)
        step = single_loss_step(model, pair_loss(build_loss(loss_name)), opt)
        loader = pair_loader(data.x_train, train_pairs, train_same, cfg.batch_size, generator)
        first = next(iter(pair_loader(data.x_train, train_pairs, train_same, cfg.batch_size, run_generator(seed))))

        def evaluate(epoch):
            e_tr, e_te = embed(model, data.x_train), embed(model, data.x_test)
            return {"metrics": evaluate_embeddings(e_tr, e_te, data, thr_pairs, thr_same, cfg), "test_embeddings": e_te}

        # one pass of the pair loader is one epoch; the step-0 loss is taken in train mode (dropout on), as Keras reports it
        hist = fit(
            step,
            loader,
            cfg.epochs,
            evaluate,
            cfg.eval_epochs,
            step0_batch=first,
            step0_train_mode=True,
            desc=f"{data.dataset.name} {loss_name} seed {seed}",
            progress=progress,
        )
        for epoch, ev in hist.evaluations.items():
            records.append(
                {
                    "loss": loss_name,
                    "seed": seed,
                    "epoch": epoch,
                    "loss_step0": hist.step0["loss"],
                    "weight_move": hist.weight_move[epoch]["model"],
                    "train_seconds": hist.seconds,
                    **ev["metrics"],
                }
            )
        out["curves"][loss_name] = hist.pass_loss
        out["embeddings"][loss_name] = hist.evaluations[max(hist.evaluations)]["test_embeddings"]
    return out


def seed_plan(cfg: Config, dataset: str) -> list[RunSpec]:
    """One run per seed on ``dataset``: every loss from the same initial weights and batches."""
    return [RunSpec.of(cfg.notebook, "seed", seed, {"dataset": dataset}, epochs=cfg.epochs) for seed in cfg.seeds]


def seed_run(cfg: Config, data: PairData, spec: RunSpec, progress: bool = True) -> dict[str, Any]:
    """One run of the seed plan (the runner's task)."""
    return run_seed(data, spec.seed, cfg, progress=progress)
