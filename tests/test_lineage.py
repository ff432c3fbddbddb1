"""Code lineage (issue 49): a code change that moves no number keeps its runs, found by retraining a
sample bit for bit; one that moves numbers is caught and retrains everything."""

import json
import time
from dataclasses import dataclass, field

import pytest
import torch

from dml_utils import lineage, runs
from dml_utils.runs import RunCache, RunSpec, run_plan
from dml_utils.studies import config

PLAN = [RunSpec.of("04_sampling_matters", "k", seed, {"scale": 2.0}) for seed in range(5)]
DATA = torch.arange(6.0)
CALLS: list[int] = []
MODULE = __name__  # the tasks' module: its code digest is set by each test


def _task(cfg, data, spec):
    CALLS.append(spec.seed)
    return {"draw": torch.rand(3), "scale": spec["scale"] * float(data.sum())}


def _timed(cfg, data, spec):  # as every study's task: the numbers, and the step time the clock gave
    CALLS.append(spec.seed)
    return {"draw": torch.rand(3), "summary": {"ms_per_iteration": time.perf_counter(), "scale": spec["scale"]}}


def _moved(cfg, data, spec):  # today's code that changes a number
    CALLS.append(spec.seed)
    return {"draw": torch.rand(3) + 1e-7, "scale": spec["scale"] * float(data.sum())}


def _plan(tmp_path, monkeypatch, digest, task=_task):
    monkeypatch.setattr(runs, "code_digest", lambda module: digest)
    CALLS.clear()
    cfg = config("04_sampling_matters", "smoke", root=tmp_path)
    return run_plan(PLAN, task, cfg=cfg, data=DATA, cache=RunCache(tmp_path / "cache"), progress=False)


def _committed(tmp_path, digest):
    (tmp_path / "results").mkdir(exist_ok=True)
    (tmp_path / "results" / "04_sampling_matters.json").write_text(json.dumps({"plan_codes": {MODULE: digest}}))


def test_a_change_that_moves_no_number_carries_its_runs_forward_after_an_audit(tmp_path, monkeypatch, capsys):
    first = _plan(tmp_path, monkeypatch, "old")
    _committed(tmp_path, "old")
    monkeypatch.setenv(lineage.CARRY_ENV, "2")
    today = _plan(tmp_path, monkeypatch, "new")
    assert len(CALLS) == 2  # the audit retrained two runs, every other run came from the old code's entries
    assert "2 runs of test_lineage retrained bit for bit" in capsys.readouterr().out
    (record,) = lineage.read(tmp_path)
    assert (record["module"], record["source"], record["target"], len(record["audited"])) == (MODULE, "old", "new", 2)
    assert sum(r.get("carried_from") == "old" for r in today.log) == 3
    for spec in PLAN:
        assert torch.equal(first[spec]["draw"], today[spec]["draw"])
    monkeypatch.delenv(lineage.CARRY_ENV)
    again = _plan(tmp_path, monkeypatch, "new")
    assert CALLS == [] and all(r["cached"] for r in again.log)


def test_a_runs_step_time_does_not_stop_its_code_carrying_forward(tmp_path, monkeypatch, capsys):
    """Retrained, a run computes the same numbers in other milliseconds (found by the first make
    carry: every study's runs record their step time, and a bit-for-bit digest of the whole result
    failed every audit)."""
    first = _plan(tmp_path, monkeypatch, "old", task=_timed)
    _committed(tmp_path, "old")
    monkeypatch.setenv(lineage.CARRY_ENV, "2")
    today = _plan(tmp_path, monkeypatch, "new", task=_timed)
    assert len(CALLS) == 2 and "retrained bit for bit" in capsys.readouterr().out
    assert sum(r.get("carried_from") == "old" for r in today.log) == 3
    assert all(torch.equal(first[s]["draw"], today[s]["draw"]) for s in PLAN)


@dataclass
class _History:
    step_loss: list = field(default_factory=list)
    seconds: float = 0.0
    step_times: list = field(default_factory=list)


