"""Plans of runs: a study declares the training runs it needs as specs, and one runner gets their
results, from a run cache where it holds them.

A :class:`RunSpec` names one run: its study (the notebook), the kind of run (which of the study's
run functions), its setting (the run's own parameters), its seed and its sizes (iterations and
other lengths). It is frozen, hashable, picklable and printable, and :meth:`RunSpec.key` is a
stable digest of it (the same in every process, unlike ``hash``). A study's analysis reads only
what :func:`run_plan` returns for its plan.

:func:`run_plan` is the one seam between the studies and whatever carries runs out: it calls
``task(cfg, data, spec)`` for each spec, after seeding every generator from the spec and pinning
torch's threads, so a run's result depends on its spec, the configuration and the data, not on the
runs before it. ``task`` is a module-level function (or a ``functools.partial`` of one): picklable,
so an executor can send it to another process.

**The run cache** (:class:`RunCache`, on ``joblib.Memory``) keeps each run's result on disk under a
key made of everything the result depends on: the spec; the configuration the run sees
(:func:`run_inputs`: every parameter but the seed lists and where data lives); a digest of the data;
the source of the code the run executes (:func:`code_digest`: the task's module and every
``dml_utils`` module it imports, but not figures, schemas, plotting, claims or the regression); and
the machine's float path (:func:`run_environment`: library versions, CPU flags, torch's vector
instruction set, the seed shift, the thread count). So a rerun with nothing changed trains nothing,
an interrupted plan resumes at its first missing run, adding a seed trains only that seed's runs,
and changing a figure retrains nothing. joblib.Memory rather than a hand-made store: it writes each
entry atomically (a run killed mid-write leaves no entry, not a half one), pickles numpy arrays and
torch tensors efficiently, and answers "is this call stored" without loading it; its own argument
hashing is given only our key, so what a run depends on is decided here, in one place. An entry
that cannot be read is run again, with a warning. ``DML_RUN_CACHE`` names the cache's folder
(``scripts/run_notebooks.py`` sets ``build/cache/runs``); unset, nothing is cached, so tests and an
interactive notebook train for real unless asked.

Every plan appends to ``cfg.run_log`` one line per run (its label, key, whether it came from the
cache, its seconds, the host), which ``write_results`` records. Published numbers do not depend on
whether a run came from the cache: a cached result is the pickled result of the same call, and
after a plan every generator is reseeded from the plan (:func:`run_plan`), whatever ran.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import json
import os
import platform
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .seeds import seed_everything, seed_offset

CACHE_ENV = "DML_RUN_CACHE"
# Environment variables that choose torch's float path: a run under another value is another run.
FLOAT_PATH_ENV = ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA")
# Parameters a run never reads: which seeds a plan holds (each run has its own) and where data lives
# (the data's digest is in the key). A run that reads one fails: it gets a configuration without them.
NOT_RUN_INPUTS = ("seeds", "sweep_seeds", "data_root", "allow_download")
# Modules a study imports whose code no run executes: changing them must retrain nothing.
NOT_RUN_CODE = (
    "dml_utils.plots",
    "dml_utils.results",
    "dml_utils.regression",
    "dml_utils.studies",
    "dml_utils.lineage",
    "dml_utils.ledger",
)
NOT_RUN_CODE_SUFFIXES = (".figures", ".schema", ".parameters")
PACKAGE = Path(__file__).resolve().parent


def _freeze(value: Any) -> Any:
    """Lists become tuples and mappings sorted tuples of pairs, all the way down: a hashable value."""
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    hash(value)  # anything else must be hashable already (numbers, strings, bools, None, frozen dataclasses)
    return value


@dataclass(frozen=True)
class RunSpec:
    """One training run of a study; build it with :meth:`of`."""

    study: str
    kind: str
    setting: tuple[tuple[str, Any], ...]
    seed: int
    sizes: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, study: str, kind: str, seed: int, setting: Mapping[str, Any] | None = None, **sizes) -> RunSpec:
        """``RunSpec.of("04_sampling_matters", "grid", 0, {"sampler": "hard", "loss": "margin"}, iterations=600)``"""
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"a run's seed is an integer, got {seed!r}")
        names = set(setting or {}) & set(sizes)
        if names:
            raise ValueError(f"{sorted(names)} given both as setting and as size; name each once")
        return cls(study, kind, _freeze(setting or {}), seed, _freeze(sizes))

    def __getitem__(self, name: str) -> Any:
        for key, value in (*self.setting, *self.sizes):
            if key == name:
                return value
        known = [k for k, _ in (*self.setting, *self.sizes)]
        raise KeyError(f"run {self.label()} has no {name!r}; it has {known}")

    def label(self) -> str:
        what = ", ".join(f"{k}={v}" for k, v in self.setting)
        return f"{self.kind} [{what}] seed {self.seed}"

    def key(self) -> str:
        """A digest of everything the spec holds: equal specs, equal keys, in any process."""
        text = json.dumps([self.study, self.kind, self.setting, self.seed, self.sizes], default=repr)
        return hashlib.sha256(text.encode()).hexdigest()[:20]


def _module_path(module: str) -> Path | None:
    rel = Path(*module.split(".")[1:])
    for path in (PACKAGE / rel).with_suffix(".py"), PACKAGE / rel / "__init__.py":
        if path.exists():
            return path
    return None


def module_imports(module: str, path: Path) -> set[str]:
    """The dml_utils modules ``module`` (at ``path``) imports, relative imports resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base]) if base else ".".join(parts)
            found |= {base, *(f"{base}.{a.name}" for a in node.names)}
    return {m for m in found if m == "dml_utils" or m.startswith("dml_utils.")}


