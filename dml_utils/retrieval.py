"""Class-disjoint retrieval experiments shared by notebooks 01 and 04: data with training classes
(long-tailed or balanced), held-out images of those classes and unseen test classes; one
training run with a PML loss and miner on class-balanced batches; metrics and baselines.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .config import Config, resolve_device, seed_everything
from .data import batch_loader, load_dataset, long_tailed_subsample, subsample_per_class
from .evaluate import embed, retrieval_metrics, similarity_stats
from .models import SmallConvNet, resnet18_embedding
from .sampling import ClassBalancedBatchSampler
from .train import fit, labelled_loss, single_loss_step

SPLIT_SEED = 0
RECALL_KS = (1, 2, 4, 8)


@dataclass
class RetrievalData:
    x_train: np.ndarray  # images of the training classes (long-tailed when imbalance_ratio > 1)
    y_train: np.ndarray
    x_val: np.ndarray  # held-out images of the training classes
    y_val: np.ndarray
    x_test: np.ndarray  # images of classes never seen in training
    y_test: np.ndarray
    provenance: dict[str, Any]


def prepare(cfg: Config) -> RetrievalData:
    """Training images of ``train_classes`` (long-tailed when imbalance_ratio > 1), held-out images of
    those classes, and images of the unseen classes.

    Datasets with one split per class half (CUB, Cars196, SOP: ``class_disjoint``) hold out
    ``val_per_class`` training images per class; the others (Fashion-MNIST) take them from the
    test split. ``train_classes=None``: every class of the training split; ``n_max=None``: every
    image; ``test_per_class=None``: every image of the unseen classes.
    """
    ds = load_dataset(cfg.dataset, data_root=cfg.data_root, allow_download=cfg.allow_download,
                      image_size=cfg.values.get("image_size") or 224)
    disjoint = bool(ds.provenance.get("class_disjoint"))
    train_classes = np.unique(ds.y_train).tolist() if cfg.train_classes is None else list(cfg.train_classes)
    unknown = set(train_classes) - set(np.unique(ds.y_train).tolist())
    if unknown:
        raise ValueError(f"train_classes {sorted(unknown)} are not classes of {cfg.dataset}")
    unseen = [c for c in np.unique(ds.y_test).tolist() if c not in train_classes]
    if len(unseen) < 2:
        raise ValueError("leave at least two classes out of train_classes: they are the unseen test classes")

    def per_class(y, idx, n):
        return idx if n is None else idx[subsample_per_class(y[idx], n, seed=SPLIT_SEED)]

    pool = np.flatnonzero(np.isin(ds.y_train, train_classes))
    if disjoint:
        va = per_class(ds.y_train, pool, cfg.val_per_class)
        pool = np.setdiff1d(pool, va)
        x_val, y_val = ds.x_train[va], ds.y_train[va]
    else:
        va = per_class(ds.y_test, np.flatnonzero(np.isin(ds.y_test, train_classes)), cfg.val_per_class)
        x_val, y_val = ds.x_test[va], ds.y_test[va]
    if cfg.n_max is None:
        if cfg.imbalance_ratio != 1:
            raise ValueError("n_max=None takes every training image, which needs imbalance_ratio=1; set n_max for a long tail")
        tr = pool
    else:
        tr = pool[long_tailed_subsample(ds.y_train[pool], train_classes, cfg.n_max, cfg.imbalance_ratio, seed=SPLIT_SEED)]
    te = per_class(ds.y_test, np.flatnonzero(np.isin(ds.y_test, unseen)), cfg.test_per_class)
    counts = {int(c): int((ds.y_train[tr] == c).sum()) for c in train_classes}
    prov = {**ds.provenance, "train_classes": train_classes, "unseen_classes": unseen, "train_counts": counts,
            "imbalance_ratio": cfg.imbalance_ratio, "n_train_used": int(len(tr)), "n_val": int(len(va)), "n_unseen_test": int(len(te))}
    return RetrievalData(ds.x_train[tr], ds.y_train[tr], x_val, y_val, ds.x_test[te], ds.y_test[te], prov)


def build_backbone(cfg: Config, data: RetrievalData) -> torch.nn.Module:
    """The configured backbone for ``data``'s images: (N, H, W) grey or (N, C, H, W)."""
    channels = data.x_train.shape[1] if data.x_train.ndim == 4 else 1
    if cfg.backbone == "convnet":
        return SmallConvNet(embedding_size=cfg.embedding_size, in_channels=channels, image_size=data.x_train.shape[-1])
    if cfg.backbone == "resnet18":
        return resnet18_embedding(cfg.embedding_size, in_channels=channels, pretrained=cfg.pretrained)
    raise ValueError(f"unknown backbone {cfg.backbone!r}; use 'convnet' or 'resnet18'")


def fixed_batches(y: np.ndarray, cfg: Config, n: int, seed: int) -> list[list[int]]:
    return list(ClassBalancedBatchSampler(y, cfg.classes_per_batch, cfg.samples_per_class, n, seed=seed))