def test_timing_free_drops_timings_wherever_a_result_keeps_them():
    import pandas as pd

    result = {
        "rows": [{"map": 0.5, "ms_per_step": 3.1, "train_seconds": 9.0}],
        "history": _History([1.0, 0.5], 2.5, [0.1, 0.2]),
        "table": pd.DataFrame({"map": [0.5], "ms_per_iteration": [3.0]}),
        "pair": (1, {"median_step_ms": 4.0, "step": 2}),
        "written_at": "now",
    }
    out = lineage.timing_free(result)
    assert out["rows"] == [{"map": 0.5}] and out["pair"] == (1, {"step": 2}) and "written_at" not in out
    assert out["history"] == {"dataclass": "_History", "step_loss": [1.0, 0.5]}
    assert list(out["table"].columns) == ["map"]
    assert result["rows"][0]["ms_per_step"] == 3.1  # the result itself is left as it was


def test_a_results_file_made_by_code_that_carries_forward_is_fresh(tmp_path, monkeypatch):
    from dml_utils.results import stale_codes

    plan = "dml_utils.studies.sampling_matters.plan"
    monkeypatch.setattr(runs, "code_digest", lambda module: "new")
    doc = {"plan_codes": {plan: "old", f"{plan}_controls": "new"}}
    assert stale_codes(doc, tmp_path) == {plan: ("old", "new")}
    lineage.carry(tmp_path, plan, "old", "new", ["run 1"], "fp")
    assert stale_codes(doc, tmp_path) == {}
    assert stale_codes({"plan_codes": {plan: "older", f"{plan}_controls": "new"}}, tmp_path) == {plan: ("older", "new")}


def test_a_change_that_moves_a_number_carries_nothing_and_retrains_every_run(tmp_path, monkeypatch):
    _plan(tmp_path, monkeypatch, "old")
    _committed(tmp_path, "old")
    monkeypatch.setenv(lineage.CARRY_ENV, "2")
    with pytest.warns(UserWarning, match="2 of 2 audited runs of test_lineage differ .* every run of this plan"):
        today = _plan(tmp_path, monkeypatch, "new", task=_moved)
    assert lineage.read(tmp_path) == [] and len(CALLS) == 2 + len(PLAN)
    assert not any(r["cached"] for r in today.log)


def test_without_an_audit_nothing_carries(tmp_path, monkeypatch):
    _plan(tmp_path, monkeypatch, "old")
    _committed(tmp_path, "old")
    _plan(tmp_path, monkeypatch, "new")
    assert len(CALLS) == len(PLAN) and lineage.read(tmp_path) == []


def test_carries_chain_and_a_damaged_lineage_is_refused_with_its_name(tmp_path):
    lineage.carry(tmp_path, "m", "a", "b", ["run 1"], "fp")
    lineage.carry(tmp_path, "m", "b", "c", ["run 2"], "fp")
    lineage.carry(tmp_path, "m", "b", "c", ["run 3"], "fp")  # recorded once
    lineage.carry(tmp_path, "other", "x", "c", ["run 4"], "fp")
    assert lineage.ancestors("m", "c", tmp_path) == ["b", "a"] and lineage.ancestors("m", "a", tmp_path) == []
    assert len(lineage.read(tmp_path)) == 3
    (tmp_path / lineage.LINEAGE).write_text('[{"module": "m"}]')
    with pytest.raises(lineage.LineageError, match="carry 0 lacks .*'source'.* git checkout"):
        lineage.read(tmp_path)
    (tmp_path / lineage.LINEAGE).write_text("[{")
    with pytest.raises(lineage.LineageError, match="code_lineage.json cannot be read"):
        lineage.ancestors("m", "c", tmp_path)


@pytest.mark.parametrize("value", ["0", "two", "-1", "1.5"])
def test_a_carry_size_that_is_not_a_count_is_refused_by_name(monkeypatch, value):
    monkeypatch.setenv(lineage.CARRY_ENV, value)
    with pytest.raises(ValueError, match=f"{lineage.CARRY_ENV} must be a count of runs"):
        lineage.carry_size()


def test_the_lineage_is_no_runs_code():
    assert "dml_utils.lineage" not in runs.code_modules("dml_utils.studies.sampling_matters.plan")
