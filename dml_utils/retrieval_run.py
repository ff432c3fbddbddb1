"""One class-disjoint retrieval training run (notebooks 01 and 04) on the engine: a fresh
backbone trained with a PML loss and miner on class-balanced batches, tracked on fixed batches
and held-out images, measured on unseen classes; and the untrained / raw-pixel baselines.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from .class_disjoint import RetrievalData
from .config import Config, resolve_device, seed_everything
from .data import batch_loader, select_rows
from .evaluate import CLASS_DISJOINT, RAW_PIXEL_SIZE, Protocol, embed, similarity_stats
from .models import build_backbone as _build
from .sampling import ClassBalancedBatchSampler
from .train import Step, fit, labelled_loss, model_device, single_loss_step

PROTOCOL = CLASS_DISJOINT


def build_backbone(cfg: Config, data: RetrievalData) -> torch.nn.Module:
    """The configured backbone for ``data``'s images: (N, H, W) grey or (N, C, H, W)."""
    return _build(cfg.backbone, cfg.embedding_size, data.x_train.shape[1:], pretrained=cfg.pretrained)


def fixed_batches(y: np.ndarray, cfg: Config, n: int, seed: int) -> list[list[int]]:
    return list(ClassBalancedBatchSampler(y, cfg.classes_per_batch, cfg.samples_per_class, n, seed=seed))


@torch.no_grad()
def batch_losses(model, loss_fn, miner, x, y, batches) -> dict[str, float]:
    """Mean loss over fixed batches, with the miner's tuples and with all tuples (no miner)."""
    was = model.training
    model.eval()
    dense = isinstance(x, np.ndarray)
    xt, yt = (torch.as_tensor(x) if dense else x), torch.as_tensor(y)
    dev = next(model.parameters()).device
    mined, every = [], []
    for b in batches:
        emb, lab = model((xt[b] if dense else torch.as_tensor(select_rows(x, b))).to(dev)), yt[b].to(dev)
        every.append(float(loss_fn(emb, lab)))
        mined.append(float(loss_fn(emb, lab, miner(emb, lab))) if miner is not None else every[-1])
    model.train(was)
    return {"with_miner": float(np.mean(mined)), "all_tuples": float(np.mean(every))}


def train_and_evaluate(
    cfg: Config,
    data: RetrievalData,
    loss_fn,
    miner,
    seed: int,
    iterations: int,
    desc: str,
    track: bool = True,
    progress: bool = True,
    loss_lr: float | None = None,
    scoring: Protocol | None = PROTOCOL,
) -> dict[str, Any]:
    """Train a fresh backbone (initialized from ``seed``) with a PML loss and miner on
    class-balanced batches for ``iterations`` (:func:`train_step_and_evaluate`).

    With ``track``, every ``eval_every`` iterations also the train / validation loss with the miner
    and over all tuples on fixed batches. Loss parameters (MarginLoss's β) are trained with Adam at
    ``loss_lr``. Returns the summary row, the curve, the step losses and the model.
    """

    def make(model):
        loss_fn.to(model_device(model))
        groups = [{"params": model.parameters()}]
        loss_params = list(loss_fn.parameters())
        if loss_params:
            groups.append({"params": loss_params, "lr": loss_lr if loss_lr is not None else cfg.lr})
        opt = torch.optim.Adam(groups, lr=cfg.lr)
        step = single_loss_step(
            model, labelled_loss(loss_fn, miner), opt, extra_models={"loss": loss_fn} if loss_params else None
        )
        return model, step

    tracked = None
    if track:  # fixed batches of their own generators: building them or not changes no training draw
        train_eval = fixed_batches(data.y_train, cfg, cfg.loss_eval_batches, seed=10_000 + seed)
        val_eval = fixed_batches(data.y_val, cfg, cfg.loss_eval_batches, seed=20_000 + seed)

        def tracked(model):
            row = {}
            for split, (x, y, b) in {
                "train": (data.x_train, data.y_train, train_eval),
                "val": (data.x_val, data.y_val, val_eval),
            }.items():
                for k, v in batch_losses(model, loss_fn, miner, x, y, b).items():
                    row[f"{split}_loss_{k}"] = v
            return row

    return train_step_and_evaluate(cfg, data, make, seed, iterations, desc, tracked, progress, scoring)


