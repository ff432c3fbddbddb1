"""Training to a plateau with the best validation checkpoint ("A Metric Learning Reality Check",
Musgrave, Belongie & Lim, ECCV 2020: every run is scored at its best validation epoch).

A run is checked every ``check_every`` steps, from step 0 (the untrained net is a checkpoint too);
it stops at the first check where the last ``patience`` checks scored no more than
``min_gain`` above the best score before them (Keras' ``EarlyStopping`` with ``min_delta`` and
``patience``, on the whole history rather than a running counter), or at ``max_iterations``. The
checkpoint kept is the best validation score's (the earliest of equal ones), whatever the stop.
A run that reached ``max_iterations`` without meeting the rule has *not* plateaued: its score is
that of a run still improving, and a ranking on it cannot be read.

Written by hand because the engine (``train.fit``) runs a fixed number of passes, and neither
PyTorch nor pytorch-metric-learning has an early-stopping loop for a bare training step (PML's
``testers``/``hooks`` need its trainers, which this engine does not use). The loop calls ``fit``
one pass of ``check_every`` steps at a time: the batch sampler's stream and the optimizers'
state carry over, so the steps are those of one ``fit`` call of as many passes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from .class_disjoint import RetrievalData
from .config import Config, resolve_device, seed_everything
from .data import batch_loader, select_rows
from .evaluate import Protocol, embed, similarity_stats
from .retrieval_run import build_backbone, fixed_batches
from .sampling import ClassBalancedBatchSampler
from .models import weight_distance
from .train import Step, fit


@dataclass(frozen=True)
class PlateauRule:
    """When a run stops, and whether it plateaued. Its values go into the runs' specs (their cache keys)."""

    check_every: int = 100  # steps between validation checks (and at step 0)
    patience: int = 5  # checks in a row that must bring no gain above min_gain
    min_gain: float = 0.005  # in the validation metric: a gain at most this large is no gain
    max_iterations: int = 2000  # a run that has not plateaued by then stops, marked as not plateaued

    def __post_init__(self) -> None:
        for name in ("check_every", "patience", "max_iterations"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"PlateauRule.{name} must be >= 1, got {getattr(self, name)}")
        if not self.min_gain >= 0:
            raise ValueError(f"PlateauRule.min_gain must be >= 0, got {self.min_gain}")
        if self.max_iterations % self.check_every:
            raise ValueError(
                f"PlateauRule.max_iterations ({self.max_iterations}) must be a multiple of "
                f"check_every ({self.check_every})"
            )

    def as_spec(self) -> dict[str, Any]:
        """The rule as a spec's items (prefixed, so they cannot clash with a method's hyperparameters)."""
        return {f"plateau_{k}": v for k, v in asdict(self).items()}

    @classmethod
    def from_spec(cls, items: dict[str, Any]) -> PlateauRule:
        return cls(**{k.removeprefix("plateau_"): v for k, v in items.items() if k.startswith("plateau_")})


def best_check(scores: Sequence[float]) -> int:
    """Index of the best score (the earliest of equal ones); NaN scores never win."""
    values = np.asarray(scores, dtype=float)
    if not np.isfinite(values).any():
        return 0
    return int(np.nanargmax(np.where(np.isfinite(values), values, -np.inf)))


def plateaued(scores: Sequence[float], rule: PlateauRule) -> bool:
    """Whether the checks so far (index 0 = step 0) meet the rule: the last ``patience`` scores are
    no more than ``min_gain`` above the best of those before them."""
    if len(scores) <= rule.patience:
        return False
    before, last = np.asarray(scores[: -rule.patience], float), np.asarray(scores[-rule.patience :], float)
    return bool(np.nanmax(last) <= np.nanmax(before) + rule.min_gain)


def train_to_plateau(
    cfg: Config,
    data: RetrievalData,
    make: Callable[[torch.nn.Module], tuple[torch.nn.Module, Step]],
    seed: int,
    rule: PlateauRule,
    desc: str,
    scoring: Protocol,
    validate: Callable[[torch.nn.Module], float],
    watch: Callable[[torch.nn.Module], dict[str, float]] | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Train a fresh backbone (initialized from ``seed``, batches drawn from ``seed``) with the Step
    ``make(backbone)`` returns, checking ``validate(model)`` every ``rule.check_every`` steps from
    step 0, until the rule says the run plateaued or ``rule.max_iterations``; then score the best
    checkpoint's embedding of the test set by ``scoring``. ``watch(model)`` is recorded at every
    check beside the validation score and never decides anything (e.g. the test curve, to show
    where it peaks). Returns the summary row, the curve and the step losses."""
    seed_everything(seed)
    device = resolve_device(cfg.device)
    model, step = make(build_backbone(cfg, data).to(device))
    sampler = ClassBalancedBatchSampler(
        data.y_train,
        cfg.classes_per_batch,
        cfg.samples_per_class,
        rule.check_every,
        seed=seed,
        batch_size=cfg.batch_size,
    )
    loader = batch_loader(data.x_train, data.y_train, sampler)
    first = fixed_batches(data.y_train, cfg, 1, seed)[0]  # = the first training batch (same seed, same stream)
    initial = {n: v.detach().clone() for n, v in model.state_dict().items()}
    curve: list[dict[str, float]] = []
    best_state: dict[str, torch.Tensor] = copy.deepcopy(model.state_dict())

    def check(iteration: int) -> None:
        nonlocal best_state
        row = {"iteration": iteration, "val_map_at_r": float(validate(model))}
        if watch is not None:
            row |= watch(model)
        curve.append(row)
        if best_check([c["val_map_at_r"] for c in curve]) == len(curve) - 1:
            best_state = copy.deepcopy(model.state_dict())

    check(0)
    step_times: list[float] = []
    step_loss: list[float] = []
    step0: dict[str, float] = {}
    iteration = 0
    while iteration < rule.max_iterations:
        hist = fit(
            step,
            loader,
            1,
            step0_batch=None
            if iteration
            else (torch.as_tensor(select_rows(data.x_train, first)), torch.as_tensor(data.y_train[first])),
            step0_train_mode=False,
            desc=f"{desc} @{iteration}",
            progress=progress,
        )
        step0 = step0 or hist.step0
        step_times += hist.step_times
        step_loss += hist.step_loss
        iteration += rule.check_every
        check(iteration)
        if plateaued([c["val_map_at_r"] for c in curve], rule):
            break
    scores = [c["val_map_at_r"] for c in curve]
    best = best_check(scores)
    weight_move = weight_distance(model, initial)
    model.load_state_dict(best_state)
    summary = {
        "seed": seed,
        "iterations": iteration,  # steps trained before the rule stopped the run
        "best_iteration": curve[best]["iteration"],  # the checkpoint scored
        "plateaued": plateaued(scores, rule),
        "loss_step0": step0[step.main_loss],
        "weight_move": weight_move,  # of the last step's weights, not the checkpoint's
        "ms_per_iteration": 1e3 * float(np.median(step_times)),
        "val_map_at_r": scores[best],
    }
    summary |= scoring.score(embed(model, data.x_test), data.y_test)
    summary |= {f"val_{k}": v for k, v in similarity_stats(embed(model, data.x_val), data.y_val).items()}
    return {"summary": summary, "curve": curve, "step_loss": step_loss, "model": model}
