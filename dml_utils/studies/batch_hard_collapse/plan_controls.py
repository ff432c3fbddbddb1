"""Study 05's controls: the runs that test its descriptor proxy (matching mAP on the retrieval
table's test patches) before it ranks progressive growth against the large start
(``dml_utils.ruler``).

- **positive**: progressive growth (``parameters.RULER.control_variant``, at ``lr`` along the
  schedule) trained ``progressive_iterations`` (the progressive run itself) against the same
  trained ``1/control_fraction`` of them, same seeds. More training must score higher.
- **negative**: the same trained every step on training labels shuffled across the views (class
  sizes kept): the run on the true labels must score higher.

Each control is a run of the progressive plan (``plan.progressive_spec_run``), so the positive
control's full side is that run. A module of its own so that its runs' cache key leaves the
other runs untouched.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dml_utils.controls import control_specs, shuffled_labels
from dml_utils.runs import RunSpec

from .parameters import RULER, Ruler
from .plan import PatchData, progressive_spec_run


def control_plan(cfg, ruler: Ruler = RULER) -> list[RunSpec]:
    """The short and the shuffled-label progressive runs of the ruler's variant, every seed."""
    setting = {"start": "progressive", "variant": ruler.control_variant, "lr": cfg.lr, "schedule": cfg.schedule}
    return control_specs(cfg, setting, ruler.control_fraction, cfg.progressive_iterations)


def control_run(cfg, data: PatchData, spec: RunSpec) -> dict[str, Any]:
    """One control (the runner's task): the progressive run of its setting and budget, on shuffled
    labels for the negative control; its row (the progressive table's columns) and control."""
    if spec["control"] == "shuffled":
        data = replace(data, y=shuffled_labels(data.y, spec.seed))
    setting = {k: v for k, v in spec.setting if k != "control"}
    run = RunSpec.of(spec.study, "progressive", spec.seed, setting, iterations=spec["iterations"])
    out = progressive_spec_run(cfg, data, run)
    return {"summary": {**out["row"], "control": spec["control"]}}