@torch.no_grad()
def batch_losses(model, loss_fn, miner, x, y, batches) -> dict[str, float]:
    """Mean loss over fixed batches, with the miner's tuples and with all tuples (no miner)."""
    was = model.training
    model.eval()
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    dev = next(model.parameters()).device
    mined, every = [], []
    for b in batches:
        emb, lab = model(xt[b].to(dev)), yt[b].to(dev)
        every.append(float(loss_fn(emb, lab)))
        mined.append(float(loss_fn(emb, lab, miner(emb, lab))) if miner is not None else every[-1])
    model.train(was)
    return {"with_miner": float(np.mean(mined)), "all_tuples": float(np.mean(every))}


def unseen_metrics(emb_test, y_test) -> dict[str, float]:
    return {**retrieval_metrics(emb_test, y_test, normalize=True, recall_ks=RECALL_KS, nmi=True), **similarity_stats(emb_test, y_test)}


def train_and_evaluate(cfg: Config, data: RetrievalData, loss_fn, miner, seed: int, iterations: int, desc: str,
                       track: bool = True, progress: bool = True, loss_lr: float | None = None) -> dict[str, Any]:
    """Train a fresh backbone (initialized from ``seed``) on class-balanced batches for ``iterations``.

    Every ``eval_every`` iterations: validation MAP@R, and with ``track`` the train / validation
    loss with the miner and over all tuples on fixed batches. Loss parameters (MarginLoss's β)
    are trained with Adam at ``loss_lr``. Returns the summary row, the curve, the step losses and
    the model.
    """
    if iterations % cfg.eval_every:
        raise ValueError(f"iterations ({iterations}) must be a multiple of eval_every ({cfg.eval_every})")
    seed_everything(seed)
    device = resolve_device(cfg.device)
    model = build_backbone(cfg, data).to(device)
    loss_fn.to(device)
    groups = [{"params": model.parameters()}]
    loss_params = list(loss_fn.parameters())
    if loss_params:
        groups.append({"params": loss_params, "lr": loss_lr if loss_lr is not None else cfg.lr})
    opt = torch.optim.Adam(groups, lr=cfg.lr)
    sampler = ClassBalancedBatchSampler(data.y_train, cfg.classes_per_batch, cfg.samples_per_class, cfg.eval_every,
                                        seed=seed, batch_size=cfg.batch_size)
    step = single_loss_step(model, labelled_loss(loss_fn, miner), opt, extra_models={"loss": loss_fn} if loss_params else None)
    first = fixed_batches(data.y_train, cfg, 1, seed)[0]  # = the first training batch (same seed, same stream)
    train_eval = fixed_batches(data.y_train, cfg, cfg.loss_eval_batches, seed=10_000 + seed)
    val_eval = fixed_batches(data.y_val, cfg, cfg.loss_eval_batches, seed=20_000 + seed)
    curve = []

    def evaluate(p):
        row = {"iteration": p * cfg.eval_every,
               "val_map_at_r": retrieval_metrics(embed(model, data.x_val), data.y_val, normalize=True)["map_at_r"]}
        if track:
            for split, (x, y, b) in {"train": (data.x_train, data.y_train, train_eval),
                                     "val": (data.x_val, data.y_val, val_eval)}.items():
                for k, v in batch_losses(model, loss_fn, miner, x, y, b).items():
                    row[f"{split}_loss_{k}"] = v
        curve.append(row)

    passes = iterations // cfg.eval_every
    hist = fit(step, batch_loader(data.x_train, data.y_train, sampler), passes, evaluate,
               range(1, passes + 1) if track else [passes], step0_batch=(torch.as_tensor(data.x_train[first]),
                                                                         torch.as_tensor(data.y_train[first])),
               step0_train_mode=False, desc=desc, progress=progress)
    emb_test = embed(model, data.x_test)
    summary = {"seed": seed, "iterations": iterations, "loss_step0": hist.step0["loss"],
               "weight_move": hist.weight_move[passes]["model"], "ms_per_iteration": hist.median_step_ms,
               "val_map_at_r": curve[-1]["val_map_at_r"], **unseen_metrics(emb_test, data.y_test),
               **{f"val_{k}": v for k, v in similarity_stats(embed(model, data.x_val), data.y_val).items()}}
    return {"summary": summary, "curve": curve, "step_loss": hist.step_loss, "model": model}


def baselines(cfg: Config, data: RetrievalData) -> list[dict[str, Any]]:
    """Untrained network (each seed's initialization) and raw pixels, measured like the trained nets."""
    rows = []
    for seed in cfg.seeds:
        seed_everything(seed)
        model = build_backbone(cfg, data).to(resolve_device(cfg.device))
        rows.append({"loss": "untrained", "seed": seed, **unseen_metrics(embed(model, data.x_test), data.y_test),
                     "val_map_at_r": retrieval_metrics(embed(model, data.x_val), data.y_val, normalize=True)["map_at_r"]})
    flat = lambda x: x.reshape(len(x), -1)  # noqa: E731
    rows.append({"loss": "raw pixels", "seed": -1, **unseen_metrics(flat(data.x_test), data.y_test),
                 "val_map_at_r": retrieval_metrics(flat(data.x_val), data.y_val, normalize=True)["map_at_r"]})
    return rows
