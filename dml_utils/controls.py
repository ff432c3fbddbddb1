"""The ruler's control runs (``dml_utils.ruler``): their specs, and what they change in their data
(the negative control trains on shuffled labels) and their budget (the positive control trains a
fraction of it). A module of its own, imported by the studies' control plans only, so that its code
is in their runs' cache keys and in no other run's."""

from __future__ import annotations

import numpy as np

SHUFFLE_SEED = 7919  # the permutation of the training labels: a fixed draw, offset by the run's seed
CONTROLS = ("short", "shuffled")  # the positive control (a tenth of the budget) and the negative one


def shuffled_labels(y: np.ndarray, seed: int) -> np.ndarray:
    """``y`` permuted across the images: every class keeps its size, and an image keeps its class
    only by chance (about one in the number of classes)."""
    return np.random.default_rng(SHUFFLE_SEED + seed).permutation(np.asarray(y))


def control_specs(cfg, kind_setting: dict, fraction: int, iterations: int | None = None) -> list:
    """The two control runs of a ruler (``dml_utils.ruler``) for every seed of ``cfg``: "short",
    ``1/fraction`` of the full budget (``iterations``, by default ``cfg.iterations``), and
    "shuffled", the full budget on shuffled labels; ``kind_setting`` is what the study's task reads
    (its method, loss, sampler …)."""
    from .runs import RunSpec

    full = cfg.iterations if iterations is None else iterations
    short = max(1, full // fraction)
    return [
        RunSpec.of(
            cfg.notebook,
            "control",
            seed,
            {**kind_setting, "control": control},
            iterations=short if control == "short" else full,
        )
        for control in CONTROLS
        for seed in cfg.seeds
    ]


def control_inputs(cfg, data, spec, set_iterations: bool = True):
    """What a control run trains on: ``data`` with its training labels shuffled (the negative
    control), and ``cfg`` whose ``eval_every`` (and, with ``set_iterations``, ``iterations``) is the
    short run's budget when it is shorter (one evaluation, at its end)."""
    from dataclasses import replace

    control = spec["control"]
    if control not in CONTROLS:
        raise ValueError(f"unknown control {control!r}; the controls are {CONTROLS}")
    if control == "shuffled":
        data = replace(data, y_train=shuffled_labels(data.y_train, spec.seed))
    if spec["iterations"] != cfg.iterations:
        over = {"eval_every": spec["iterations"]} | ({"iterations": spec["iterations"]} if set_iterations else {})
        cfg = replace(cfg, values={**cfg.values, **over})
    return cfg, data
