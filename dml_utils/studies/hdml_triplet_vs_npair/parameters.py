"""Profiles of notebook 02: HDML on triplet and N-pair (report 001).

Values a profile does not set come from "common"; a notebook parameter overrides one value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from dml_utils.parameters import (
    DATA_AND_THREADS,
    AtLeast,
    ClassDisjointParameters,
    ConfigError,
    Count,
    Positive,
    check_iterations,
    check_positive,
    check_run,
    check_types,
)

NOTEBOOK = "02_hdml_triplet_vs_npair"


@dataclass(frozen=True)
class Ruler:
    """What a ranking on one of this notebook's proxies (Fashion-MNIST's unseen classes, the unseen
    patch classes) must pass before its verdict counts (issue 47; ``dml_utils.ruler``), fixed here on
    2026-12-07 before the control runs and the patch runs it judges. Analysis only: outside every
    run's cache key (the control runs carry their loss and iterations in their own specs)."""

    control_loss: str = "triplet"  # the controls' loss (without HDML): the report's baseline
    control_fraction: int = 10  # positive control: the grid's iterations against 1/10 of them, same seeds
    # "equivalent": a paired 95 % interval inside ±margin, the claims' margin since they were first written
    # (1 point of Recall@1, F1 or MAP@R; results._margin); the notebook prints each proxy's spread beside it
    equivalence_margin: float = 0.01
    headroom_margins: float = 5.0  # a ranking needs best trained − floor >= 5 margins


RULER = Ruler()

PROFILES: dict[str, dict[str, Any]] = {
    "common": {
        "dataset": "fashion-mnist",
        "train_classes": [0, 1, 2, 3, 5, 7],  # as notebooks 01 and 04; 4, 6, 8, 9 are the unseen test classes
        "n_max": 1000,  # images per training class
        "imbalance_ratio": 1,
        "val_per_class": 100,  # held-out images of the training classes (recall during training)
        "test_per_class": 250,  # images of each unseen class
        "embedding_size": 128,  # official: 128 (Cars196)
        "backbone": "convnet",
        "feature_pool": 2,  # convnet: conv features average-pooled to 2 × 2 → 256-d y (official: GoogLeNet's pooled 1024)
        "pretrained": False,  # the ConvNet has no pretrained weights (ResNet18: the paper profile)
        "device": "auto",
        "losses": ["triplet", "npair"],
        "tuples": {"triplet": 4, "npair": 6},  # per batch: 12 images each (report: triplet 15, N-pair 16; official 128)
        "lr": 1e-3,  # Adam, backbone and head (official: 7e-5 on an ImageNet-trained GoogLeNet)
        "lr_gen": 1e-2,  # Adam, generator (official lr_gen)
        "lr_softmax": 1e-3,  # Adam, softmax classifier (official s_lr)
        "alpha": 90.0,  # official alpha (the paper cites 7 for triplet)
        "beta": 1e4,  # official beta (Cars196; 5e3 on the others)
        "lam": 0.5,  # official _lambda
        "softmax_factor": 1e4,  # official Softmax_factor
        "margin": 1.0,  # triplet J (official triplet_loss)
        "l2_reg": 3e-3,  # N-pair J's embedding penalty (official loss_l2_reg)
        "weight_decay": 5e-3,  # official Regular_factor, part of J_m
        "block": 64,  # values per block mean of J_avg and J_gen (official: 64, hard-wired)
        "official_clusters": 98,  # the k the official evaluation hard-wires (Cars196's 98 test classes)
        "official_num_class": 99,  # the official FLAGS.num_class (Cars196: ids 1–98 + 1)
        "histogram_batches": 20,  # batches whose real and synthetic negatives are compared
        # official-scale HDML runs (frozen 1024-d features, official batches; an N-pair step costs ≈ 0.28 s here)
        "scale_losses": ["triplet", "npair"],
        "scale_iterations": 256,  # 4 blocks of 64: λ after the first, second and third
        "scale_seed_count": 3,  # the first 3 seeds of `seeds`, or all when fewer (λ's path varies little between seeds)
        "scale_classes": 98,  # their training classes (Cars196 trains on 98; an N-pair batch of 64 pairs needs at least 64)
        "patch_per_sequence": 40,  # many-class ranking: patch locations per sequence (every location: 220 training, 72 unseen classes)
        "image_size": None,  # image-folder datasets only (paper profile)
        **DATA_AND_THREADS,
    },
    "smoke": {
        "seeds": [0],
        "iterations": 150,
        "eval_every": 75,
        "n_max": 200,
        "val_per_class": 20,
        "test_per_class": 60,
        "histogram_batches": 4,
        "scale_losses": ["triplet"],  # an official N-pair step costs ≈ 0.28 s: not in a one-minute profile
        "scale_iterations": 128,  # 2 blocks: λ after the first
        "scale_seed_count": 1,
        "patch_per_sequence": 3,
    },
    "default": {
        "seeds": [
            0,
            1,
            2,
            3,
            4,
        ],  # 5 seeds: a paired t-interval at 2 degrees of freedom (3 seeds) is 4.3 standard errors wide
        "iterations": 2000,
        "eval_every": 500,
    },
    "full": {  # the default's design with 10 seeds on both data sets (≈ 50 min here, from the default's per-run seconds)
        "seeds": list(range(10)),
        "iterations": 2000,
        "eval_every": 500,
        "scale_iterations": 1280,  # 20 blocks; 5 seeds (≈ 33 min here, from the measured step costs)
        "scale_seed_count": 5,
    },
    "paper": {  # the official set-up on Cars196 (data_root = the folder with cars_annos.mat and car_ims/)
        "dataset": "cars196",  # or "cub200" / "sop" with their folders
        "train_classes": None,  # the standard split: classes 1–98 train, 99–196 unseen
        "n_max": None,
        "val_per_class": 5,
        "test_per_class": None,
        "image_size": 227,  # official default_image_size
        "backbone": "resnet18",  # official: GoogLeNet (ImageNet weights when torchvision has ResNet18's cached)
        "pretrained": True,
        "tuples": {"triplet": 42, "npair": 64},  # 126 and 128 images (official batch 128; its triplet sampler needs 3n)
        "lr": 7e-5,
        "iterations": 8000,
        "eval_every": 500,
        "seeds": [0, 1, 2],
    },
}


