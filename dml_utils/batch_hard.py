"""Batch-hard triplet training on P × K batches (Hermans, Beyer & Leibe, "In Defense of the Triplet
Loss for Person Re-Identification", 2017), watched for collapse, and progressive batch growth.

The method that study 05 (``batch_hard_collapse``) runs, apart from the study, as ``hdml`` is apart
from study 02: a ``Setting`` (P, K, learning rate, hard or soft margin, plain or squared distance,
L2-normalized or not) trained by ``run`` on the engine with the collapse monitor; ``progressive_run``
grows P × K along a schedule once the loss stayed below the collapse value (``GrowingPKBatches``,
fed by the step's ``after_update``); ``collapse_map`` runs settings × seeds;
``gradient_norms_near_collapse`` shows why squared distances collapse more.

A class is one patch, its samples its views, so K is at most the 16 views an HPatches patch has.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from .collapse import LN2, CollapseMonitor
from .hpatches import IMAGE_TYPES
from .losses import batch_hard_triplet
from .models import SmallConvNet
from .sampling import ClassBalancedBatchSampler
from .seeds import run_rng, seed_everything
from .train import fit, labelled_loss, single_loss_step


@dataclass(frozen=True)
class Setting:
    """One cell of the collapse map."""

    p: int  # patches (classes) per batch
    k: int  # views per patch, 2..16
    lr: float  # Adam
    soft: bool = False  # soft margin ln(1 + e^x) instead of [m + x]₊
    squared: bool = False  # squared Euclidean instead of sqrt(· + 1e-12)
    normalize: bool = False  # L2-normalized descriptors
    margin: float = 0.5

    def __post_init__(self):
        if self.p < 2 or self.k < 2:
            raise ValueError(
                f"a P × K batch needs P >= 2 patches and K >= 2 views of each (a positive and a negative); "
                f"got P = {self.p}, K = {self.k}"
            )
        if self.k > len(IMAGE_TYPES):
            raise ValueError(
                f"K = {self.k} views per patch, but a patch has {len(IMAGE_TYPES)} (ref, e1…e5, h1…h5, t1…t5)"
            )
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")

    @property
    def collapse_value(self) -> tuple[str, float]:
        """The loss at identical descriptors: ln 2 for the soft margin, m for the hard one."""
        return ("ln 2", LN2) if self.soft else ("margin", self.margin)

    def label(self) -> str:
        return (
            f"P{self.p}×K{self.k} lr {self.lr:g} {'soft' if self.soft else 'hard'} "
            f"{'squared' if self.squared else 'plain'}{' L2-norm' if self.normalize else ''}"
        )


def run(
    x: torch.Tensor,
    y: np.ndarray,
    setting: Setting,
    seed: int,
    iterations: int,
    every: int = 10,
    window: int = 30,
    probe: int = 256,
    embedding_size: int = 128,
    progress: bool = False,
) -> dict[str, Any]:
    """Train a fresh descriptor net on P × K batches with the batch-hard loss for ``iterations``
    steps, watching for collapse on a fixed probe batch. Returns the outcome, the step losses,
    the monitor's records and the model."""
    if len(np.unique(y)) < setting.p:
        raise ValueError(f"P = {setting.p} patches per batch, but the training set has {len(np.unique(y))}; lower P")
    labels = torch.as_tensor(y)
    batches = [(x[b], labels[b]) for b in ClassBalancedBatchSampler(y, setting.p, setting.k, iterations, seed=seed)]
    return _train(
        x,
        y,
        setting,
        seed,
        batches,
        iterations,
        every=every,
        window=window,
        probe=probe,
        embedding_size=embedding_size,
        progress=progress,
    )


class GrowingPKBatches:
    """P × K batches that move to the next (P, K) of ``schedule`` once the mean of the last
    ``window`` losses of the current stage (read from ``losses``, to which the training step's
    ``after_update`` appends each step's loss) is below ``below``, the collapse value: report 002's progressive batch growth ("training the
    network while maintaining the loss below the margin"). A mean, not every loss: the batch-hard
    loss of small random batches jumps from step to step. ``growth`` records (step, (P, K))."""

    def __init__(
        self,
        x: torch.Tensor,
        y: np.ndarray,
        schedule: list[tuple[int, int]],
        iterations: int,
        below: float,
        window: int,
        seed: int,
        losses: list[float],
    ):
        if not schedule:
            raise ValueError("the schedule needs at least one (P, K)")
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.x, self.labels, self.losses = x, torch.as_tensor(y), losses
        self.samplers = [
            ClassBalancedBatchSampler(y, p, k, iterations, seed=seed + 1000 * i) for i, (p, k) in enumerate(schedule)
        ]
        self.schedule, self.iterations, self.below, self.window = list(schedule), iterations, below, window
        self.growth: list[tuple[int, tuple[int, int]]] = [(0, tuple(schedule[0]))]

    def __iter__(self):
        streams = [iter(s) for s in self.samplers]
        stage, since = 0, 0
        for step in range(self.iterations):
            recent = self.losses[since:]
            if (
                stage + 1 < len(self.schedule)
                and len(recent) >= self.window
                and np.mean(recent[-self.window :]) < self.below
            ):
                stage, since = stage + 1, len(self.losses)
                self.growth.append((step, tuple(self.schedule[stage])))
            b = next(streams[stage])
            yield self.x[b], self.labels[b]