def _runs_code(module: str) -> bool:
    return module not in NOT_RUN_CODE and not module.endswith(NOT_RUN_CODE_SUFFIXES)


@functools.cache
def code_modules(module: str) -> tuple[str, ...]:
    """``module`` and every dml_utils module it imports, at any depth, leaving out the modules no
    run executes (NOT_RUN_CODE: figures, schemas, parameters, plotting, claims, the regression;
    parameters because their values are in the key already)."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        path = _module_path(name) if name.startswith("dml_utils") else None
        if name in seen or path is None or (name != module and not _runs_code(name)):
            continue
        seen.add(name)
        todo += sorted(module_imports(name, path))
    return tuple(sorted(seen))


def code_digest(module: str) -> str:
    """A digest of the source of :func:`code_modules` of ``module``."""
    h = hashlib.sha256()
    for name in code_modules(module):
        h.update(name.encode() + b"\0" + _module_path(name).read_bytes() + b"\0")
    return h.hexdigest()[:20]


def run_environment(threads: int | None) -> dict[str, Any]:
    """What besides the code and the inputs changes a run's numbers on this machine."""
    import torch

    from .machine import cpu_fingerprint, library_versions

    return {
        "libraries": library_versions(),
        "machine": cpu_fingerprint(),
        "float_path_env": {k: os.environ.get(k) for k in FLOAT_PATH_ENV},
        "seed_offset": seed_offset(),
        "threads": threads if threads is not None else torch.get_num_threads(),
    }


def run_inputs(cfg) -> dict[str, Any]:
    """The configuration values a run may read: all but NOT_RUN_INPUTS."""
    return {k: v for k, v in cfg.values.items() if k not in NOT_RUN_INPUTS}


def _run_view(cfg):
    """``cfg`` without NOT_RUN_INPUTS: what a task gets, so a run cannot read what its key leaves out."""
    return None if cfg is None else replace(cfg, values=run_inputs(cfg))


def data_digest(data: Any) -> str:
    """A digest of the data a plan's runs read, by content, the same in every process: joblib's
    hasher, with torch tensors hashed as their numpy arrays (a pickled tensor's bytes differ from
    one process to the next, so joblib's plain hash of one does too)."""
    import torch
    from joblib.hashing import NumpyHasher

    class TensorHasher(NumpyHasher):
        def save(self, obj):
            if isinstance(obj, torch.Tensor):
                t = obj.detach().cpu()
                if t.dim() == 0 or not t.is_contiguous():  # a scalar or a strided view: its bytes in order (a
                    t = t.reshape(-1).contiguous()  # dtype view needs a contiguous tensor of at least one dimension)
                obj = (
                    "torch.Tensor",
                    str(t.dtype),
                    tuple(obj.shape),
                    t.view(torch.uint8).numpy() if t.numel() else None,
                )
            super().save(obj)

    return TensorHasher(hash_name="sha1").hash(data)


