"""The experiment engine every notebook trains with.

A run is a :class:`Step` (the models it trains, a function from a batch to *named* losses, and
its updates: each optimizer with the one loss that alone moves its parameters) driven by
:func:`fit` over passes of a batch iterable. ``fit`` writes once what every experiment needs:
the initial-weight snapshot, the losses before the first update, weight movement, the guard on
non-finite losses and gradients (it names the step, the loss and the parameter, and no optimizer
steps on a bad batch), a progress bar, evaluation callbacks on a schedule, an optional collapse
monitor (:mod:`dml_utils.collapse`) and a :class:`History`.

A *pass* is one run through the batch iterable: an epoch of the pair loader in notebook 03, a
block of ``eval_every`` class-balanced batches in notebooks 01 and 04.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np
import torch
from torch import nn

from .models import weight_distance
from .progress import bar as progress_bar


class NonFiniteLossError(FloatingPointError):
    """A loss or a gradient became NaN or infinite; the message names the step, loss and parameter."""


@dataclass
class Update:
    """One optimizer and the name of the loss whose gradient alone moves its parameters."""

    loss: str
    optimizer: torch.optim.Optimizer

    @property
    def params(self) -> list[torch.Tensor]:
        return [p for g in self.optimizer.param_groups for p in g["params"] if p.requires_grad]


@dataclass
class Step:
    """What one training step is.

    ``losses(batch)`` runs the forward pass and returns the named losses (a dict; the first
    update's loss is the run's main loss, shown in the progress bar and kept in
    ``History.step_loss``). Each :class:`Update` differentiates its own loss with respect to its
    own optimizer's parameters only, so a loss never leaks into another group (HDML's generator
    loss reaches the embedding head in the graph but updates only the generator).
    """

    models: dict[str, nn.Module]
    losses: Callable[[Any], dict[str, torch.Tensor]]
    updates: list[Update]
    # called with every named loss's value after the optimizers stepped (not on the step-0 pass),
    # for state a step keeps across steps, such as HDML's block means of J_m and J_gen
    after_update: Callable[[dict[str, float]], None] | None = None

    def __post_init__(self) -> None:
        if not self.updates:
            raise ValueError("a Step needs at least one Update (an optimizer and the loss that drives it)")
        seen: dict[int, str] = {}
        for u in self.updates:
            for p in u.params:
                if id(p) in seen:
                    raise ValueError(
                        f"a parameter is in the optimizers of both {seen[id(p)]!r} and {u.loss!r}; "
                        "each parameter group must have one loss"
                    )
                seen[id(p)] = u.loss

    @property
    def main_loss(self) -> str:
        return self.updates[0].loss

    def train(self, mode: bool = True) -> None:
        for m in self.models.values():
            m.train(mode)

    def parameter_names(self) -> dict[int, str]:
        return {id(p): f"{name}.{pname}" for name, m in self.models.items() for pname, p in m.named_parameters()}


@dataclass
class History:
    step_loss: list[float] = field(default_factory=list)  # the main loss at every step
    losses: dict[str, list[float]] = field(default_factory=dict)  # every named loss at every step
    pass_loss: list[float] = field(default_factory=list)  # mean main loss of each pass
    step0: dict[str, float] = field(default_factory=dict)  # the named losses before the first update
    initial_state: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)  # model name -> state at the start
    evaluations: dict[int, Any] = field(default_factory=dict)  # pass -> what evaluate(pass) returned
    weight_move: dict[int, dict[str, float]] = field(default_factory=dict)  # pass -> model -> ||w − w0|| / ||w0||
    collapse: list[dict[str, Any]] = field(default_factory=list)  # the collapse monitor's records
    collapsed_at: dict[str, Any] | None = None  # the first record that says collapsed
    seconds: float = 0.0  # the whole call, evaluations included
    step_seconds: float = 0.0  # forward, losses, backward and optimizer steps only
    step_times: list[float] = field(default_factory=list)  # seconds of each of those steps

    @property
    def median_step_ms(self) -> float:
        """Median milliseconds per step: robust to the spikes of a shared machine, unlike the mean."""
        return 1e3 * float(np.median(self.step_times)) if self.step_times else float("nan")

    @property
    def steps(self) -> int:
        return len(self.step_loss)


# ---------------------------------------------------------------- batch -> loss functions and one-optimizer steps
LossOfBatch = Callable[[nn.Module, Any], torch.Tensor]


def model_device(model: nn.Module) -> torch.device:
    """Where the model's parameters live; batches are moved there."""
    return next(model.parameters()).device


