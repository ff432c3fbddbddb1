"""Plans of runs: specs that are hashable, picklable and stable, a runner whose results depend on each
spec alone, and the run cache behind it (a rerun trains nothing, an interrupted plan resumes, a
damaged entry is run again, a figure's code is not in any key)."""

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dml_utils import runs
from dml_utils.runs import RunCache, RunSpec, run_plan
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


def _draw(cfg, data, spec: RunSpec) -> float:
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
    # 4 P × K × 3 lr × 2 distances + 2 extra variants + Hermans', 6 seeds; progressive: 2 variants × 2 starts × 6
    "05_batch_hard_collapse": (
        lambda c: bhc.map_plan(c) + bhc.progressive_plan(c),
        (4 * 3 * 2 + 2 + 1) * 6 + 2 * 2 * 6,
    ),
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


# ---------------------------------------------------------------- the run cache
CALLS: list[RunSpec] = []  # what _counted trained, in this process
FAIL_AT: list[int] = []  # seeds at which _counted stops, as a killed process would


def _counted(cfg, data, spec: RunSpec) -> dict:
    if spec.seed in FAIL_AT:
        raise RuntimeError(f"interrupted at seed {spec.seed}")
    CALLS.append(spec)
    return {"draw": torch.rand(3), "scale": spec["scale"] * float(data.sum()), "lr": cfg.lr if cfg else None}


PLAN = [RunSpec.of("x", "k", seed, {"scale": 2.0}) for seed in range(4)]
DATA = torch.arange(6.0)


def _run(cache, task=_counted, plan=PLAN, data=DATA, **kw):
    CALLS.clear()
    out = run_plan(plan, task, data=data, cache=cache, progress=False, **kw)
    after = torch.rand(2)  # what the analysis after the plan draws
    return out, list(CALLS), after


def test_a_rerun_trains_nothing_and_gives_the_same_numbers_and_the_same_generator_state(tmp_path):
    cache = RunCache(tmp_path)
    plain, trained, after_plain = _run(False)
    first, trained_first, after_first = _run(cache)
    again, trained_again, after_again = _run(RunCache(tmp_path))  # a new process would open it so
    assert trained == trained_first == PLAN and trained_again == []
    assert [r["cached"] for r in first.log] == [False] * 4 and [r["cached"] for r in again.log] == [True] * 4
    for spec in PLAN:
        assert torch.equal(plain[spec]["draw"], again[spec]["draw"]) and plain[spec] == {
            **again[spec],
            "draw": plain[spec]["draw"],
        }
    assert torch.equal(after_plain, after_first) and torch.equal(after_plain, after_again)


def test_an_interrupted_plan_resumes_at_its_first_missing_run(tmp_path):
    cache = RunCache(tmp_path)
    FAIL_AT.append(2)
    try:
        with pytest.raises(RuntimeError, match="interrupted at seed 2"):
            _run(cache)
    finally:
        FAIL_AT.clear()
    assert CALLS == PLAN[:2]
    out, trained, _ = _run(cache)
    assert trained == PLAN[2:] and [r["cached"] for r in out.log] == [True, True, False, False]


def test_a_damaged_entry_is_run_again_with_a_warning(tmp_path):
    cache = RunCache(tmp_path)
    first, _, _ = _run(cache)
    outputs = sorted(Path(tmp_path).rglob("output.pkl"))
    assert len(outputs) == len(PLAN)
    outputs[0].write_bytes(outputs[0].read_bytes()[:20])  # truncated, as a full disk or a kill leaves it
    with pytest.warns(UserWarning, match="could not be read .* it was run again"):
        again, trained, _ = _run(cache)
    assert len(trained) == 1 and sum(not r["cached"] for r in again.log) == 1
    for spec in PLAN:
        assert torch.equal(first[spec]["draw"], again[spec]["draw"])
    third, trained, _ = _run(cache)
    assert trained == []  # the rerun stored it anew