def _task_module(task: Callable) -> str:
    func = task.func if isinstance(task, functools.partial) else task
    name = getattr(func, "__qualname__", "")
    if "<" in name or "." in name:
        raise TypeError(
            f"a plan's task must be a module-level function (or a functools.partial of one) so that it "
            f"can be cached and sent to another process; got {name or task!r}"
        )
    return func.__module__


def _bound(task: Callable) -> dict[str, Any]:
    """What a partial binds, but for ``progress`` (which changes no number)."""
    if not isinstance(task, functools.partial):
        return {}
    return {"args": task.args, "keywords": {k: v for k, v in task.keywords.items() if k != "progress"}}


def _given(result: Any, cfg, data, spec: RunSpec) -> Any:
    """The task whose result is already known (RunCache.store)."""
    return result


def _execute(task: Callable, cfg, data, spec: RunSpec, threads: int | None, key: str) -> Any:
    """One run, seeded from its spec (``key`` is what the cache stores it under)."""
    from .config import make_deterministic

    if threads is not None:
        make_deterministic(threads)
    seed_everything(spec.seed)
    return task(cfg, data, spec)


def _seal_path(location: Path, key: str) -> Path:
    return Path(location) / "seals" / key[:2] / key


def seal(location: Path, key: str, result: Any) -> None:
    """Keep the content digest (``data_digest``) of the result stored under ``key`` beside the cache's
    entries, written atomically; where it cannot be written (a full disk) the entry stays unsealed.
    ``result`` must be the entry as a read gives it (``seal_stored``), not the object that was stored:
    joblib's hash of a numpy array holds its strides, and a view reads back as a contiguous copy."""
    path = _seal_path(location, key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(data_digest(result))
        os.replace(tmp, path)
    except OSError:
        pass


def seal_stored(location: Path, key: str, read: Callable[[], Any]) -> None:
    """Seal the entry just stored under ``key`` with the digest of what ``read`` gives back (found by
    the first carry: a patch set stored with array views was sealed as computed, and every later read
    took its own intact entry for a damaged one). An entry that cannot be read back stays unsealed."""
    try:
        found = read()
    except Exception:
        return
    seal(location, key, found)


def check_seal(location: Path, key: str, result: Any, name: str) -> bool:
    """Whether ``result``, read from the entry under ``key``, is what was stored there: its content
    digest equals the seal written with it. An entry with no seal (stored before seals were kept) is
    sealed as found. A mismatch (bits that changed on disk, another entry's file copied over this
    one) is reported, naming ``name`` and the cache, and counts as no entry: the caller computes it
    again. Written here because joblib.Memory checks that an entry unpickles, not that it is the
    bytes it wrote."""
    path = _seal_path(location, key)
    if not path.exists():
        seal(location, key, result)
        return True
    if path.read_text().strip() == data_digest(result):
        return True
    warnings.warn(
        f"run cache: the entry of {name} in {location} does not match the content it was stored with (its bytes "
        f"changed on disk, or another entry's file was copied over it); it was computed again",
        stacklevel=4,
    )
    return False


class RunCache:
    """Run results on disk, one entry per key (see the module's docstring)."""

    def __init__(self, location: str | os.PathLike):
        import joblib

        self.location = Path(location)
        self._memory = joblib.Memory(self.location, verbose=0)
        self._execute = self._memory.cache(_execute, ignore=["task", "cfg", "data", "spec", "threads"])

    @classmethod
    def from_env(cls) -> RunCache | None:
        """The cache ``DML_RUN_CACHE`` names, or None when it is unset or empty."""
        where = os.environ.get(CACHE_ENV, "").strip()
        return cls(where) if where else None

    def holds(self, key: str) -> bool:
        return self._execute.check_call_in_cache(None, None, None, None, None, key)

    def read(self, key: str) -> tuple[bool, Any]:
        """(True, the result stored under ``key``), or (False, None) when none is, it cannot be read
        or it does not match its seal; never runs anything (a carried or audited entry is read, not
        recomputed under its key)."""
        if not self.holds(key):
            return False, None
        try:
            found = self._execute.call_and_shelve(None, None, None, None, None, key).get()
        except Exception:  # a damaged entry counts as absent here; the plan trains the run
            return False, None
        return (True, found) if check_seal(self.location, key, found, key) else (False, None)

    def store(self, spec: RunSpec, threads: int | None, key: str, result: Any) -> None:
        """Keep ``result``, computed elsewhere (an executor's worker), under ``key``: joblib stores a
        call's output, so this "calls" the cached function with a task that returns it."""
        with self._storing(spec, key):
            self._execute.call(functools.partial(_given, result), None, None, spec, threads, key)
        self._seal(key)

    @contextlib.contextmanager
    def _storing(self, spec: RunSpec, key: str):
        """joblib warns and goes on when it cannot write an entry (a full disk, say); we check the
        entry is there afterwards and say it in our words."""
        from joblib.memory import CacheWarning

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=CacheWarning)
            yield
        if not self.holds(key):
            warnings.warn(
                f"run cache: {spec.label()} could not be stored in {self.location} (a full disk? a folder "
                f"that cannot be written?); its result is used, and the next run of this plan trains it again",
                stacklevel=4,
            )

    def result(self, task, cfg, data, spec: RunSpec, threads: int | None, key: str) -> tuple[Any, bool]:
        """(result, came from the cache). An entry that cannot be read, or whose content no longer
        matches its seal (``check_seal``), is run again and stored anew."""
        if self.holds(key):
            try:
                found = self._execute.call_and_shelve(task, cfg, data, spec, threads, key).get()
            except Exception as err:  # a truncated or corrupt pickle: recompute, never publish it
                warnings.warn(
                    f"run cache: the entry of {spec.label()} in {self.location} could not be read "
                    f"({type(err).__name__}: {err}); it was run again",
                    stacklevel=3,
                )
            else:
                if check_seal(self.location, key, found, spec.label()):
                    return found, True
        with self._storing(spec, key):
            result, _metadata = self._execute.call(task, cfg, data, spec, threads, key)  # runs, then stores
        self._seal(key)
        return result, False

    def _seal(self, key: str) -> None:
        if self.holds(key):
            seal_stored(self.location, key, self._execute.call_and_shelve(None, None, None, None, None, key).get)


