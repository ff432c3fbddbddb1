"""Plans of runs: specs that are hashable, picklable and stable, and a runner whose results depend
on each spec alone."""

import pickle
import subprocess
import sys

import pytest
import torch

from dml_utils.runs import RunSpec, run_plan
from dml_utils.studies.batch_hard_collapse import study as bhc
from dml_utils.studies.circle_vs_triplet import study as ct
from dml_utils.studies.hdml_triplet_vs_npair import study as hv
from dml_utils.studies.sampling_matters import study as sm
from dml_utils.studies.yukawa_vs_contrastive import study as yc

SPEC = RunSpec.of("04_sampling_matters", "grid", 3, {"sampler": "hard", "loss": "margin"}, iterations=600)


def test_a_spec_is_hashable_picklable_and_reads_its_values():
    again = RunSpec.of("04_sampling_matters", "grid", 3, {"loss": "margin", "sampler": "hard"}, iterations=600)
    assert again == SPEC and hash(again) == hash(SPEC) and again.key() == SPEC.key()  # the setting's order is no matter
    assert pickle.loads(pickle.dumps(SPEC)) == SPEC
    assert SPEC["sampler"] == "hard" and SPEC["iterations"] == 600 and SPEC.seed == 3
    nested = RunSpec.of("05_batch_hard_collapse", "progressive", 0, {"schedule": [[8, 2], [16, 4]]}, iterations=50)
    assert nested["schedule"] == ((8, 2), (16, 4)) and hash(nested)  # lists frozen into tuples
    assert SPEC.key() != RunSpec.of("04_sampling_matters", "grid", 4, dict(SPEC.setting), iterations=600).key()
    with pytest.raises(KeyError, match="has no 'lr'; it has \\['loss', 'sampler', 'iterations'\\]"):
        SPEC["lr"]


def test_a_spec_refuses_what_cannot_name_a_run():
    with pytest.raises(TypeError, match="seed is an integer"):
        RunSpec.of("x", "grid", 1.0)
    with pytest.raises(TypeError, match="seed is an integer"):
        RunSpec.of("x", "grid", True)
    with pytest.raises(ValueError, match="given both as setting and as size"):
        RunSpec.of("x", "grid", 0, {"iterations": 5}, iterations=5)
    with pytest.raises(TypeError, match="unhashable"):
        RunSpec.of("x", "grid", 0, {"data": {1, 2}})


def test_a_specs_key_is_the_same_in_another_process():
    code = (
        "from dml_utils.runs import RunSpec; print(RunSpec.of('04_sampling_matters', 'grid', 3, "
        "{'sampler': 'hard', 'loss': 'margin'}, iterations=600).key())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == SPEC.key()


def _draw(spec: RunSpec) -> float:
    return float(torch.rand(()))  # from the global generator the runner seeded


def test_the_runner_seeds_each_run_from_its_spec_so_a_result_does_not_depend_on_the_runs_before():
    a, b = RunSpec.of("x", "k", 0), RunSpec.of("x", "k", 1)
    both = run_plan([a, b], _draw, progress=False)
    assert list(both) == [a, b]  # the plan's order
    alone = run_plan([b], _draw, progress=False)
    torch.rand(100)  # whatever ran before
    again = run_plan([b], _draw, threads=torch.get_num_threads(), progress=False)
    assert both[b] == alone[b] == again[b] and both[a] != both[b]


def test_the_runner_refuses_a_plan_that_names_a_run_twice_or_holds_something_else():
    with pytest.raises(ValueError, match="lists grid \\[loss=margin, sampler=hard\\] seed 3 twice"):
        run_plan([SPEC, SPEC], _draw, progress=False)
    with pytest.raises(TypeError, match="a plan holds RunSpecs"):
        run_plan([("hard", "margin", 3)], _draw, progress=False)


PLANS = {  # notebook: (its plans at a config, runs at the default profile)
    "01_circle_vs_triplet_margin": (lambda c: ct.main_plan(c) + ct.sweep_plan(c), 10 + (7 + 10) * 3),
    "02_hdml_triplet_vs_npair": (hv.grid_plan, 2 * 2 * 5),
    "03_yukawa_vs_contrastive_mnist": (lambda c: yc.seed_plan(c, "mnist"), 5),
    "04_sampling_matters": (sm.grid_plan, 4 * 3 * 5),
    "05_batch_hard_collapse": (lambda c: bhc.map_plan(c) + bhc.progressive_plan(c), 66),
}


@pytest.mark.parametrize("notebook", sorted(PLANS))
def test_each_studys_plan_names_every_run_once(notebook):
    from dml_utils.studies import config

    cfg = config(notebook, "default")
    make, runs = PLANS[notebook]
    plan = make(cfg)
    assert len(set(plan)) == len(plan) == runs and all(s.study == notebook for s in plan)
    assert {s.seed for s in plan} <= set(cfg.seeds) | set(cfg.values.get("sweep_seeds", []))
    assert pickle.loads(pickle.dumps(plan)) == plan
