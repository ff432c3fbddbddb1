"""Study 06's plans of runs: the tuning trials (one method at one setting, trained on the other
folds' classes and scored on one fold's) and the finals (one method at its best setting, trained on
every training class, scored on the unseen classes), as specs and the tasks that carry one out.

A run's cache key holds the source of this module and what it imports (dml_utils.runs,
dml_utils.methods, dml_utils.hdml, dml_utils.tuning, dml_utils.retrieval_run), not the study's
analysis: editing a claim or a table in ``study`` retrains nothing. Every method is trained by the same functions
(``train_step_and_evaluate`` for a trial, ``plateau.train_to_plateau`` for a final): the same backbone,
P × K batches, Adam, stopping rule and evaluation; only the (loss, miner) pair and the setting differ,
or HDML's step replaces the pair.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from dml_utils import hdml as H
from dml_utils.class_disjoint import RetrievalData
from dml_utils.config import Config
from dml_utils.evaluate import ONE_PROTOCOL, embed
from dml_utils.methods import HDML_FIXED, build, method
from dml_utils.plateau import PlateauRule, train_to_plateau
from dml_utils.retrieval_run import train_step_and_evaluate
from dml_utils.runs import RunSpec
from dml_utils.train import NonFiniteLossError, labelled_loss, model_device, single_loss_step
from dml_utils.tuning import class_folds, fold_data

NOT_SETTING = ("method", "fold")  # what a spec's setting holds beside the method's hyperparameters


def setting_of(spec: RunSpec) -> dict[str, Any]:
    """The method's hyperparameters (and ``lr`` when it is tuned) a spec holds."""
    return {k: v for k, v in spec.setting if k not in NOT_SETTING}


def train_method(
    cfg: Config,
    data: RetrievalData,
    name: str,
    setting: Mapping[str, Any],
    seed: int,
    iterations: int,
    desc: str,
    score: bool = True,
    to_plateau: bool = False,
):
    """One run of method ``name`` at ``setting`` (Adam at ``setting['lr']`` when the learning rate is
    tuned, else ``cfg.lr``). A trial (``score=False``) trains ``iterations`` steps and measures the
    validation MAP@R only; a scored run is scored on the test set by ``evaluate.ONE_PROTOCOL``
    (cosine k-NN: Precision@1, MAP@R, Recall@1), after ``iterations`` steps or, ``to_plateau``, at
    the best validation checkpoint of a run trained to its plateau (``plateau_rule``; the curve is
    returned under ``"curve"``). A run whose loss or gradient turns NaN or infinite ends as
    *diverged*: its scores are NaN (a trial the sampler learns nothing from), not an error that
    stops the plan."""
    run_cfg = replace(cfg, values={**cfg.values, "lr": float(setting.get("lr", cfg.lr))})
    m = method(name)
    built = build(name, setting, num_classes=int(data.y_train.max()) + 1)
    make = loss_maker(run_cfg, *built, m.loss_lr) if m.hdml is None else hdml_maker(run_cfg, data, built, m.hdml, seed)
    try:
        if to_plateau:
            r = train_to_plateau(
                run_cfg,
                data,
                make,
                seed,
                plateau_rule(cfg),
                desc,
                ONE_PROTOCOL,
                validate=lambda model: ONE_PROTOCOL.map_at_r(embed(model, data.x_val), data.y_val),
                watch=lambda model: {"test_map_at_r": ONE_PROTOCOL.map_at_r(embed(model, data.x_test), data.y_test)},
            )
        else:
            scoring = ONE_PROTOCOL if score else None
            r = train_step_and_evaluate(run_cfg, data, make, seed, iterations, desc, progress=False, scoring=scoring)
    except NonFiniteLossError as err:
        return {"method": name, "seed": seed, "iterations": iterations, "diverged": str(err).splitlines()[0]}
    if m.hdml:  # what HDML did at the end: eq. 1's λ (1: no pulling) and eq. 2's weight of J_m (1: no J_syn)
        r["summary"] |= {"final_hardness": make.parts.hardness, "final_balance": make.parts.balance}
    return {"method": name, **r["summary"], "diverged": ""} | ({"curve": r["curve"]} if to_plateau else {})


def plateau_rule(cfg: Config) -> PlateauRule:
    """The finals' stopping rule from the profile: a check every ``eval_every`` steps, at most ``iterations``."""
    return PlateauRule(cfg.eval_every, cfg.plateau_patience, cfg.plateau_min_gain, cfg.iterations)


