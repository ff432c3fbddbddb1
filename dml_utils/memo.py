"""The costly steps of an analysis that are not training runs, kept in the run cache.

A notebook rerun with every training run in the run cache (dml_utils.runs) still spent most of its
time on computations that depend only on those runs and the data: UMAP and t-SNE projections,
k-means at many k, the untrained baselines. :func:`cached_call` keeps such a step's result in the
same cache (``DML_RUN_CACHE``), so a rerun with nothing changed recomputes none of them.

The key is built as a run's is (dml_utils.runs): the function's name, the source of its module and
of every dml_utils module that imports at any depth (``code_digest``), the machine's float path
(library versions, CPU flags, torch's vector instruction set, seed shift, threads) and a digest of
the arguments by content (``data_digest``: arrays and tensors by their bytes, a torch module by its
weights; a configuration by the values a run may read). The step must be a pure, module-level
function of its arguments (seeded where it draws random numbers); its result is stored with joblib,
like a run's, so an entry is written whole or not at all, and one that cannot be read is computed
again. Without ``DML_RUN_CACHE`` it is a plain call.

This lives beside dml_utils.runs rather than in it: runs.py is part of the code every training run
executes, so an edit there would retrain every run.
"""

from __future__ import annotations

import functools
import hashlib
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .runs import (
    CACHE_ENV,
    _environment_digest,
    _task_module,
    check_seal,
    code_digest,
    data_digest,
    run_inputs,
    seal_stored,
)


def _plain(value: Any) -> Any:
    """A configuration becomes what a run may read of it (its notebook and run inputs): its run log
    and seed lists never change a step's result, so they do not change its key either."""
    from .config import Config

    if isinstance(value, Config):
        return ("Config", value.notebook, run_inputs(value))
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def step_key(func: Callable, args: tuple, kwargs: dict[str, Any]) -> str:
    """The cache key of ``func(*args, **kwargs)`` (see the module's docstring)."""
    module = _task_module(func)
    name = func.func.__qualname__ if isinstance(func, functools.partial) else func.__qualname__
    parts = [module, name, code_digest(module), _environment_digest(None), data_digest(_plain((args, kwargs)))]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def _apply(func: Callable, args: tuple, kwargs: dict[str, Any], key: str) -> Any:
    return func(*args, **kwargs)


@functools.cache
def _memory(location: str):
    import joblib

    return joblib.Memory(Path(location) / "steps", verbose=0).cache(_apply, ignore=["func", "args", "kwargs"])


def cached_call(func: Callable, *args, **kwargs) -> Any:
    """``func(*args, **kwargs)``, from the run cache when it holds it (see the module's docstring)."""
    import os

    where = os.environ.get(CACHE_ENV, "").strip()
    if not where:
        _task_module(func)  # the same rule with or without a cache
        return func(*args, **kwargs)
    key = step_key(func, args, kwargs)
    cached = _memory(where)
    steps = Path(where) / "steps"
    if cached.check_call_in_cache(None, None, None, key):
        try:
            found = cached.call_and_shelve(func, args, kwargs, key).get()
        except Exception as err:  # a truncated or corrupt pickle: compute again, never use it
            warnings.warn(
                f"run cache: the stored result of {func.__qualname__} could not be read "
                f"({type(err).__name__}: {err}); it was computed again",
                stacklevel=2,
            )
        else:
            if check_seal(steps, key, found, func.__qualname__):
                return found
    result = func(*args, **kwargs)
    _keep(cached, steps, key, result, func.__qualname__)
    return result


def _given(result: Any, *args, **kwargs) -> Any:
    return result


def _keep(cached, steps: Path, key: str, result: Any, name: str) -> None:
    """Store ``result`` (computed already) under ``key`` and seal it; where the disk refuses (full, or
    not writable) the result is used all the same, with a warning that names the cache."""
    from joblib.memory import CacheWarning

    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=CacheWarning)  # joblib's own warning: ours follows
            cached.call(functools.partial(_given, result), (), {}, key)
    except OSError as err:
        warnings.warn(
            f"run cache: the result of {name} could not be stored in {steps} ({err.strerror or err}); it is used, "
            f"and the next run computes it again",
            stacklevel=3,
        )
        return
    if cached.check_call_in_cache(None, None, None, key):
        seal_stored(steps, key, cached.call_and_shelve(None, None, None, key).get)
