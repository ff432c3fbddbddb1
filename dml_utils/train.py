"""One training loop for every notebook: tqdm progress, loss history, a guard on non-finite loss."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from .losses import pair_indices_tuple


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the message names the step."""


@dataclass
class History:
    step_loss: list[float] = field(default_factory=list)
    epoch_loss: list[float] = field(default_factory=list)
    evaluations: dict[int, Any] = field(default_factory=dict)  # epoch -> what on_epoch_end returned
    seconds: float = 0.0  # the whole call, evaluations included
    step_seconds: float = 0.0  # forward, loss, backward and optimizer steps only
    step_times: list[float] = field(default_factory=list)  # seconds of each of those steps

    @property
    def median_step_ms(self) -> float:
        """Median milliseconds per step: robust to the spikes of a shared machine, unlike the mean."""
        return 1e3 * float(np.median(self.step_times)) if self.step_times else float("nan")

    @property
    def steps(self) -> int:
        return len(self.step_loss)


LossStep = Callable[[nn.Module, Any], torch.Tensor]


def model_device(model: nn.Module) -> torch.device:
    """Where the model's parameters live; batches are moved there."""
    return next(model.parameters()).device


def pair_loss_step(loss_fn: nn.Module) -> LossStep:
    """A step on a batch of explicit pairs (x_first, x_second, same): one forward pass for both."""

    def step(model: nn.Module, batch) -> torch.Tensor:
        dev = model_device(model)
        xa, xb, same = (t.to(dev) for t in batch)
        emb = model(torch.cat([xa, xb]))
        return loss_fn(emb, None, pair_indices_tuple(same))

    return step


def labelled_step(loss_fn: nn.Module, miner: nn.Module | None = None) -> LossStep:
    """A step on a labelled batch (x, y): embed, mine tuples if a miner is given, apply the loss."""

    def step(model: nn.Module, batch) -> torch.Tensor:
        x, y = (t.to(model_device(model)) for t in batch)
        emb = model(x)
        return loss_fn(emb, y, miner(emb, y) if miner is not None else None)

    return step


def train(
    model: nn.Module,
    loss_step: LossStep,
    batches: Iterable,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    on_epoch_end: Callable[[int, nn.Module], Any] | None = None,
    eval_epochs: Iterable[int] = (),
    desc: str = "train",
    progress: bool = True,
) -> History:
    """Train for ``epochs`` passes over ``batches``; call ``on_epoch_end(epoch, model)`` at ``eval_epochs``.

    Raises NonFiniteLossError, naming epoch and step, as soon as a loss is NaN or infinite,
    before the optimizer applies it, so the weights stay those of the last good step.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    eval_epochs = set(eval_epochs)
    history = History()
    start = time.perf_counter()
    bar = tqdm(range(1, epochs + 1), desc=desc, disable=not progress, mininterval=2.0, leave=False)
    for epoch in bar:
        model.train()
        total, count = 0.0, 0
        for i, batch in enumerate(batches):
            t0 = time.perf_counter()
            loss = loss_step(model, batch)
            value = loss.item()
            if not math.isfinite(value):
                raise NonFiniteLossError(
                    f"{desc}: loss is {value} at epoch {epoch}, step {i} (global step {history.steps}). "
                    "Lower the learning rate, check the inputs for NaN/inf, or raise the loss's eps; "
                    "the model keeps the weights of the last finite step."
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            history.step_times.append(time.perf_counter() - t0)
            history.step_seconds += history.step_times[-1]
            history.step_loss.append(value)
            total += value
            count += 1
        if count == 0:
            raise ValueError("the batch iterator yielded no batches; is the training set empty?")
        history.epoch_loss.append(total / count)
        bar.set_postfix(loss=f"{total / count:.4f}", refresh=False)
        if on_epoch_end is not None and epoch in eval_epochs:
            history.evaluations[epoch] = on_epoch_end(epoch, model)
    history.seconds = time.perf_counter() - start
    return history