@dataclass(frozen=True, kw_only=True)
class Parameters(ClassDisjointParameters):
    """Notebook 02's parameters: their types; the values are the profiles'. Not the class-balanced
    batch sizes of 01 and 04: batches here are tuples."""

    feature_pool: Annotated[int, AtLeast(1, "or None: every conv feature")] | None
    losses: list[Literal["triplet", "npair"]]  # dml_utils.hdml.LOSSES
    tuples: dict[str, int]
    lr_gen: Positive
    lr_softmax: Positive
    alpha: Positive
    beta: Positive
    lam: Annotated[float, AtLeast(0)]
    softmax_factor: Annotated[float, AtLeast(0)]
    margin: Positive
    l2_reg: Annotated[float, AtLeast(0)]
    weight_decay: Annotated[float, AtLeast(0)]
    block: Count
    official_clusters: Count
    official_num_class: Annotated[int, AtLeast(2)]
    histogram_batches: Count
    scale_losses: list[Literal["triplet", "npair"]]
    scale_iterations: Count
    scale_seed_count: Annotated[int, AtLeast(1, "the official-scale runs take the first seeds of `seeds`")]
    scale_classes: Annotated[int, AtLeast(2)]
    patch_per_sequence: Annotated[int, AtLeast(2)]  # a sequence needs 2 patches (HPatches' pairs)
    image_size: Count | None  # image-folder datasets only: the side images are resized to


def validate(v: dict[str, Any]) -> None:
    check_types(v, Parameters)
    check_run(v)
    check_positive(
        v,
        (
            "lr_gen",
            "lr_softmax",
            "alpha",
            "beta",
            "softmax_factor",
            "margin",
            "block",
            "official_clusters",
            "official_num_class",
            "histogram_batches",
            "embedding_size",
            "patch_per_sequence",
        ),
    )
    if v["scale_iterations"] < 2 * v["block"] or v["scale_iterations"] % v["block"]:
        raise ConfigError(
            f"scale_iterations = {v['scale_iterations']}: λ after the first block needs whole blocks, at least two; use a "
            f"multiple of block ({v['block']}) >= {2 * v['block']}"
        )
    if "npair" in v["scale_losses"] and v["scale_classes"] < 64:
        raise ConfigError(
            f"scale_classes = {v['scale_classes']}: the official N-pair batch of 64 pairs needs 64 classes; "
            "use scale_classes >= 64 (98, Cars196's training classes, by default)"
        )
    check_iterations(v, ("iterations",))
    if not 0 <= v["lam"] <= 1:
        raise ConfigError(f"lam must be in [0, 1] (J_gen = (1 − lam)·J_recon + lam·J_soft), got {v['lam']}")
    if v["l2_reg"] < 0 or v["weight_decay"] < 0:
        raise ConfigError(f"l2_reg and weight_decay must be >= 0, got {v['l2_reg']} and {v['weight_decay']}")
    if not v["losses"]:
        raise ConfigError("losses needs at least one of 'triplet', 'npair'")
    unknown = [k for k in v["losses"] if k not in ("triplet", "npair")]
    if unknown:  # before the tuples check, which would otherwise ask for tuples of an unknown loss
        raise ConfigError(f"unknown losses {unknown[0]!r} in {v['losses']!r}; use some of ['triplet', 'npair']")
    missing = [k for k in v["losses"] if k not in v["tuples"]]
    if missing:
        raise ConfigError(
            f"tuples has no entry for {missing}; give the tuples per batch of every loss, e.g. {{'triplet': 4, 'npair': 6}}"
        )
    for k, n in v["tuples"].items():
        if k not in ("triplet", "npair"):
            raise ConfigError(f"tuples has an entry for {k!r}, which is not a loss here; use 'triplet' and 'npair'")
        if n < (2 if k == "npair" else 1):
            raise ConfigError(
                f"tuples[{k!r}] = {n}: {'an N-pair batch needs N >= 2 pairs' if k == 'npair' else 'need >= 1 triplet'}"
            )
    if v["feature_pool"] is not None and v["feature_pool"] < 1:
        raise ConfigError(f"feature_pool must be >= 1 (or None: every conv feature), got {v['feature_pool']}")
