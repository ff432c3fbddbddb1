"""Where a training run's wall time goes (issue 50): forward, backward, optimizer, mining and loss,
data, evaluation, and the Python between them.

A run is marked in *sections*: the functions that do each part (a backbone's ``forward``, PML's
``BaseMiner.forward``, ``Tensor.backward``, ``Adam.step``, ``embed`` …) are wrapped, for the time of
a ``with sections(...)`` block, in a timer. Nothing in the run's code changes, so its code digest
and its numbers stay the published ones (a run profiled here trains exactly as in its notebook).

Why timers of our own rather than torch.profiler's ``record_function`` ranges: the profiler would
cost as little (measured on one 06 final here, idle: 28.1 s under it, 29.4 s plain), but it
records every aten op to give those ranges, and what a breakdown needs it does not give: its
averages are inclusive per range, so a backbone's forward inside an evaluation would count twice.
A timer around each marked call records only the parts, and attributes as a breakdown must: a call
nested in another marked call counts for the outer one (a forward inside an evaluation is
evaluation); the wall time no section covers is *between sections* (Python, bookkeeping, batch
building done inline)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

BETWEEN = "between sections"


class Timers:
    """Seconds per section, outermost calls only (see the module docstring)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._depth = 0

    def wrap(self, label: str, fn: Any) -> Any:
        if isinstance(fn, (staticmethod, classmethod)):
            return type(fn)(self.wrap(label, fn.__func__))
        if not callable(fn):
            raise TypeError(f"section {label!r}: {fn!r} is not callable")

        @functools.wraps(fn)
        def timed(*args, **kwargs):
            if self._depth:  # inside another section: it counts there
                return fn(*args, **kwargs)
            self._depth += 1
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - start
                self.calls[label] = self.calls.get(label, 0) + 1
                self._depth -= 1

        return timed


@contextmanager
def sections(targets: Mapping[str, Sequence[tuple[Any, str]]], timers: Timers) -> Iterator[Timers]:
    """Within the block, each ``(owner, attribute)`` of ``targets[label]`` (a class's method or a
    module's function) is timed into ``timers`` under ``label``; restored on exit, whatever
    happens. An attribute listed twice is wrapped once (its first label)."""
    patched: list[tuple[Any, str, Any]] = []
    try:
        for label, pairs in targets.items():
            for owner, name in pairs:
                if any(o is owner and n == name for o, n, _ in patched):
                    continue
                original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
                wrapped = timers.wrap(label, original)
                patched.append((owner, name, original))
                setattr(owner, name, wrapped)
        yield timers
    finally:
        for owner, name, original in reversed(patched):
            setattr(owner, name, original)


def profile_call(fn: Callable[[], Any], targets: Mapping[str, Sequence[tuple[Any, str]]]) -> dict[str, Any]:
    """Run ``fn()`` once to warm up (lazy imports, first-call allocations; discarded), once plainly
    (its wall time) and once with ``targets`` timed: seconds per section plus ``BETWEEN`` (summing
    to the timed wall time), calls per section, and what the timers cost (timed ÷ plain wall time).
    ``fn`` must do the same work each call (a seeded run)."""
    fn()
    start = time.perf_counter()
    fn()
    plain = time.perf_counter() - start
    with sections(targets, Timers()) as timers:
        start = time.perf_counter()
        fn()
        wall = time.perf_counter() - start
    seconds = dict(timers.seconds) | {BETWEEN: wall - sum(timers.seconds.values())}
    return {"plain_s": plain, "timed_s": wall, "overhead": wall / plain, "seconds": seconds, "calls": timers.calls}


def shares(seconds: Mapping[str, float]) -> dict[str, float]:
    """Each part's share of the total (the sum of the parts: the timed wall time)."""
    total = sum(seconds.values())
    return {k: v / total for k, v in seconds.items()}
