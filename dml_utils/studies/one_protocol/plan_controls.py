"""Study 06's controls: the runs that test the proxy before it ranks anything.

A ranking on a proxy means something only if the proxy orders two comparisons whose answer is
known in advance, by the same rule, on the same test data:

- **positive**: ``parameters.RULER.control_method`` at its tuned setting trained to its plateau
  (the final) against the same setting trained ``1/control_fraction`` of the finals' most steps
  (same seeds: the same initial weights and first batches), scored at its last step. Training to
  the plateau must score higher.
- **negative**: the same setting trained to its plateau by the same rule on training labels
  shuffled across the images (class sizes kept, an image's label its own class only by chance;
  the validation classes keep theirs). It must score below the same loss trained on the true labels.

Both train on the finals' data (``plan.final_data``). The other side of both is the finals' own
run of ``control_method`` (``plan.final_plan``), so only the short and the shuffled runs are
planned here. A module of its own so that its runs' cache
key (this source and what it imports) leaves the tuning trials and the finals untouched.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dml_utils.class_disjoint import RetrievalData
from dml_utils.config import Config
from dml_utils.controls import CONTROLS, control_inputs, control_specs, shuffled_labels  # noqa: F401 (tests read them here)
from dml_utils.runs import RunSpec

from .parameters import RULER, Ruler
from .plan import final_data, setting_of, train_method


def control_plan(cfg: Config, best: Mapping[str, Mapping[str, Any]], ruler: Ruler = RULER) -> list[RunSpec]:
    """The short and the shuffled-label runs of ``ruler.control_method`` at its best setting, every seed."""
    name = ruler.control_method
    if name not in best:
        raise ValueError(f"the controls' method {name!r} was not tuned here (methods: {sorted(best)}); include it")
    return control_specs(cfg, {"method": name, **best[name]}, ruler.control_fraction)


def control_run(cfg: Config, data: RetrievalData, spec: RunSpec) -> dict[str, Any]:
    """One control (the runner's task), trained and scored as a final (``plan.train_method``): the
    short one for its fixed steps, the shuffled one to its plateau."""
    cfg, data = control_inputs(cfg, final_data(cfg, data), spec, set_iterations=False)
    setting = {k: v for k, v in setting_of(spec).items() if k != "control"}
    out = train_method(
        cfg,
        data,
        spec["method"],
        setting,
        spec.seed,
        spec["iterations"],
        f"control {spec.label()}",
        to_plateau=spec["control"] == "shuffled",
    )
    out.pop("curve", None)
    return {"control": spec["control"], **out}