class PlanResults(dict):
    """``{spec: result}`` in the plan's order, with ``log``: per run, where it ran and whether it came
    from the cache."""

    log: list[dict[str, Any]]


def _key(spec: RunSpec, code: str, environment: str, context: str) -> str:
    return hashlib.sha256(f"{spec.key()}|{code}|{environment}|{context}".encode()).hexdigest()[:32]


def _environment_digest(threads: int | None) -> str:
    return hashlib.sha256(json.dumps(run_environment(threads), sort_keys=True).encode()).hexdigest()


def _remote(task, cfg, data, spec: RunSpec, threads, environment: str | None):
    """One run in a worker of an executor. Returns (result, seconds, host, whether the worker's
    float path is the one the cache key was made for, the worker's ``run_environment``). The worker
    never touches the cache or the ledger: the plan's process stores what comes back, so a worker on
    another machine needs no shared disk."""
    start = time.perf_counter()
    here = run_environment(threads)
    same = environment is None or _environment_digest(threads) == environment
    result = _execute(task, cfg, data, spec, threads, "")
    return result, time.perf_counter() - start, platform.node(), same, here


def run_plan(
    plan: Iterable[RunSpec],
    task: Callable[..., Any],
    *,
    cfg=None,
    data: Any = None,
    threads: int | None = None,
    cache: RunCache | bool | None = None,
    executor: Executor | None = None,
    desc: str = "runs",
    progress: bool = True,
    ledger=None,
) -> PlanResults:
    """The result of ``task(cfg, data, spec)`` for every spec of ``plan``, in the plan's order,
    each from the run cache where it holds it. Before each run every generator is seeded from the
    spec (``seed_everything``, so under a seed shift too) and torch's thread count pinned
    (``threads``, by default ``cfg.threads``). The task sees ``cfg`` without the parameters no run
    reads (NOT_RUN_INPUTS). ``cache``: None takes ``DML_RUN_CACHE`` (no cache when unset), False
    none, or a :class:`RunCache`. ``executor``: None takes ``DML_EXECUTOR`` (serial, in this
    process, when unset; dml_utils.executors), or any ``concurrent.futures.Executor``. A spec listed
    twice is an error: a plan names each run once. After the plan every generator is reseeded from
    its last spec, so what follows draws the same numbers wherever the runs ran and whether they
    came from the cache. If a run fails, the runs not yet started are cancelled and the error names
    the run; what finished is in the cache. ``ledger``: None takes ``DML_LEDGER`` (``ledger.Ledger.from_env``:
    none at the default profile unless asked), False none, or a ``ledger.Ledger``: a run its records
    hold is read from them, and under ``fill`` every run the plan gets is recorded at once, the runs
    no record holds are trained within the fill's budget and slice, and a plan left incomplete ends
    in ``ledger.LedgerStop``."""
    from .executors import executor_from_env
    from .progress import bar

    plan = list(plan)
    seen: set[RunSpec] = set()
    for spec in plan:
        if not isinstance(spec, RunSpec):
            raise TypeError(f"a plan holds RunSpecs, got {spec!r}")
        if spec in seen:
            raise ValueError(f"the plan lists {spec.label()} twice")
        seen.add(spec)
    if threads is None and cfg is not None:
        threads = cfg.values.get("threads")
    if cache is None:
        cache = RunCache.from_env()
    elif cache is True:
        raise TypeError("cache=True names no folder: pass a RunCache, or set DML_RUN_CACHE and pass None")
    view = _run_view(cfg)
    module = _task_module(task)  # the same rule with or without a cache
    keys: dict[RunSpec, str] = {}
    older: dict[RunSpec, tuple[str, str]] = {}
    environment = None
    if cache and plan:
        environment = _environment_digest(threads)
        context = data_digest((view and view.notebook, view and run_inputs(view), data, _bound(task)))
        code = code_digest(module)
        keys = {spec: _key(spec, code, environment, context) for spec in plan}
        if view is not None and getattr(view, "root", None) is not None:
            older = _carried(cache, plan, keys, (module, code, environment, context), view, task, data, threads)
    from . import ledger as ledger_lib

    if ledger is None:
        ledger = ledger_lib.Ledger.from_env(view.root, view.profile) if view is not None and view.root else None
    idents: dict[RunSpec, dict[str, Any]] = {}
    if ledger and plan:
        if view is None:
            raise ValueError("a plan that uses the run ledger needs its cfg (the notebook it files runs under)")
        inputs, content = data_digest((run_inputs(view), _bound(task))), data_digest(data)
        digest = code_digest(module)
        for spec in plan:
            idents[spec] = {
                "notebook": view.notebook,
                "spec": {"key": spec.key(), "label": spec.label(), "seed_offset": seed_offset()},
                "inputs": inputs,
                "data": content,
                "code": digest,
            }
        here_path = ledger_lib.float_path_id(ledger_lib.where_from(run_environment(threads), 0.0))
    host = platform.node()
    log: dict[RunSpec, dict[str, Any]] = {}
    results: dict[RunSpec, Any] = {}
    counts = {"cached": 0, "done": 0, "running": 0, "failed": 0}
    pbar = bar(total=len(plan), desc=desc, disable=not progress, mininterval=5)

    def record(spec, result, cached, seconds, where, same=True, carried_from=None, env=None, filed=None):
        if ledger and ledger.mode == "fill" and filed is None:  # at once: a kill loses only the runs in flight
            env = env or run_environment(threads)
            rec = ledger_lib.make_record(
                idents[spec],
                ledger_lib.summary_of(result, spec.label()),
                ledger_lib.where_from(env, seconds),
            )
            ledger_lib.write_record(ledger.root, rec)
        results[spec] = result
        log[spec] = {
            "run": spec.label(),
            "study": spec.study,
            "key": keys.get(spec, spec.key()),
            "cached": cached,
            "seconds": round(seconds, 3),
            "host": where,
        }
        if carried_from:
            log[spec]["carried_from"] = carried_from
        if filed is not None:  # read from the ledger: where it ran
            log[spec]["ledger"] = {
                "float_path": filed["where"]["float_path"],
                "this_float_path": filed["where"]["float_path"] == here_path,
                "cpu": filed["where"]["cpu"].get("cpu_model"),
                "seconds": filed["where"]["seconds"],
            }
        if not same:
            log[spec]["float_path"] = "another than this machine's: not stored in the cache"
        counts["cached" if cached else "done"] += 1
        pbar.set_postfix(counts, refresh=False)
        pbar.update()

    todo = []
    audited: list[tuple[RunSpec, dict[str, Any]]] = []
    for spec in plan:  # what the cache holds is read here, whatever the executor
        if ledger:
            filed = ledger.lookup(idents[spec]["notebook"], ledger_lib.run_key(idents[spec]), here_path)
            if filed is not None:
                record(spec, filed["summary"], True, 0.0, filed["where"].get("host_kind", "ledger"), filed=filed)
                audited.append((spec, filed))
                continue
        if cache and cache.holds(keys[spec]):
            start = time.perf_counter()
            result, cached = cache.result(task, view, data, spec, threads, keys[spec])  # run again here if damaged
            record(spec, result, cached, time.perf_counter() - start, host)
            continue
        if spec in older:  # made by code that carries forward to today's (dml_utils.lineage)
            start = time.perf_counter()
            found, result = cache.read(older[spec][1])
            if found:
                cache.store(spec, threads, keys[spec], result)
                record(spec, result, True, time.perf_counter() - start, host, carried_from=older[spec][0])
                continue
        todo.append(spec)
    fill = bool(ledger) and ledger.mode == "fill"

    def taken(spec: RunSpec) -> bool:  # a fill trains a run only in its slice and before its budget ends
        return not fill or ledger.takes(ledger_lib.run_key(idents[spec]), spec.label())

    own = executor is None
    if own:
        executor = executor_from_env()
    try:
        if executor is None:
            for spec in todo:
                if not taken(spec):
                    continue
                start = time.perf_counter()
                if cache:
                    result, cached = cache.result(task, view, data, spec, threads, keys[spec])
                else:
                    result, cached = _execute(task, view, data, spec, threads, ""), False
                record(spec, result, cached, time.perf_counter() - start, host)
        elif todo:
            todo = [spec for spec in todo if taken(spec)]  # the budget as it stands when the runs are sent
            _run_on(executor, todo, task, view, data, threads, keys, cache, environment, record, counts, pbar)
    finally:
        pbar.close()
        if own and executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
    if fill:
        ledger.stop_if_left(desc)
    if ledger and ledger.mode == "audit" and audited:
        _audit_records(ledger, audited, task, view, data, threads, here_path, desc)
    out = PlanResults((spec, results[spec]) for spec in plan)
    out.log = [log[spec] for spec in plan]
    if plan:
        seed_everything(plan[-1].seed)
    if cfg is not None:
        cfg.run_log.extend(out.log)
    return out


