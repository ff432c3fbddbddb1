"""Executors behind one seam: a plan gives bit-identical results in this process, in a process pool,
on a Dask LocalCluster and through submitit; and the faults a user meets (a bad executor name, an
unreachable scheduler, a worker killed mid-run) end in a clear error or a recovery."""

import os

import pytest
import torch

from dml_utils.config import ConfigError
from dml_utils.executors import DaskExecutor, make_executor
from dml_utils.runs import RunCache, RunSpec, run_plan


@pytest.fixture(scope="module")
def small_plan():
    """Three real runs of notebook 04's grid (smoke data, 40 steps), one thread each."""
    from dml_utils.studies import config
    from dml_utils.studies.sampling_matters import study as sm

    cfg = config("04_sampling_matters", "smoke", iterations=40, threads=1)
    data = sm.prepare(cfg)
    plan = sm.grid_plan(cfg)[:3]
    return cfg, data, plan, sm.grid_run


def _numbers(done):
    """Every run's summary (but its wall-clock timing; NaN as a string, so equal to itself) and final weights."""
    return {
        spec: (
            {k: str(v) if v != v else v for k, v in r["summary"].items() if k != "ms_per_iteration"},
            [p.detach().clone() for p in r["model"].parameters()],
        )
        for spec, r in done.items()
    }


def _same(a, b):
    assert list(a) == list(b)
    for spec in a:
        assert a[spec][0] == b[spec][0], spec.label()
        assert all(torch.equal(x, y) for x, y in zip(a[spec][1], b[spec][1])), spec.label()


@pytest.mark.trains
def test_one_plan_gives_bit_identical_results_on_every_executor(small_plan, tmp_path):
    cfg, data, plan, task = small_plan
    serial = _numbers(run_plan(plan, task, cfg=cfg, data=data, cache=False, progress=False))
    for name in ("pool:2", "dask:2", "slurm:local"):
        executor = make_executor(name, root=tmp_path)
        try:
            done = run_plan(plan, task, cfg=cfg, data=data, cache=False, executor=executor, progress=False)
        finally:
            executor.shutdown()
        _same(serial, _numbers(done))
        assert {r["cached"] for r in done.log} == {False}


@pytest.mark.trains
def test_runs_from_a_pool_fill_the_cache_and_a_serial_rerun_reads_them(small_plan, tmp_path):
    cfg, data, plan, task = small_plan
    cache = RunCache(tmp_path / "cache")
    executor = make_executor("pool:2")
    try:
        first = run_plan(plan, task, cfg=cfg, data=data, cache=cache, executor=executor, progress=False)
    finally:
        executor.shutdown()
    again = run_plan(plan, task, cfg=cfg, data=data, cache=cache, progress=False)
    assert [r["cached"] for r in first.log] == [False] * 3 and [r["cached"] for r in again.log] == [True] * 3
    _same(_numbers(first), _numbers(again))


def _dies_at_seed_1(cfg, data, spec: RunSpec) -> int:
    if spec.seed == 1 and os.environ.get("DML_TEST_KILL") == "1":
        os._exit(9)  # as the OOM killer or a node going away ends a worker
    return spec.seed * 10


def test_a_worker_killed_mid_run_is_a_clear_error_and_the_rerun_resumes(tmp_path, monkeypatch):
    plan = [RunSpec.of("x", "k", seed) for seed in range(3)]
    cache = RunCache(tmp_path)
    monkeypatch.setenv("DML_TEST_KILL", "1")
    executor = make_executor("pool:1")
    try:
        with pytest.raises(
            RuntimeError, match=r"run k \[\] seed [12] failed on the executor \(BrokenProcessPool.*resumes after them"
        ):
            run_plan(plan, _dies_at_seed_1, cache=cache, executor=executor, progress=False)
    finally:
        executor.shutdown()
    monkeypatch.setenv("DML_TEST_KILL", "0")
    done = run_plan(plan, _dies_at_seed_1, cache=cache, progress=False)
    assert list(done.values()) == [0, 10, 20]
    assert done.log[0]["cached"] and not done.log[1]["cached"]  # seed 0 finished before the kill


def test_an_unknown_executor_and_an_unreachable_scheduler_say_what_to_do(monkeypatch):
    for bad in ("pool", "pool:0", "threads:2", "dask:", "slurm:"):
        with pytest.raises(ConfigError, match="names no executor; use one of serial, pool:N"):
            make_executor(bad)
    assert make_executor("serial") is None and make_executor("") is None
    with pytest.raises(ConfigError, match="no Dask scheduler reachable at tcp://127.0.0.1:9 .*dask scheduler"):
        DaskExecutor(address="tcp://127.0.0.1:9", timeout=2)
    monkeypatch.setenv("DML_EXECUTOR", "pool:x")
    with pytest.raises(ConfigError, match="DML_EXECUTOR='pool:x'"):
        run_plan([RunSpec.of("x", "k", 0)], _dies_at_seed_1, cache=False, progress=False)