def labelled_loss(loss_fn: nn.Module, miner: nn.Module | None = None) -> LossOfBatch:
    """The loss of a labelled batch (x, y): embed, mine tuples if a miner is given, apply the loss."""

    def of(model: nn.Module, batch) -> torch.Tensor:
        x, y = (t.to(model_device(model)) for t in batch)
        emb = model(x)
        return loss_fn(emb, y, miner(emb, y) if miner is not None else None)

    return of


def single_loss_step(
    model: nn.Module,
    loss_of_batch: LossOfBatch,
    optimizer: torch.optim.Optimizer,
    name: str = "loss",
    extra_models: dict[str, nn.Module] | None = None,
) -> Step:
    """The common case: one model, one loss, one optimizer (which may also hold a loss module's
    parameters, e.g. MarginLoss's β; name that module in ``extra_models`` for readable errors)."""
    return Step(
        {"model": model, **(extra_models or {})},
        lambda batch: {name: loss_of_batch(model, batch)},
        [Update(name, optimizer)],
    )


# ---------------------------------------------------------------- the loop
def _losses_before_training(step: Step, batch, train_mode: bool) -> dict[str, float]:
    was = {k: m.training for k, m in step.models.items()}
    step.train(train_mode)
    with torch.no_grad():
        out = {k: float(v) for k, v in step.losses(batch).items()}
    for k, m in step.models.items():
        m.train(was[k])
    return out


def _where(desc: str, p: int, i: int, history: History) -> str:
    return f"{desc}: pass {p}, step {i} (global step {history.steps})"


def _kept(history: History) -> str:
    return (
        f"No optimizer stepped on this batch, so the weights are those after global step {history.steps - 1}"
        if history.steps
        else "No optimizer has stepped yet: the weights are the initial ones"
    )


def _guard_losses(values: dict[str, float], where: str, history: History) -> None:
    bad = {k: v for k, v in values.items() if not math.isfinite(v)}
    if bad:
        raise NonFiniteLossError(
            f"{where}: loss {', '.join(f'{k!r} is {v}' for k, v in bad.items())}. {_kept(history)}. "
            "Lower the learning rate, check the inputs for NaN/inf, or raise the loss's eps."
        )


def _guard_gradients(step: Step, values: dict[str, float], where: str, history: History, names: dict[int, str]) -> None:
    grads = [p.grad for u in step.updates for p in u.params if p.grad is not None]
    # fast path: one fused norm per gradient (a NaN or inf anywhere makes its norm non-finite);
    # only when that says so (or a huge finite gradient overflowed the norm) are the elements checked
    if not grads or bool(torch.isfinite(torch.stack(torch._foreach_norm(grads))).all()):
        return
    for u in step.updates:
        for p in u.params:
            if p.grad is not None and not bool(torch.isfinite(p.grad).all()):
                kind = "NaN" if bool(torch.isnan(p.grad).any()) else "infinite"
                raise NonFiniteLossError(
                    f"{where}: the gradient of loss {u.loss!r} is {kind} for parameter {names.get(id(p), '(unnamed)')!r} "
                    f"although the loss is finite ({values[u.loss]}). {_kept(history)}. Check the inputs for inf/NaN (a finite loss can hide them) "
                    "and the loss for operations without an eps (square roots, divisions at zero)."
                )