def loss_maker(cfg: Config, loss_fn, miner, loss_lr: float | None):
    """``make(backbone)`` for ``train_step_and_evaluate``: Adam at ``cfg.lr`` on the backbone and a
    PML loss with its miner; the loss's own parameters (MarginLoss's β) in a group at ``loss_lr``.
    The same optimizer and step as ``retrieval_run.train_and_evaluate`` (notebooks 01 and 04) builds."""

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

    return make


def hdml_maker(cfg: Config, data: RetrievalData, settings: H.HDMLSettings, apply: bool, seed: int):
    """``make(backbone)`` for ``train_step_and_evaluate``: the backbone split at its own head
    (``hdml.split``: the network and initial weights every method gets), HDML's generator and softmax
    classifier over the training classes, and its step on the class-balanced batches cut into tuples
    (``hdml.BatchTuples``, the seed's own negatives); Adam at ``cfg.lr`` for the net, the official
    rates for the generator and the classifier. ``make.parts``: the HDML parts of the last call."""

    def make(backbone):
        net = H.split(backbone, data.x_train.shape[1:])
        parts = make.parts = H.HDML(net, np.unique(data.y_train), settings).to(next(backbone.parameters()).device)
        lrs = H.LearningRates(cfg.lr, HDML_FIXED["lr_gen"], HDML_FIXED["lr_softmax"])
        return net, H.hdml_step(net, parts, lrs, apply=apply, layout=H.BatchTuples(settings.loss, seed))

    return make


def trial_plan(cfg: Config, name: str, settings: list[Mapping[str, Any]]) -> list[RunSpec]:
    """Each setting on each fold, all at the tuning seed (the same initial weights and batches for
    every setting of a fold, so settings are compared under the same noise)."""
    return [
        RunSpec.of(
            cfg.notebook, "trial", cfg.tune_seed, {"method": name, "fold": f, **s}, iterations=cfg.trial_iterations
        )
        for s in settings
        for f in range(cfg.folds)
    ]


def folds(cfg: Config, data: RetrievalData) -> list[np.ndarray]:
    """The classes each fold holds out (``tuning.class_folds``); each fold keeps >= P classes to train on."""
    return class_folds(data.y_train, cfg.folds, cfg.fold_seed, min_train_classes=cfg.classes_per_batch)


def trial_run(cfg: Config, data: RetrievalData, spec: RunSpec) -> dict[str, Any]:
    """One trial (the runner's task): the spec's method and setting trained on the training classes
    outside its fold, MAP@R among the fold's classes (``val_map_at_r``)."""
    f = spec["fold"]
    fold = fold_data(data, folds(cfg, data)[f], f)
    out = train_method(
        cfg, fold, spec["method"], setting_of(spec), spec.seed, spec["iterations"], f"trial {spec.label()}", False
    )
    return {"fold": f, **out}


def final_plan(cfg: Config, best: Mapping[str, Mapping[str, Any]]) -> list[RunSpec]:
    """Each method at its best setting, every seed: the same seed gives every method the same
    initial weights and batches, so methods are compared paired by seed. ``iterations``: the most
    a final trains (it stops at its plateau)."""
    return [
        RunSpec.of(cfg.notebook, "final", seed, {"method": name, **best[name]}, iterations=cfg.iterations)
        for name in cfg.methods
        for seed in cfg.seeds
    ]


def final_data(cfg: Config, data: RetrievalData) -> RetrievalData:
    """What a final trains and validates on: the training classes outside the first of
    ``final_val_folds`` class folds (``fold_seed``) train; that fold's images are the validation set
    (the plateau and the checkpoint), never trained on; the unseen classes are the test set. The
    Reality Check validates its finals on classes held out the same way (one of its four partitions
    here, where it trains one model per partition)."""
    held = class_folds(data.y_train, cfg.final_val_folds, cfg.fold_seed, min_train_classes=cfg.classes_per_batch)[0]
    return replace(fold_data(data, held, 0), x_test=data.x_test, y_test=data.y_test)


def final_run(cfg: Config, data: RetrievalData, spec: RunSpec) -> dict[str, Any]:
    """One final (the runner's task): trained to its plateau on the training classes outside the
    validation fold (``final_data``), scored on the unseen classes at its best validation checkpoint."""
    return train_method(
        cfg,
        final_data(cfg, data),
        spec["method"],
        setting_of(spec),
        spec.seed,
        spec["iterations"],
        f"final {spec.label()}",
        to_plateau=True,
    )
