"""Profiles of notebook 06: one protocol for every loss of the five reports ("A Metric Learning
Reality Check", Musgrave, Belongie & Lim, ECCV 2020, at a laptop's scale).

Values a profile does not set come from "common"; a notebook parameter overrides one value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from dml_utils.methods import METHODS
from dml_utils.parameters import (
    DATA_AND_THREADS,
    Backbone,
    ConfigError,
    RunParameters,
    check_class_balanced_batches,
    check_iterations,
    check_run,
    check_seeds,
    check_types,
)

NOTEBOOK = "06_one_protocol"
# the data the protocol runs on (study.prepare); the reports' own datasets and a `paper` profile are not wired in yet
DATASETS = ["patches"]

PROFILES: dict[str, dict[str, Any]] = {
    "common": {
        "dataset": "patches",  # HPatches-style patches of real photos: ≈ 850 training classes, 400 unseen
        "patch_per_sequence": 40,  # patch locations per sequence (one class each, seen in 16 views)
        "methods": list(METHODS),  # dml_utils.methods.METHODS: every loss the reports study, with its miner
        "embedding_size": 128,  # the Reality Check's embedding size
        "backbone": "convnet",
        "pretrained": False,
        "device": "auto",
        "classes_per_batch": 8,  # P
        "samples_per_class": 4,  # K: the same 32 images per step for every method
        "batch_size": 32,
        "lr": 1e-3,  # Adam; used as is only when tune_lr is False
        "tune_lr": True,  # the learning rate is tuned for every method, beside its own hyperparameters
        "folds": 2,  # validation folds by class, carved out of the training classes (Reality Check: 4)
        "fold_seed": 0,  # which classes fall in which fold
        "trials": 4,  # settings tried per method, the same for every method (< 10: TPE's random start-up)
        "per_round": 4,  # settings the sampler draws before it sees their scores
        "tune_seed": 0,  # the TPE sampler's seed; the trial runs' seed
        "trial_iterations": 200,  # one trial: train on the other folds' classes, MAP@R on the fold's
        "iterations": 400,  # the finals: each method's best setting on all training classes
        "eval_every": 200,
        "loss_eval_batches": 2,
        **DATA_AND_THREADS,
    },
    "smoke": {
        "patch_per_sequence": 3,
        "seeds": [0, 1],
        "trials": 2,
        "per_round": 2,
        "trial_iterations": 10,
        "iterations": 10,
        "eval_every": 10,
    },
    "default": {
        "seeds": [0, 1, 2, 3, 4],  # the finals: 5 seeds per method, paired across methods
    },
    "full": {
        # the Reality Check's design at this scale: 4 folds, 50 trials per method, 10 final seeds, runs of 1,000
        # and 3,000 iterations (about a day here for 11 methods: run it through the executor on a bigger machine or a cluster)
        "seeds": list(range(10)),
        "folds": 4,
        "trials": 50,
        "per_round": 10,
        "trial_iterations": 1000,
        "iterations": 3000,
        "eval_every": 500,
    },
}


@dataclass(frozen=True, kw_only=True)
class Parameters(RunParameters):
    """Notebook 06's parameters: their types; the values are the profiles'."""

    dataset: Literal["patches"]
    patch_per_sequence: int
    methods: list[str]  # names in dml_utils.methods.METHODS
    embedding_size: int
    backbone: Backbone
    pretrained: bool
    device: str
    classes_per_batch: int
    samples_per_class: int
    batch_size: int
    tune_lr: bool
    folds: int
    fold_seed: int
    trials: int
    per_round: int
    tune_seed: int
    trial_iterations: int
    iterations: int
    eval_every: int
    loss_eval_batches: int


def validate(v: dict[str, Any]) -> None:
    check_types(v, Parameters)
    check_run(v)
    unknown = [m for m in v["methods"] if m not in METHODS]
    if unknown or not v["methods"] or len(set(v["methods"])) != len(v["methods"]):
        raise ConfigError(
            f"methods must be distinct names of dml_utils.methods.METHODS {list(METHODS)}; got {v['methods']!r}"
            + (f" (unknown: {unknown})" if unknown else "")
        )
    check_class_balanced_batches({**v, "val_per_class": None})  # no held-out batches: the folds validate
    if v["classes_per_batch"] < 2:
        raise ConfigError("classes_per_batch must be >= 2: a batch needs negatives")
    if v["samples_per_class"] > 14:
        raise ConfigError(
            f"samples_per_class {v['samples_per_class']} > 14: a patch class has 14 training views (16 minus the "
            "2 held out); use 14 or fewer"
        )
    for key in ("trials", "per_round", "folds"):
        if v[key] < 1:
            raise ConfigError(f"{key} must be a whole number >= 1, got {v[key]!r} (a budget of 0 trials tunes nothing)")
    if v["folds"] < 2:
        raise ConfigError(f"folds must be >= 2 (one fold would validate on no class), got {v['folds']}")
    if v["patch_per_sequence"] < 2:
        raise ConfigError(f"patch_per_sequence must be >= 2, got {v['patch_per_sequence']}")
    check_seeds(v)
    check_iterations(v, ("trial_iterations", "iterations"))
