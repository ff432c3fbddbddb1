"""Study 03's controls: the runs that test a proxy (pair accuracy, or MAP@R, on one dataset's test
set) before it ranks Yukawa against contrastive (``dml_utils.ruler``).

- **positive**: ``parameters.RULER.control_loss`` trained the main runs' ``epochs`` (the main run
  itself) against the same trained ``1/control_fraction`` of them, same seeds (the same initial net,
  pairs and batches). More training must score higher.
- **negative**: the same trained every epoch on pairs built from training labels shuffled across the
  images (class sizes kept). The main run on the true labels must score higher.

Each run is the main run's path for one loss (``plan.run_seed``: the seed's initial weights, its
pairs, its batch order, the step-0 loss in train mode), so the positive control's full side is the
main run. A module of its own so that its runs' cache key leaves the main runs untouched.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from dml_utils.config import Config, seed_everything
from dml_utils.controls import control_specs, shuffled_labels
from dml_utils.evaluate import embed
from dml_utils.models import MLPEmbedding
from dml_utils.pairs import alternating_pairs, pair_loader, pair_loss
from dml_utils.runs import RunSpec
from dml_utils.seeds import run_generator, shifted
from dml_utils.train import fit, single_loss_step

from .parameters import RULER, Ruler
from .plan import PairData, _train_pairs_for_threshold, build_loss, evaluate_embeddings


def control_plan(cfg: Config, dataset: str, ruler: Ruler = RULER) -> list[RunSpec]:
    """The short and the shuffled-label runs of the ruler's loss on ``dataset``, every seed; a
    spec's ``iterations`` is its number of epochs."""
    return control_specs(cfg, {"dataset": dataset, "loss": ruler.control_loss}, ruler.control_fraction, cfg.epochs)


def train_one_loss(cfg: Config, data: PairData, loss_name: str, seed: int, epochs: int) -> dict[str, float]:
    """``loss_name`` trained ``epochs`` as ``plan.run_seed`` trains it (same initial weights, pairs,
    batches and step-0 loss), evaluated at its end as the main runs are."""
    seed_everything(seed)
    model = MLPEmbedding(in_features=data.x_train.shape[1])
    train_pairs, train_same = alternating_pairs(data.y_train, seed=shifted(seed))
    thr_pairs, thr_same = _train_pairs_for_threshold(train_pairs, train_same)
    generator = seed_everything(seed)
    opt = torch.optim.RMSprop(model.parameters(), lr=cfg.lr, alpha=cfg.rho, eps=cfg.rms_eps)
    step = single_loss_step(model, pair_loss(build_loss(loss_name)), opt)
    loader = pair_loader(data.x_train, train_pairs, train_same, cfg.batch_size, generator)
    first = next(iter(pair_loader(data.x_train, train_pairs, train_same, cfg.batch_size, run_generator(seed))))
    hist = fit(
        step,
        loader,
        epochs,
        lambda epoch: evaluate_embeddings(
            embed(model, data.x_train), embed(model, data.x_test), data, thr_pairs, thr_same, cfg
        ),
        [epochs],
        step0_batch=first,
        step0_train_mode=True,
        progress=False,
    )
    return hist.evaluations[epochs]


def control_run(cfg: Config, data: PairData, spec: RunSpec) -> dict[str, Any]:
    """One control (the runner's task): its summary, the main runs' measures at its last epoch."""
    if spec["control"] == "shuffled":
        data = replace(data, y_train=shuffled_labels(data.y_train, spec.seed))
    metrics = train_one_loss(cfg, data, spec["loss"], spec.seed, spec["iterations"])
    return {
        "summary": {
            "dataset": spec["dataset"],
            "loss": spec["loss"],
            "control": spec["control"],
            "seed": spec.seed,
            "epochs": spec["iterations"],
            **metrics,
        }
    }