def progressive_run(
    x: torch.Tensor,
    y: np.ndarray,
    schedule: list[tuple[int, int]],
    lr: float,
    seed: int,
    iterations: int,
    soft: bool = False,
    squared: bool = False,
    normalize: bool = False,
    margin: float = 0.5,
    window: int = 30,
    every: int = 10,
    probe: int = 256,
    embedding_size: int = 128,
    progress: bool = False,
    growth_window: int | None = None,
) -> dict[str, Any]:
    """``run`` with the batch growing along ``schedule`` (``GrowingPKBatches``): start small, grow
    P × K once the mean loss of the last ``growth_window`` steps (default: ``window``, the monitor's
    pinned-loss window) is below the collapse value."""
    settings = [Setting(p, k, lr, soft, squared, normalize, margin) for p, k in schedule]  # each stage checked
    for s in settings:
        if len(np.unique(y)) < s.p:
            raise ValueError(f"P = {s.p} patches per batch, but the training set has {len(np.unique(y))}; lower P")
    losses: list[float] = []
    batches = GrowingPKBatches(
        x,
        y,
        schedule,
        iterations,
        settings[0].collapse_value[1],
        window if growth_window is None else growth_window,
        seed,
        losses,
    )
    out = _train(
        x,
        y,
        settings[0],
        seed,
        batches,
        iterations,
        every=every,
        window=window,
        probe=probe,
        embedding_size=embedding_size,
        progress=progress,
        after_update=lambda v: losses.append(v["loss"]),
    )
    out["growth"] = batches.growth
    out["setting"]["schedule"] = [list(pk) for pk in schedule]
    return out


def _train(
    x,
    y,
    setting: Setting,
    seed: int,
    batches,
    iterations: int,
    *,
    every: int,
    window: int,
    probe: int,
    embedding_size: int,
    progress: bool,
    after_update=None,
) -> dict[str, Any]:
    """One run of ``setting`` on ``batches``; ``after_update`` (the step's) sees each step's losses."""
    seed_everything(seed)
    model = SmallConvNet(embedding_size=embedding_size, in_channels=1, image_size=x.shape[-1])
    miner, loss = batch_hard_triplet(
        margin=setting.margin, soft=setting.soft, squared=setting.squared, normalize=setting.normalize
    )
    opt = torch.optim.Adam(model.parameters(), lr=setting.lr)
    step = single_loss_step(model, labelled_loss(loss, miner), opt)
    step.after_update = after_update
    probe_rows = run_rng(10_000 + seed).choice(len(x), size=min(probe, len(x)), replace=False)
    name, value = setting.collapse_value
    monitor = CollapseMonitor(
        model, x[np.sort(probe_rows)], every=every, normalized=setting.normalize, pinned={name: value}, window=window
    )
    hist = fit(step, batches, 1, monitor=monitor, desc=setting.label(), progress=progress)
    first = hist.collapsed_at
    return {
        "setting": asdict(setting),
        "seed": seed,
        "iterations": iterations,
        "collapsed": first is not None,
        "collapsed_at": first["step"] if first else None,
        "reason": first["reason"] if first else None,
        "final_loss": hist.step_loss[-1],
        "final_spread": hist.collapse[-1]["spread"] if hist.collapse else float("nan"),
        "ms_per_iteration": hist.median_step_ms,
        "step_loss": hist.step_loss,
        "monitor": hist.collapse,
        "model": model,
    }


def gradient_norms_near_collapse(
    scales, p: int = 8, k: int = 4, dim: int = 16, soft: bool = False, margin: float = 0.5, seed: int = 0
) -> dict[str, list[float]]:
    """The norm of the batch-hard loss's gradient with respect to the descriptors when a fixed
    random batch is shrunk towards one point (descriptors = scale · z), for plain and squared
    distance. Plain Euclidean distance is homogeneous of degree 1, so its gradient keeps its size
    as the batch contracts; the squared distance's gradient shrinks with the scale: near collapse
    it stops pushing descriptors apart. At scale 0 both are exactly zero (the stationary point)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(p * k, dim, generator=g, dtype=torch.float64)
    labels = torch.arange(p).repeat_interleave(k)
    out = {"scale": [float(s) for s in scales], "plain": [], "squared": []}
    for squared in (False, True):
        miner, loss = batch_hard_triplet(margin=margin, soft=soft, squared=squared)
        for s in scales:
            e = (z * s).requires_grad_(True)
            value = loss(e, labels, miner(e, labels))
            (grad,) = torch.autograd.grad(value, e)
            out["squared" if squared else "plain"].append(float(grad.norm()))
    return out


def collapse_map(
    x: torch.Tensor,
    y: np.ndarray,
    settings: list[Setting],
    seeds: list[int],
    iterations: int,
    evaluate=None,
    progress: bool = True,
    **kwargs,
) -> tuple[Any, dict]:
    """Every setting × seed: a row each (the setting, collapsed or not, the step it was caught at,
    final loss and spread, and what ``evaluate(model, setting)`` returns, e.g. the test mAP).
    Returns (table, {(setting label, seed): step losses})."""
    import pandas as pd

    from .progress import bar

    rows, curves = [], {}
    for s, seed in bar(
        [(s, seed) for s in settings for seed in seeds], desc="collapse map", disable=not progress, mininterval=5
    ):
        r = run(x, y, s, seed, iterations, **kwargs)
        row = {
            **r["setting"],
            "label": s.label(),
            "seed": seed,
            "collapsed": r["collapsed"],
            "collapsed_at": r["collapsed_at"],
            "reason": r["reason"],
            "final_loss": r["final_loss"],
            "final_spread": r["final_spread"],
            "ms_per_iteration": r["ms_per_iteration"],
        }
        if evaluate is not None:
            row.update(evaluate(r["model"], s))
        rows.append(row)
        curves[(s.label(), seed)] = r["step_loss"]
    return pd.DataFrame(rows), curves
