"""Study 01's transfer runs: why training on the seen Fashion-MNIST classes does not lift retrieval
of the unseen ones (issue 47). Each variant of ``parameters.TRANSFER_VARIANTS`` changes one thing
of the main setting; every run trains the ruler's control loss at its main margin behind the main
miner, as a main run, and measures the unseen images from step 0 on (``dml_utils.transfer``).

A module of its own so that its runs' cache key (this source and what it imports) leaves the
other runs untouched.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from dml_utils.class_disjoint import RetrievalData, prepare
from dml_utils.config import Config
from dml_utils.runs import RunSpec
from dml_utils.train import labelled_loss, single_loss_step
from dml_utils.transfer import transfer_run

from .parameters import RULER, TRANSFER_SMOKE, TRANSFER_VARIANTS
from .plan import build_loss, build_miner

DATA_KEYS = ("train_classes", "imbalance_ratio", "n_max")  # overrides that change the data: prepared anew


def transfer_variants(cfg: Config) -> tuple[str, ...]:
    """The variants a profile runs: ``TRANSFER_SMOKE`` at the smoke profile, else all."""
    return TRANSFER_SMOKE if cfg.profile == "smoke" else tuple(TRANSFER_VARIANTS)


def transfer_plan(cfg: Config) -> list[RunSpec]:
    """Every variant (``transfer_variants``) × the main runs' seeds, at the main runs' iterations."""
    margins = {"circle": cfg.circle_margin, "triplet": cfg.triplet_margin}
    return [
        RunSpec.of(
            cfg.notebook,
            "transfer",
            seed,
            {
                "variant": name,
                "loss": RULER.control_loss,
                "margin": margins[RULER.control_loss],
                **TRANSFER_VARIANTS[name],
            },
            iterations=cfg.iterations,
        )
        for name in transfer_variants(cfg)
        for seed in cfg.seeds
    ]


def data_overrides(spec: RunSpec) -> tuple[tuple[str, Any], ...]:
    """The overrides of ``spec``'s variant that change its data (``DATA_KEYS``): the plan's runs are
    grouped by them, each group run on its own prepared data (``transfer_data``)."""
    return tuple((k, v) for k, v in spec.setting if k in DATA_KEYS and k in TRANSFER_VARIANTS[spec["variant"]])


def transfer_data(cfg: Config, data: RetrievalData, overrides: tuple[tuple[str, Any], ...]) -> RetrievalData:
    """``data`` (no override) or the data ``prepare`` makes with ``overrides``; called with the full
    configuration (a run's task does not see where the data live)."""
    return data if not overrides else prepare(replace(cfg, values={**cfg.values, **dict(overrides)}))


def transfer_task(cfg: Config, data: RetrievalData, spec: RunSpec) -> dict[str, Any]:
    """One transfer run (the runner's task) on ``data``, prepared for its variant (``transfer_data``),
    with the variant's other overrides (the learning rate) in the configuration."""
    over = {k: v for k, v in spec.setting if k in TRANSFER_VARIANTS[spec["variant"]]}
    cfg = replace(cfg, values={**cfg.values, **over})
    loss_name, margin = spec["loss"], spec["margin"]

    def make(model):
        loss_fn = build_loss(loss_name, margin, cfg.circle_gamma)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        return model, single_loss_step(model, labelled_loss(loss_fn, build_miner(cfg.miner, margin)), opt)

    out = transfer_run(cfg, data, make, spec.seed, spec["iterations"], f"transfer: {spec['variant']} seed {spec.seed}")
    out["summary"] = {"variant": spec["variant"], **out["summary"]}
    out["summary"]["unseen_classes"] = [int(c) for c in sorted(set(data.y_test.tolist()))]
    return out