def test_what_a_run_depends_on_is_in_its_key_and_nothing_else(tmp_path):
    from dml_utils.studies import config

    cache = RunCache(tmp_path)
    cfg = config("04_sampling_matters", "smoke")
    CALLS.clear()
    run_plan(PLAN[:2], _counted, cfg=cfg, data=DATA, cache=cache, progress=False)
    more_seeds = config("04_sampling_matters", "smoke", seeds=[0, 1, 2, 3, 4, 5])
    run_plan(PLAN[:3], _counted, cfg=more_seeds, data=DATA, cache=cache, progress=False)
    assert CALLS == PLAN[:3]  # adding a seed trains that seed's run alone
    CALLS.clear()
    run_plan(
        PLAN[:1],
        _counted,
        cfg=config("04_sampling_matters", "smoke", lr=cfg.lr * 10),
        data=DATA,
        cache=cache,
        progress=False,
    )
    run_plan(PLAN[:1], _counted, cfg=cfg, data=DATA + 1, cache=cache, progress=False)
    run_plan(PLAN[:1], _counted, cfg=cfg, data=DATA, cache=cache, threads=cfg.threads + 1, progress=False)
    assert len(CALLS) == 3  # another learning rate, other data, another thread count: other runs


def test_a_run_sees_no_parameter_its_key_leaves_out_and_its_log_reaches_the_results(tmp_path):
    from dml_utils.results import write_results
    from dml_utils.studies import config

    cfg = config("04_sampling_matters", "smoke")
    cfg.results_dir = tmp_path

    def reads(view, data, spec):
        return view.seeds

    with pytest.raises(AttributeError, match="no parameter 'seeds'"):
        run_plan(PLAN[:1], _reads_seeds, cfg=cfg, cache=False, progress=False)
    run_plan(PLAN[:2], _counted, cfg=cfg, data=DATA, cache=False, progress=False)
    assert [r["run"] for r in cfg.run_log] == [s.label() for s in PLAN[:2]] and not any(
        r["cached"] for r in cfg.run_log
    )
    import json

    doc = json.loads(write_results(cfg, {}, []).read_text())
    assert doc["run_log"] == cfg.run_log and {"host", "seconds", "key"} <= set(doc["run_log"][0])
    with pytest.raises(TypeError, match="module-level function"):
        run_plan(PLAN[:1], reads, cfg=cfg, cache=False, progress=False)
    with pytest.raises(TypeError, match="module-level function"):
        run_plan(PLAN[:1], lambda c, d, s: 0, cache=False, progress=False)


def _reads_seeds(cfg, data, spec):
    return cfg.seeds


def test_the_code_in_a_key_is_what_a_run_executes_not_figures_schemas_or_claims():
    for study in (
        "batch_hard_collapse",
        "circle_vs_triplet",
        "hdml_triplet_vs_npair",
        "sampling_matters",
        "yukawa_vs_contrastive",
    ):
        module = f"dml_utils.studies.{study}.plan"  # where the study's tasks live
        mods = runs.code_modules(module)
        assert module in mods and "dml_utils.train" in mods and "dml_utils.seeds" in mods
        assert not [
            m for m in mods if m.endswith((".figures", ".schema")) or m in ("dml_utils.plots", "dml_utils.results")
        ]
        # nor the study's analysis (claims, tables) or another study
        assert not [m for m in mods if m.startswith("dml_utils.studies.") and m != module]
    assert "dml_utils.batch_hard" in runs.code_modules("dml_utils.studies.batch_hard_collapse.plan")
    assert "dml_utils.hdml" in runs.code_modules("dml_utils.studies.hdml_triplet_vs_npair.plan")


def test_the_data_digest_is_by_content_and_the_same_in_another_process():
    code = "import torch, numpy as np; from dml_utils.runs import data_digest; print(data_digest({'x': torch.arange(6.0), 'y': np.arange(3)}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    import numpy as np

    assert out == runs.data_digest({"x": torch.arange(6.0), "y": np.arange(3)})
    assert out != runs.data_digest({"x": torch.arange(6.0) + 1, "y": np.arange(3)})


def test_a_full_disk_loses_the_cache_entry_not_the_run(tmp_path, monkeypatch):
    """A write that fails (ENOSPC) leaves no entry, half or whole: the plan finishes with the run's
    result, joblib warns, and the next plan trains that run again."""
    import errno

    import joblib._store_backends as backends

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    cache = RunCache(tmp_path)
    plain, _, _ = _run(False)
    with monkeypatch.context() as m:
        m.setattr(backends.numpy_pickle, "dump", full)
        with pytest.warns(UserWarning, match="could not be stored in .*a full disk.* trains it again"):
            out, trained, _ = _run(cache)
    assert trained == PLAN and all(torch.equal(out[s]["draw"], plain[s]["draw"]) for s in PLAN)
    assert not list(Path(tmp_path).rglob("output.pkl"))
    _, trained, _ = _run(cache)
    assert trained == PLAN