def _audit_records(ledger, filed, task, cfg, data, threads, here: str, desc: str) -> None:
    """Train again ``ledger.audit`` of the plan's runs read from the ledger (``ledger.audit_sample``),
    each as a fresh run here, and compare it with its record (``ledger.audit_verdict``); print a line
    per run; raise ``ledger.AuditFailed`` naming every record its own float path did not reproduce."""
    from . import ledger as ledger_lib

    sample = ledger_lib.audit_sample(filed, ledger.audit)
    print(f"{desc}: auditing {len(sample)} of {len(filed)} runs read from the ledger (drawn with seed 0)")
    failed = []
    for spec, record in sample:
        ok, line = ledger_lib.audit_verdict(spec.label(), record, _execute(task, cfg, data, spec, threads, ""), here)
        print(f"  {line}")
        if not ok:
            failed.append(line)
    if failed:
        raise ledger_lib.AuditFailed(
            f"{desc}: {len(failed)} of {len(sample)} audited records failed: " + " | ".join(failed)
        )


def _carried(cache, plan, keys, code, cfg, task, data, threads) -> dict[RunSpec, tuple[str, str]]:
    """Per spec the cache lacks under today's code: (the ancestor digest, the key it is stored
    under by that digest), nearest ancestor first (``lineage.ancestors``). Under ``DML_CARRY=N``
    the code that made the study's committed results is audited first (``_audit``). ``code``:
    (task module, today's digest, float path digest, context digest)."""
    from . import lineage

    module, digest, environment, context = code
    n = lineage.carry_size()
    if n:
        _audit(cache, plan, keys, code, cfg, task, data, threads, n)
    missing = [s for s in plan if not cache.holds(keys[s])]
    out: dict[RunSpec, tuple[str, str]] = {}
    for old in lineage.ancestors(module, digest, cfg.root) if missing else []:
        for spec in missing:
            key = _key(spec, old, environment, context)
            if spec not in out and cache.holds(key):
                out[spec] = (old, key)
    return out