def train_step_and_evaluate(
    cfg: Config,
    data: RetrievalData,
    make: Callable[[torch.nn.Module], tuple[torch.nn.Module, Step]],
    seed: int,
    iterations: int,
    desc: str,
    tracked: Callable[[torch.nn.Module], dict[str, float]] | None = None,
    progress: bool = True,
    scoring: Protocol | None = PROTOCOL,
) -> dict[str, Any]:
    """Train a fresh backbone (initialized from ``seed``) on class-balanced batches (drawn from
    ``seed``) for ``iterations``, with the engine's Step that ``make(backbone)`` returns beside the
    model it embeds with (a loss and miner, or HDML's three optimizers: notebook 06).

    Every ``eval_every`` iterations with ``tracked`` (else at the end only): validation MAP@R and
    what ``tracked(model)`` measures. The test set is scored by ``scoring`` (the study's protocol);
    ``scoring=None`` (a tuning trial): the summary holds the validation MAP@R and the run's own
    measures only. Returns the summary row, the curve, the step losses and the model.
    """
    if iterations % cfg.eval_every:
        raise ValueError(f"iterations ({iterations}) must be a multiple of eval_every ({cfg.eval_every})")
    seed_everything(seed)
    device = resolve_device(cfg.device)
    model, step = make(build_backbone(cfg, data).to(device))
    sampler = ClassBalancedBatchSampler(
        data.y_train, cfg.classes_per_batch, cfg.samples_per_class, cfg.eval_every, seed=seed, batch_size=cfg.batch_size
    )
    first = fixed_batches(data.y_train, cfg, 1, seed)[0]  # = the first training batch (same seed, same stream)
    curve = []

    def evaluate(p):
        row = {
            "iteration": p * cfg.eval_every,
            "val_map_at_r": PROTOCOL.map_at_r(embed(model, data.x_val), data.y_val),
        }
        if tracked is not None:
            row |= tracked(model)
        curve.append(row)

    passes = iterations // cfg.eval_every
    hist = fit(
        step,
        batch_loader(data.x_train, data.y_train, sampler),
        passes,
        evaluate,
        range(1, passes + 1) if tracked is not None else [passes],
        step0_batch=(torch.as_tensor(select_rows(data.x_train, first)), torch.as_tensor(data.y_train[first])),
        step0_train_mode=False,
        desc=desc,
        progress=progress,
    )
    summary = {
        "seed": seed,
        "iterations": iterations,
        "loss_step0": hist.step0[step.main_loss],
        "weight_move": hist.weight_move[passes][next(iter(step.models))],
        "ms_per_iteration": hist.median_step_ms,
        "val_map_at_r": curve[-1]["val_map_at_r"],
    }
    if scoring is not None:
        summary |= scoring.score(embed(model, data.x_test), data.y_test)
        summary |= {f"val_{k}": v for k, v in similarity_stats(embed(model, data.x_val), data.y_val).items()}
    return {"summary": summary, "curve": curve, "step_loss": hist.step_loss, "model": model}


def baselines(cfg: Config, data: RetrievalData, protocol: Protocol = PROTOCOL) -> list[dict[str, Any]]:
    """Untrained network (each seed's initialization) and raw pixels, measured like the trained nets
    (by ``protocol``: the study's own, CLASS_DISJOINT unless it says otherwise)."""

    def untrained():
        for seed in cfg.seeds:
            seed_everything(seed)
            yield seed, build_backbone(cfg, data).to(resolve_device(cfg.device))

    rows = protocol.baselines(
        untrained(),
        data.x_test,
        data.y_test,
        also=lambda f: {"val_map_at_r": protocol.map_at_r(f(data.x_val), data.y_val)},
    )
    if not isinstance(data.x_test, np.ndarray):
        side = min(RAW_PIXEL_SIZE, data.x_test.shape[-1])
        rows[-1]["pixels"] = f"average-pooled to {side}×{side}"
    return rows