def fit(
    step: Step,
    batches: Iterable,
    passes: int,
    evaluate: Callable[[int], Any] | None = None,
    eval_passes: Iterable[int] = (),
    monitor=None,
    step0_batch=None,
    step0_train_mode: bool = True,
    desc: str = "train",
    progress: bool = True,
    nonfinite: str = "raise",
) -> History:
    """Run ``passes`` passes over ``batches``.

    Before the first update: snapshot every model's weights and, when ``step0_batch`` is given,
    the named losses on it without gradients (in train or eval mode). At each pass in
    ``eval_passes``: ``evaluate(pass)`` and every model's weight movement. With a ``monitor``
    (a :class:`dml_utils.collapse.CollapseMonitor`), it is started now and checked at its schedule.

    Raises NonFiniteLossError, naming pass, step, loss (and parameter), as soon as a loss or a
    gradient is NaN or infinite, before any optimizer applies it. ``nonfinite="zero"`` is the guard
    of HDML's official TensorFlow loop instead, for the study of its NaN (notebook 02): a loss that
    is NaN is replaced by 0 before it is differentiated, nothing is checked, the NaN stays in the
    recorded losses, and a NaN gradient reaches the weights.
    """
    if passes < 1:
        raise ValueError(f"passes must be >= 1, got {passes}")
    if nonfinite not in ("raise", "zero"):
        raise ValueError(f"nonfinite must be 'raise' or 'zero', got {nonfinite!r}")
    guard = nonfinite == "raise"
    eval_passes = set(eval_passes)
    history = History(losses={u.loss: [] for u in step.updates})
    history.initial_state = {
        k: {n: v.detach().clone() for n, v in m.state_dict().items()} for k, m in step.models.items()
    }
    if step0_batch is not None:
        history.step0 = _losses_before_training(step, step0_batch, step0_train_mode)
    if monitor is not None:
        monitor.start(history)
    names = step.parameter_names()
    main = step.main_loss
    multi = len(step.updates) > 1
    start = time.perf_counter()
    bar = progress_bar(range(1, passes + 1), desc=desc, disable=not progress, mininterval=2.0, leave=False)
    for p in bar:
        step.train(True)
        total, count = 0.0, 0
        for i, batch in enumerate(batches):
            t0 = time.perf_counter()
            losses = step.losses(batch)
            missing = [u.loss for u in step.updates if u.loss not in losses]
            if missing:
                raise KeyError(f"the step returned losses {sorted(losses)} but its updates need {missing}")
            values = {k: v.item() for k, v in losses.items()}
            if guard:
                _guard_losses(values, _where(desc, p, i, history), history)
            else:
                losses = {k: torch.where(torch.isnan(v), torch.zeros_like(v), v) for k, v in losses.items()}
            for u in step.updates:
                u.optimizer.zero_grad(set_to_none=True)
            if multi:  # each loss differentiated w.r.t. its own group only
                for j, u in enumerate(step.updates):
                    params = u.params
                    grads = torch.autograd.grad(
                        losses[u.loss], params, retain_graph=j < len(step.updates) - 1, allow_unused=True
                    )
                    for prm, g in zip(params, grads):
                        prm.grad = g
            else:
                losses[main].backward()
            if guard:
                _guard_gradients(step, values, _where(desc, p, i, history), history, names)
            for u in step.updates:
                u.optimizer.step()
            if step.after_update is not None:
                step.after_update(values)
            history.step_times.append(time.perf_counter() - t0)
            history.step_seconds += history.step_times[-1]
            for k, v in values.items():
                history.losses.setdefault(k, []).append(v)
            history.step_loss.append(values[main])
            total += values[main]
            count += 1
            if monitor is not None:
                monitor.after_step(history)
        if count == 0:
            raise ValueError("the batch iterator yielded no batches; is the training set empty?")
        history.pass_loss.append(total / count)
        bar.set_postfix(loss=f"{total / count:.4f}", refresh=False)
        if p in eval_passes:
            history.weight_move[p] = {k: weight_distance(m, history.initial_state[k]) for k, m in step.models.items()}
            if evaluate is not None:
                history.evaluations[p] = evaluate(p)
    history.seconds = time.perf_counter() - start
    return history