TWO_AT_ONCE = """
import sys, time, torch
from dml_utils.runs import RunCache, RunSpec, run_plan
sys.path.insert(0, {tests!r})
from test_runs import slow_draw
plan = [RunSpec.of("x", "k", seed) for seed in range(4)]
out = run_plan(plan, slow_draw, cache=RunCache({cache!r}), progress=False)
print([round(float(v), 6) for v in out.values()], sum(r["cached"] for r in out.log))
"""


def slow_draw(cfg, data, spec):
    import time

    time.sleep(0.3)
    return torch.rand(())


def test_two_processes_on_one_cache_at_once_finish_with_the_same_numbers(tmp_path):
    """Two `make reproduce` on one checkout share the run cache: joblib writes each entry atomically,
    so both finish, agree, and leave entries that a third run reads."""
    code = TWO_AT_ONCE.format(tests=str(Path(__file__).parent), cache=str(tmp_path))
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120)[0].split(" ") for p in procs]
    assert all(p.returncode == 0 for p in procs)
    first, second = (o[0:-1] for o in outs)
    assert first == second
    third = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert third.split(" ")[:-1] == first and third.split(" ")[-1].strip() == "4"  # all four from the cache


def test_an_entry_whose_content_changed_on_disk_is_caught_by_its_seal_and_run_again(tmp_path):
    """Issue 48: an entry that still unpickles but is not what was stored (a changed value, another
    entry's file copied over it) is not served: its content digest no longer matches its seal."""
    import joblib

    cache = RunCache(tmp_path)
    first, _, _ = _run(cache)
    outputs = sorted(Path(tmp_path).rglob("output.pkl"))
    seals = sorted((Path(tmp_path) / "seals").rglob("*"))
    assert len(outputs) == len(PLAN) and len([s for s in seals if s.is_file()]) == len(PLAN)
    value = joblib.load(outputs[0])
    joblib.dump({**value, "scale": value["scale"] + 1e-12}, outputs[0])  # one ulp-sized change, still a pickle
    outputs[1].write_bytes(outputs[2].read_bytes())  # another run's valid entry in its place
    with pytest.warns(UserWarning, match="does not match the content it was stored with"):
        again, trained, _ = _run(cache)
    assert len(trained) == 2 and sum(not r["cached"] for r in again.log) == 2
    for spec in PLAN:
        assert again[spec]["scale"] == first[spec]["scale"] and torch.equal(first[spec]["draw"], again[spec]["draw"])
    third, trained, _ = _run(cache)
    assert trained == [] and all(r["cached"] for r in third.log)  # stored and sealed anew


def _strided(cfg, data, spec: RunSpec) -> dict:
    CALLS.append(spec)
    whole = np.arange(36.0).reshape(6, 6) * spec.seed
    return {"view": whole[::2, 1::2], "transposed": whole.T}


def test_a_run_whose_result_holds_array_views_is_served_from_the_cache_without_an_alarm(tmp_path):
    """A view reads back as a contiguous copy with other strides, which joblib's hash holds: the seal
    is the digest of what a read gives, so an intact entry is not taken for a damaged one."""
    import warnings

    cache = RunCache(tmp_path)
    first, trained, _ = _run(cache, task=_strided)
    assert len(trained) == len(PLAN)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again, trained, _ = _run(cache, task=_strided)
    assert trained == [] and all(np.array_equal(first[s]["view"], again[s]["view"]) for s in PLAN)


def test_an_entry_stored_before_seals_is_sealed_as_found(tmp_path):
    import shutil

    cache = RunCache(tmp_path)
    _run(cache)
    shutil.rmtree(Path(tmp_path) / "seals")
    again, trained, _ = _run(cache)
    assert trained == [] and len([s for s in (Path(tmp_path) / "seals").rglob("*") if s.is_file()]) == len(PLAN)
