"""Analysis steps kept in the run cache (dml_utils.memo): a second call with the same arguments
computes nothing and returns the same value; other arguments, another key; a configuration's run log
and seed lists are not in the key; a damaged entry is computed again; no cache, a plain call."""

from pathlib import Path

import numpy as np
import pytest
import torch

from dml_utils import memo
from dml_utils.config import config
from dml_utils.studies.sampling_matters import parameters as sm_parameters

CALLS: list[tuple] = []


def noisy_mean(x: np.ndarray, scale: float = 1.0) -> dict[str, float]:
    """A step that records each time it really runs; it draws numbers, seeded, as a projection does."""
    CALLS.append((x.shape, scale))
    return {"value": float(x.mean() * scale + np.random.default_rng(0).normal())}


def uses_config(cfg, x: np.ndarray) -> float:
    CALLS.append(("cfg",))
    return float(x.sum() * cfg.lr)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DML_RUN_CACHE", str(tmp_path))
    CALLS.clear()
    return tmp_path


def test_without_a_cache_it_is_a_plain_call(monkeypatch):
    monkeypatch.delenv("DML_RUN_CACHE", raising=False)
    CALLS.clear()
    x = np.arange(6.0)
    assert memo.cached_call(noisy_mean, x) == memo.cached_call(noisy_mean, x) == noisy_mean(x)
    assert len(CALLS) == 3


def test_a_second_call_computes_nothing_and_returns_the_same(cache):
    x = np.arange(6.0)
    first = memo.cached_call(noisy_mean, x, scale=2.0)
    again = memo.cached_call(noisy_mean, x.copy(), scale=2.0)  # equal content, another array
    assert first == again == noisy_mean(x, scale=2.0)
    assert len(CALLS) == 2  # the cached call and the plain one above
    memo.cached_call(noisy_mean, x, scale=3.0)
    memo.cached_call(noisy_mean, x + 1, scale=2.0)
    assert len(CALLS) == 4  # other arguments, other entries
    weights = torch.nn.Linear(3, 2)
    assert memo.step_key(noisy_mean, (weights,), {}) == memo.step_key(noisy_mean, (weights,), {})
    with torch.no_grad():
        weights.weight[0, 0] += 1
    assert memo.step_key(noisy_mean, (weights,), {}) != memo.step_key(noisy_mean, (torch.nn.Linear(3, 2),), {})


def test_a_configurations_run_log_and_seeds_are_not_in_the_key_its_values_are(cache):
    cfg = config(sm_parameters, "smoke")
    x = np.ones(4)
    memo.cached_call(uses_config, cfg, x)
    cfg.run_log.append({"run": "something trained before"})
    assert memo.step_key(uses_config, (cfg, x), {}) == memo.step_key(
        uses_config, (config(sm_parameters, "smoke", seeds=[7, 8]), x), {}
    )
    memo.cached_call(uses_config, cfg, x)
    assert len(CALLS) == 1
    memo.cached_call(uses_config, config(sm_parameters, "smoke", lr=0.5), x)
    assert len(CALLS) == 2


def test_a_damaged_entry_is_computed_again_with_a_warning(cache):
    x = np.arange(4.0)
    first = memo.cached_call(noisy_mean, x)
    (output,) = Path(cache).rglob("output.pkl")
    output.write_bytes(output.read_bytes()[:10])
    with pytest.warns(UserWarning, match="could not be read .* computed again"):
        assert memo.cached_call(noisy_mean, x) == first
    assert memo.cached_call(noisy_mean, x) == first and len(CALLS) == 2  # stored anew


def test_a_step_must_be_a_module_level_function(cache):
    with pytest.raises(TypeError, match="module-level function"):
        memo.cached_call(lambda x: x, 1)


def test_a_steps_key_holds_the_code_it_runs():
    from dml_utils.evaluate import clustering_metrics, project_2d

    x = np.zeros((3, 2))
    assert memo.step_key(project_2d, (x,), {}) != memo.step_key(clustering_metrics, (x,), {})
    from dml_utils.runs import code_modules

    assert "dml_utils.evaluate" in code_modules("dml_utils.evaluate")


def test_a_stored_result_that_changed_on_disk_is_computed_again(cache):
    import joblib

    x = np.arange(6.0)
    first = memo.cached_call(noisy_mean, x)
    (output,) = sorted(Path(cache).rglob("output.pkl"))
    joblib.dump({"value": first["value"] + 1e-12}, output)  # still a valid pickle, not what was stored
    CALLS.clear()
    with pytest.warns(UserWarning, match="noisy_mean .* does not match the content it was stored with"):
        assert memo.cached_call(noisy_mean, x) == first
    assert len(CALLS) == 1
    CALLS.clear()
    assert memo.cached_call(noisy_mean, x) == first and CALLS == []  # stored and sealed anew


def strided_patches(n: int) -> dict[str, np.ndarray]:
    """A step whose result holds views (as a patch set cut from a photo does): they read back as
    contiguous copies, with other strides than the arrays that were stored."""
    CALLS.append((n,))
    whole = np.arange(4.0 * n * n).reshape(2 * n, 2 * n)
    return {"every_other": whole[::2, ::2], "transposed": whole.T}


def test_a_result_stored_as_array_views_reads_back_without_an_alarm(cache):
    """Found by the first carry: a seal written from the object that was stored, not from what a read
    gives, took an intact entry of array views for a damaged one at every read."""
    import warnings

    first = memo.cached_call(strided_patches, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = memo.cached_call(strided_patches, 3)
    assert CALLS == [(3,)] and all(np.array_equal(first[k], again[k]) for k in first)


def test_a_full_disk_loses_the_stored_step_not_its_result(cache, monkeypatch):
    import errno

    from joblib.memory import MemorizedFunc

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    x = np.arange(6.0)
    monkeypatch.setattr(MemorizedFunc, "call", full)
    with pytest.warns(UserWarning, match=r"noisy_mean could not be stored in .*steps \(No space left on device\)"):
        value = memo.cached_call(noisy_mean, x)
    assert value == noisy_mean(x) and len(CALLS) == 2  # computed once by the step, once here to compare
