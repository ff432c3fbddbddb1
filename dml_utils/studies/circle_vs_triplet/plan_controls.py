"""Study 01's controls: the runs that test a proxy (MAP@R on held-out images of the training
classes, or on the unseen classes) before it ranks circle against triplet (``dml_utils.ruler``).

- **positive**: ``parameters.RULER.control_loss`` at its main margin behind the main miner,
  trained the main runs' ``iterations`` (the main run itself) against the same trained
  ``1/control_fraction`` of them, same seeds (the same initial net and first batches). More
  training must score higher.
- **negative**: the same trained the full budget on training labels shuffled across the images
  (class sizes kept). The main run on the true labels must score higher.

A module of its own so that its runs' cache key (this source and what it imports) leaves the
main, sweep and miner runs untouched.
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
    """The short and the shuffled-label runs of the ruler's loss at its main margin, every seed."""
    margins = {"circle": cfg.circle_margin, "triplet": cfg.triplet_margin}
    if ruler.control_loss not in margins:
        raise ValueError(f"the controls' loss {ruler.control_loss!r} is not one of {sorted(margins)}")
    setting = {"loss": ruler.control_loss, "margin": margins[ruler.control_loss]}
    return control_specs(cfg, setting, ruler.control_fraction)


def control_run(cfg: Config, data: RetrievalData, spec: RunSpec) -> dict[str, Any]:
    """One control (the runner's task), trained and scored as a main run (``plan.run``, untracked):
    its summary."""
    cfg, data = control_inputs(cfg, data, spec, set_iterations=False)
    out = run(cfg, data, spec["loss"], spec["margin"], spec.seed, spec["iterations"], track=False, progress=False)
    return {"summary": {**out["summary"], "control": spec["control"]}}