def _audit(cache, plan, keys, code, cfg, task, data, threads, n: int) -> None:
    """When the task's module moved since the study's committed results were made (their
    ``plan_codes``), retrain ``n`` of the plan's runs stored under that code (drawn with a seeded
    generator, named) and compare each bit for bit (``data_digest``) with its stored result: all
    equal, the old digest carries forward to today's (``lineage.carry``); any different, no carry,
    a warning with the count, and the plan trains every run anew."""
    import random

    from . import lineage

    module, digest, environment, context = code
    old = lineage.recorded_code(cfg.root, cfg.notebook, module)
    if old is None or old == digest or old in lineage.ancestors(module, digest, cfg.root):
        return
    stored = [s for s in plan if not cache.holds(keys[s]) and cache.holds(_key(s, old, environment, context))]
    if not stored:
        warnings.warn(
            f"{lineage.CARRY_ENV}: no run of this plan of {module} is in the run cache under the code its committed "
            f"results were made by ({old}); nothing to audit, so nothing carries forward",
            stacklevel=3,
        )
        return
    sample = random.Random(0).sample(stored, min(n, len(stored)))
    differ = []
    for spec in sample:
        _, before = cache.read(_key(spec, old, environment, context))
        after = _execute(task, cfg, data, spec, threads, "")
        if data_digest(lineage.timing_free(after)) == data_digest(lineage.timing_free(before)):
            cache.store(spec, threads, keys[spec], after)
        else:
            differ.append(spec.label())
    if differ:
        warnings.warn(
            f"{lineage.CARRY_ENV}: {len(differ)} of {len(sample)} audited runs of {module} differ under today's code "
            f"from their results under {old} (first: {differ[0]}): today's code moves numbers, nothing carries "
            f"forward, and every run of this plan is trained again",
            stacklevel=3,
        )
        return
    lineage.carry(cfg.root, module, old, digest, [s.label() for s in sample], environment[:12])
    print(
        f"{lineage.CARRY_ENV}: {len(sample)} runs of {module} retrained bit for bit; its runs under {old} carry "
        f"forward to {digest} ({lineage.LINEAGE})"
    )


