"""Study 04's controls: the runs that test a proxy (MAP@R on held-out images of the training
classes, or on the unseen classes) before it ranks the grid's cells (``dml_utils.ruler``).

- **positive**: ``parameters.RULER``'s cell (sampler × loss) trained the grid's ``iterations`` (the
  grid's own run) against the same cell trained ``1/control_fraction`` of them, same seeds (the same
  initial net and first batches). More training must score higher.
- **negative**: the same cell trained the full budget on training labels shuffled across the
  images (class sizes kept). The grid's run on the true labels must score higher.

A module of its own so that its runs' cache key (this source and what it imports) leaves the
grid's runs untouched.
"""

from __future__ import annotations

from typing import Any

from dml_utils.class_disjoint import RetrievalData
from dml_utils.config import Config
from dml_utils.controls import control_inputs, control_specs
from dml_utils.runs import RunSpec

from .parameters import RULER, Ruler
from .plan import run


def control_plan(cfg: Config, ruler: Ruler = RULER) -> list[RunSpec]:
    """The short and the shuffled-label runs of the ruler's cell, every seed."""
    if ruler.control_sampler not in cfg.samplers or ruler.control_loss not in cfg.losses:
        raise ValueError(
            f"the controls' cell {ruler.control_sampler} × {ruler.control_loss} is not in the grid "
            f"(samplers {cfg.samplers}, losses {cfg.losses}); include it"
        )
    return control_specs(cfg, {"sampler": ruler.control_sampler, "loss": ruler.control_loss}, ruler.control_fraction)


def control_run(cfg: Config, data: RetrievalData, spec: RunSpec) -> dict[str, Any]:
    """One control (the runner's task), trained and scored as a grid run (``plan.run``): its summary."""
    cfg, data = control_inputs(cfg, data, spec)
    out = run(cfg, data, spec["sampler"], spec["loss"], spec.seed)
    return {"summary": {**out["summary"], "control": spec["control"]}}
