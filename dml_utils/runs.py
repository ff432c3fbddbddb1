"""Plans of runs: a study declares the training runs it needs as specs, and one runner gets their
results.

A :class:`RunSpec` names one run: its study (the notebook), the kind of run (which of the study's
run functions), its setting (the run's own parameters), its seed and its sizes (iterations and
other lengths). It is frozen, hashable, picklable and printable, and :meth:`RunSpec.key` is a
stable digest of it (the same in every process, unlike ``hash``). A study's analysis reads only
what :func:`run_plan` returns for its plan.

:func:`run_plan` is the one seam between the studies and whatever carries runs out: today it runs
each spec in this process, one after the other, after seeding every generator from the spec and
pinning torch's threads, so a run's result depends on its spec (and the data its function reads),
not on the runs before it. A run cache and executors (a process pool, Dask, SLURM) go behind it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .seeds import seed_everything


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


def run_plan(
    plan: Iterable[RunSpec],
    task: Callable[[RunSpec], Any],
    *,
    threads: int | None = None,
    desc: str = "runs",
    progress: bool = True,
) -> dict[RunSpec, Any]:
    """The result of ``task(spec)`` for every spec of ``plan``, in the plan's order: serial, in this
    process. Before each run every generator is seeded from the spec (``seed_everything``, so under a
    seed shift too) and, with ``threads``, torch's thread count pinned. A spec listed twice is an
    error: a plan names each run once."""
    from .config import make_deterministic
    from .progress import bar

    plan = list(plan)
    seen: set[RunSpec] = set()
    for spec in plan:
        if not isinstance(spec, RunSpec):
            raise TypeError(f"a plan holds RunSpecs, got {spec!r}")
        if spec in seen:
            raise ValueError(f"the plan lists {spec.label()} twice")
        seen.add(spec)
    out = {}
    for spec in bar(plan, desc=desc, disable=not progress, mininterval=5):
        if threads is not None:
            make_deterministic(threads)
        seed_everything(spec.seed)
        out[spec] = task(spec)
    return out
