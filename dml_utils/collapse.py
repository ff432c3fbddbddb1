"""Collapse of an embedding, watched during training.

A metric-learning net collapses when it maps every input to (nearly) the same point: all
distances shrink to zero, every tuple's loss sits at the value it takes at identical embeddings
(the margin m of a hinge triplet loss, ln 2 for the soft margin), and the gradient there is zero
or pushes nowhere, so training stays put. :class:`CollapseMonitor` is checked by the engine
(:func:`dml_utils.train.fit`) every ``every`` steps and records, on a fixed probe batch:

- ``spread``: mean pairwise Euclidean distance of the probe embeddings relative to step 0
  (of the L2-normalized embeddings when ``normalized``);
- ``mean_cosine``: mean off-diagonal cosine similarity (→ 1 when the points merge into one
  direction, the measure for normalized heads);
- ``pinned_to``: the name of a ``pinned`` loss value that every one of the last ``window`` losses
  sits within ``atol`` of.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

LN2 = math.log(2.0)  # softplus(0): the soft-margin triplet loss at identical embeddings

# The collapse rules, here only; every study, plot and claim imports them.
SPREAD_BELOW = 0.05  # the monitor: probe spread below 5 % of its step-0 value is collapse
COSINE_ABOVE = 0.99  # ... and, for normalized heads, a mean off-diagonal cosine above this
# After training, on held-out images, for a study that monitors no probe batch (04): a mean
# different-class cosine similarity above this is collapse into a cone.
CONE_SIMILARITY = 0.9


def spread_collapsed(spread: float) -> bool:
    """The monitor's spread rule applied to a recorded spread (relative to step 0)."""
    return bool(spread < SPREAD_BELOW)


def cone_collapsed(different_class_similarity: float) -> bool:
    """The after-training rule: different classes' embeddings squeezed into one cone."""
    return bool(different_class_similarity > CONE_SIMILARITY)


@torch.no_grad()
def embedding_spread(emb: torch.Tensor, normalized: bool = False) -> dict[str, float]:
    """Mean pairwise distance and mean off-diagonal cosine of (N, D) embeddings, in float64."""
    e = emb.detach().to(torch.float64)
    if len(e) < 2:
        raise ValueError("the spread needs at least two embeddings")
    if normalized:
        e = nn.functional.normalize(e, dim=1)
    n = nn.functional.normalize(e, dim=1)
    cos = n @ n.T
    off = ~torch.eye(len(e), dtype=torch.bool)
    return {"mean_distance": float(torch.pdist(e).mean()), "mean_cosine": float(cos[off].mean())}


class CollapseMonitor:
    """Record embedding spread and pinned losses during a run; see the module docstring.

    ``model`` and ``x`` (a fixed probe batch) give the embeddings (computed in eval mode, no
    gradient, no random numbers drawn, so a monitored run trains exactly as an unmonitored one).
    ``loss`` names the loss the pin test reads from the history. A check says *collapsed* when
    the spread fell below ``spread_below`` of its step-0 value, when (``normalized``) the mean
    cosine exceeds ``cosine_above``, or when the loss is pinned.
    """

    def __init__(
        self,
        model: nn.Module,
        x: torch.Tensor,
        every: int = 50,
        normalized: bool = False,
        loss: str = "loss",
        pinned: dict[str, float] | None = None,
        window: int = 50,
        atol: float = 1e-3,
        spread_below: float = SPREAD_BELOW,
        cosine_above: float = COSINE_ABOVE,
    ):
        if every < 1 or window < 1:
            raise ValueError(f"every and window must be >= 1, got every={every}, window={window}")
        self.model, self.x, self.every, self.normalized, self.loss = model, torch.as_tensor(x), every, normalized, loss
        self.pinned, self.window, self.atol = dict(pinned or {}), window, atol
        self.spread_below, self.cosine_above = spread_below, cosine_above
        self.distance0 = float("nan")

    def _embed(self) -> torch.Tensor:
        was = self.model.training
        self.model.eval()
        with torch.no_grad():
            dev = next(self.model.parameters()).device
            out = self.model(self.x.to(dev))
        self.model.train(was)
        return out

    def pinned_to(self, losses: list[float]) -> str | None:
        """The name of the pinned value the last ``window`` losses all sit at, if any."""
        if len(losses) < self.window:
            return None
        tail = losses[-self.window :]
        for name, value in self.pinned.items():
            if max(abs(v - value) for v in tail) < self.atol:
                return name
        return None

    def check(self, step: int, losses: list[float]) -> dict[str, Any]:
        s = embedding_spread(self._embed(), self.normalized)
        if step == 0:
            self.distance0 = s["mean_distance"]
        ratio = s["mean_distance"] / self.distance0 if self.distance0 > 0 else float("nan")
        pin = self.pinned_to(losses)
        reasons = [
            r
            for r, hit in (
                (f"spread {ratio:.3g} of step 0", ratio < self.spread_below),
                (f"mean cosine {s['mean_cosine']:.4f}", self.normalized and s["mean_cosine"] > self.cosine_above),
                (f"loss pinned at {pin}", pin is not None),
            )
            if hit
        ]
        return {
            "step": step,
            "spread": ratio,
            "mean_distance": s["mean_distance"],
            "mean_cosine": s["mean_cosine"],
            "pinned_to": pin,
            "collapsed": bool(reasons),
            "reason": "; ".join(reasons),
        }

    # the engine's hooks
    def start(self, history) -> None:
        history.collapse.append(self.check(0, []))

    def after_step(self, history) -> None:
        if history.steps % self.every == 0:
            rec = self.check(history.steps, history.losses.get(self.loss, history.step_loss))
            history.collapse.append(rec)
            if rec["collapsed"] and history.collapsed_at is None:
                history.collapsed_at = rec