def _run_on(executor, todo, task, view, data, threads, keys, cache, environment, record, counts, pbar) -> None:
    """Submit every run of ``todo`` to ``executor`` and record each as it finishes; on the first
    failure cancel what has not started and raise, naming the run."""
    from concurrent.futures import FIRST_COMPLETED, wait

    if hasattr(executor, "share"):  # an executor that can send the data once (Dask), not once per run
        data = executor.share(data)
    futures = {executor.submit(_remote, task, view, data, spec, threads, environment): spec for spec in todo}
    counts["running"] = len(futures)
    pending = set(futures)
    while pending:
        finished, pending = wait(pending, return_when=FIRST_COMPLETED)
        for fut in finished:
            spec = futures[fut]
            counts["running"] -= 1
            try:
                result, seconds, where, same, env = fut.result()
            except BaseException as err:
                counts["failed"] += 1
                pbar.set_postfix(counts)
                for other in pending:
                    other.cancel()
                raise RuntimeError(
                    f"run {spec.label()} failed on the executor ({type(err).__name__}: {err}); the runs that "
                    f"finished are in the run cache, so the same command resumes after them"
                    if cache
                    else f"run {spec.label()} failed on the executor ({type(err).__name__}: {err})"
                ) from err
            if cache and same:
                cache.store(spec, threads, keys[spec], result)
            record(spec, result, False, seconds, where, same, env=env)
