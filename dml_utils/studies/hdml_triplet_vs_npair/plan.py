"""Study 02's plan of runs: triplet and N-pair, each with and without HDML, as specs and the
task that carries one out (``grid_run``), with what a run executes and nothing else (the method
itself is ``dml_utils.hdml``).

A run's cache key holds the source of this module and what it imports (dml_utils.runs), not the
study's analysis: editing a claim or a table in ``study`` retrains nothing.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import torch.nn.functional as F

from dml_utils import hdml as H
from dml_utils.class_disjoint import RetrievalData
from dml_utils.config import Config, resolve_device, seed_everything
from dml_utils.data import batch_loader
from dml_utils.evaluate import HDML_OFFICIAL, Protocol, embed
from dml_utils.runs import RunSpec
from dml_utils.sampling import TupleBatchSampler
from dml_utils.train import fit

LABELS = {
    ("triplet", False): "triplet",
    ("triplet", True): "triplet + HDML",
    ("npair", False): "N-pair",
    ("npair", True): "N-pair + HDML",
}


# ---------------------------------------------------------------- one run
def settings(cfg: Config, loss: str, **over) -> H.HDMLSettings:
    return H.HDMLSettings(
        loss=loss,
        alpha=cfg.alpha,
        beta=cfg.beta,
        lam=cfg.lam,
        softmax_factor=cfg.softmax_factor,
        margin=cfg.margin,
        l2_reg=cfg.l2_reg,
        weight_decay=cfg.weight_decay,
        block=cfg.block,
        **over,
    )


def build(
    cfg: Config,
    data: RetrievalData,
    loss: str,
    seed: int,
    num_class: int | None = None,
    cross_entropy=F.cross_entropy,
    **over,
):
    """The net (its initial weights depend on the seed only, so runs with and without HDML start
    alike) and the HDML parts (generator, softmax classifier); ``num_class`` and ``cross_entropy``
    set the official conventions for the NaN study, ``over`` any HDML setting."""
    seed_everything(seed)
    dev = resolve_device(cfg.device)
    net = H.hdml_net(cfg.backbone, cfg.embedding_size, data.x_train.shape[1:], cfg.pretrained, cfg.feature_pool).to(dev)
    parts = H.HDML(
        net, np.unique(data.y_train), settings(cfg, loss, **over), num_class=num_class, cross_entropy=cross_entropy
    )
    return net, parts.to(dev)


def protocol(cfg: Config) -> Protocol:
    """HDML's evaluation (Recall@K and MAP@R, Euclidean on raw embeddings, as the official code;
    NMI and clustering F1 at k = the number of classes) with the official code's hard-wired k."""
    return replace(HDML_OFFICIAL, official_k=cfg.official_clusters)


def run(cfg: Config, data: RetrievalData, loss: str, apply: bool, seed: int, progress: bool = True) -> dict[str, Any]:
    """Train one net for ``iterations`` on tuple batches; Recall@1 of the held-out images every
    ``eval_every``; the unseen classes' metrics at the end. Returns the summary row, the curve,
    the engine's history and the trained parts."""
    net, hd = build(cfg, data, loss, seed)
    step = H.hdml_step(net, hd, H.LearningRates(cfg.lr, cfg.lr_gen, cfg.lr_softmax), apply=apply)
    sampler = TupleBatchSampler(data.y_train, loss, cfg.tuples[loss], cfg.eval_every, seed=seed)
    curve = []

    def evaluate(p):
        r = protocol(cfg).retrieval(embed(net, data.x_val), data.y_val, recall_ks=(1,))
        curve.append(
            {"iteration": p * cfg.eval_every, "val_recall_at_1": r["recall_at_1"], "val_map_at_r": r["map_at_r"]}
        )

    passes = cfg.iterations // cfg.eval_every
    hist = fit(
        step,
        batch_loader(data.x_train, data.y_train, sampler),
        passes,
        evaluate,
        range(1, passes + 1),
        desc=f"{LABELS[(loss, apply)]}, seed {seed}",
        progress=progress,
    )
    nonfinite = sum(int((~np.isfinite(np.asarray(v))).sum()) for v in hist.losses.values())
    summary = {
        "loss": loss,
        "hdml": apply,
        "method": LABELS[(loss, apply)],
        "seed": seed,
        "iterations": hist.steps,
        "batch_images": sampler.batch_size,
        "ms_per_step": hist.median_step_ms,
        "nonfinite_values": nonfinite,
        "loss_values": sum(len(v) for v in hist.losses.values()),
        "weight_move": hist.weight_move[passes]["net"],
        **protocol(cfg).score(embed(net, data.x_test), data.y_test),
    }
    if apply:
        summary |= {"final_hardness": hd.hardness, "final_balance": hd.balance}
    return {"summary": summary, "curve": curve, "history": hist, "net": net, "hdml": hd}


def grid_plan(cfg: Config) -> list[RunSpec]:
    """Every loss without and with HDML, for every seed: the same seed gives the same initial net
    and the same batches."""
    return [
        RunSpec.of(cfg.notebook, "grid", seed, {"loss": loss, "hdml": apply}, iterations=cfg.iterations)
        for loss in cfg.losses
        for apply in (False, True)
        for seed in cfg.seeds
    ]


def grid_run(cfg: Config, data: RetrievalData, spec: RunSpec, progress: bool = True) -> dict[str, Any]:
    """One run of the grid plan (the runner's task)."""
    return run(cfg, data, spec["loss"], spec["hdml"], spec.seed, progress)
