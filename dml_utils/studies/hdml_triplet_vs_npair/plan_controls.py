"""Study 02's controls: the runs that test a proxy (a test set and its metric) before it ranks the
grid's methods (``dml_utils.ruler``).

- **positive**: ``parameters.RULER.control_loss`` without HDML, trained the grid's ``iterations``
  (the grid's own run) against the same loss trained ``1/control_fraction`` of them, same seeds (the
  same initial net). More training of the same loss must score higher.
- **negative**: the same loss trained the full budget on training labels shuffled across the images
  (class sizes kept). The grid's run on the true labels must score higher.

Only the short and the shuffled runs are planned here. A module of its own so that its runs' cache
key (this source and what it imports) leaves the grid's runs untouched.
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
    """The short and the shuffled-label runs of ``ruler.control_loss`` (without HDML), every seed."""
    if ruler.control_loss not in cfg.losses:
        raise ValueError(f"the controls' loss {ruler.control_loss!r} is not in losses {cfg.losses}; include it")
    return control_specs(cfg, {"loss": ruler.control_loss, "hdml": False}, ruler.control_fraction)


def control_run(cfg: Config, data: RetrievalData, spec: RunSpec, progress: bool = False) -> dict[str, Any]:
    """One control (the runner's task), trained and scored as a grid run (``plan.run``); its summary
    and validation curve (not the net)."""
    cfg, data = control_inputs(cfg, data, spec)
    out = run(cfg, data, spec["loss"], spec["hdml"], spec.seed, progress)
    return {"summary": {**out["summary"], "control": spec["control"]}, "curve": out["curve"]}
