"""The run ledger's records (issue 49, first step): one small JSON text per finished run, meant to be
committed under ``results/ledger/<notebook>/``, so that what one machine trained helps every other.

A record holds what a study reads of a run (its summary, never weights or embeddings), the parts of
the run's identity (spec, the configuration it sees, the data digest, the code digest) and where it
ran (``float_path``: torch's vector instruction set, the float-path environment, threads and the
numeric libraries' versions; and the CPU, seconds and seed shift, which do not change numbers). Its
key is a digest of the identity, **not** of where it ran; its file name adds a short digest of the
float path, so a second record of one run from another float path sits beside the first. Records
are append-only: writing a run that is there already is a no-op when the summary is the same and a
``LedgerConflict`` (both values named) when it is not, never an overwrite. Each record carries a
digest of its own content, checked on every read: a damaged or hand-edited record is refused with
its file named (``LedgerError``), never read as a result.

Written by hand: Optuna's storages, joblib's Memory and MLflow's tracking store keep results, but
none keys them by code and data digests with a float path beside the key, refuses a changed
record, or keeps its records as small text files that merge in git without conflicts.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .lineage import timing_free

LEDGER = Path("results") / "ledger"
FORMAT = 1
IDENTITY = ("notebook", "spec", "inputs", "data", "code")  # what a record's key is made of
FLOAT_PATH = ("torch_cpu_capability", "float_path_env", "threads", "libraries")  # what makes its numbers
FIELDS = ("format", "key", "identity", "summary", "where", "content_digest")


class LedgerError(ValueError):
    """A ledger record that cannot be read as a result: damaged, edited, misplaced or incomplete."""


class LedgerConflict(LedgerError):
    """A second record of one run on one float path with another summary: one of them is wrong."""


def _canonical(value: Any) -> str:
    """One text per value: keys sorted, no spaces; NaN and infinities as JSON allows Python to write them."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _digest(value: Any, n: int = 24) -> str:
    return hashlib.sha256(_canonical(value).encode()).hexdigest()[:n]


def run_key(identity: Mapping[str, Any]) -> str:
    """The key of a run: a digest of its identity (``IDENTITY``), the same on every machine."""
    missing = [k for k in IDENTITY if k not in identity]
    if missing:
        raise ValueError(f"a run's identity needs {list(IDENTITY)}; missing {missing}")
    return _digest({k: identity[k] for k in IDENTITY})


def float_path_id(where: Mapping[str, Any]) -> str:
    """A short digest of what in ``where`` changes a run's numbers (``FLOAT_PATH``)."""
    missing = [k for k in FLOAT_PATH if k not in where]
    if missing:
        raise ValueError(f"where a run ran needs {list(FLOAT_PATH)}; missing {missing}")
    return _digest({k: where[k] for k in FLOAT_PATH}, 10)


def make_record(identity: Mapping[str, Any], summary: Mapping[str, Any], where: Mapping[str, Any]) -> dict[str, Any]:
    """A record of one finished run, its content digest included."""
    body = {
        "format": FORMAT,
        "key": run_key(identity),
        "identity": dict(identity),
        "summary": dict(summary),
        "where": {**where, "float_path": float_path_id(where)},
    }
    return {**body, "content_digest": _digest(body, 64)}


def record_path(root: Path, record: Mapping[str, Any]) -> Path:
    """``results/ledger/<notebook>/<key[:2]>/<key>.<float path>.json`` under ``root``."""
    key, notebook = record["key"], record["identity"]["notebook"]
    return root / LEDGER / str(notebook) / key[:2] / f"{key}.{record['where']['float_path']}.json"


def check_record(record: Any, path: Path | None = None) -> dict[str, Any]:
    """``record`` when it is whole and unedited (every field, its content digest, its key and float
    path, and its place in the ledger when ``path`` is given); else LedgerError naming the file."""
    where = f"ledger record {path}" if path is not None else "ledger record"
    if not isinstance(record, dict):
        raise LedgerError(f"{where} is a JSON {type(record).__name__}, not a record")
    missing = [f for f in FIELDS if f not in record]
    if missing:
        raise LedgerError(f"{where} lacks {missing}: not a whole record; restore it from git or retrain the run")
    if record["format"] != FORMAT:
        raise LedgerError(f"{where} has format {record['format']!r}; this code reads format {FORMAT}")
    body = {k: record[k] for k in FIELDS if k != "content_digest"}
    if _digest(body, 64) != record["content_digest"]:
        raise LedgerError(
            f"{where} does not match its content digest: it was changed after it was written (damaged or "
            f"edited); restore it from git (git checkout -- {path or '<file>'}) or delete it and retrain the run"
        )
    try:
        key, fp = run_key(record["identity"]), float_path_id(record["where"])
    except (ValueError, TypeError) as err:
        raise LedgerError(f"{where}: {err}") from None
    if key != record["key"] or fp != record["where"].get("float_path"):
        raise LedgerError(f"{where}: its key or float path is not the digest of its identity or float path")
    if path is not None and path.name != f"{key}.{fp}.json":
        raise LedgerError(f"{where} is filed under another run's name (expected {key}.{fp}.json)")
    return record


def read_record(path: Path) -> dict[str, Any]:
    """The checked record at ``path`` (``check_record``)."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise LedgerError(f"ledger record {path} cannot be read ({type(err).__name__}: {err})") from None
    return check_record(record, Path(path))


def _same(a: Any, b: Any) -> bool:
    """Equal, NaN equal to NaN (a diverged run's scores)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def write_record(root: Path, record: Mapping[str, Any]) -> Path:
    """File ``record`` in the ledger under ``root`` at once and atomically (a kill leaves no partial
    record). Append-only: a record already there with the same summary (timings aside:
    ``lineage.timing_free``) is kept as it is; one with another summary on the same float path raises
    LedgerConflict with both values."""
    record = check_record(dict(record))
    path = record_path(root, record)
    if path.exists():
        old = read_record(path)
        if not _same(timing_free(old["summary"]), timing_free(record["summary"])):
            raise LedgerConflict(
                f"{path}: this run on this float path is recorded with another summary; the ledger keeps the "
                f"first. Recorded: {_canonical(old['summary'])}; now: {_canonical(record['summary'])}"
            )
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(record, sort_keys=True, indent=1, ensure_ascii=False) + "\n")
        os.chmod(tmp, 0o644)
        os.link(tmp, path)  # fails if another writer filed it meanwhile: never replaces a record
    except FileExistsError:
        return write_record(root, record)  # compare with what the other writer filed
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def records(root: Path, notebook: str, key: str) -> list[dict[str, Any]]:
    """Every record of run ``key`` of ``notebook`` (one per float path it ran on), checked."""
    folder = root / LEDGER / notebook / key[:2]
    return [read_record(p) for p in sorted(folder.glob(f"{key}.*.json"))]


# ---------------------------------------------------------------- filling and reading it from a plan
LEDGER_ENV = "DML_LEDGER"  # "fill": record every run of every plan (and train only what the ledger lacks)
BUDGET_ENV = "DML_LEDGER_BUDGET_MIN"  # with fill: start no run after this many minutes; the plan stops cleanly
SLICE_ENV = "DML_LEDGER_SLICE"  # with fill: "i/n", train only the runs whose key falls in slice i of n
AUDIT_ENV = "DML_LEDGER_AUDIT"  # with audit: how many of each plan's records to train again (default 10)
MODES = ("fill", "read", "audit")
# the designs that decide, which no single sitting trains: read from the ledger unless DML_LEDGER says otherwise.
# Every other profile reads it only when asked (make reproduce keeps its meaning; smoke runs, which the
# tests replay, always train)
READ_PROFILES = ("full", "paper")


class AuditFailed(LedgerError):
    """Records that a retraining on their own float path did not reproduce, each with both values."""


class LedgerStop(RuntimeError):
    """A fill stopped cleanly before its plan was complete: its budget was spent, or the runs left
    belong to other slices. Every finished run is in the ledger; the same command continues."""


def summary_of(result: Any, label: str) -> Any:
    """``result`` as the ledger keeps it: JSON (numpy scalars as Python numbers), and only when it
    reads back as the same value (``_same``), so a study reads from the ledger exactly what the run
    returned. A result that holds arrays, tensors, tuples or models is refused, naming the run."""
    plain = _plain(result)
    try:
        back = json.loads(json.dumps(plain))
    except (TypeError, ValueError) as err:
        raise LedgerError(f"run {label}: its result cannot be a ledger record ({err}); the ledger keeps JSON summaries")
    if not _same(back, result):
        raise LedgerError(
            f"run {label}: its result does not read back from JSON as the same value (tuples, arrays, tensors or "
            f"objects in it); the ledger keeps summaries a study reads as they are"
        )
    return back


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and getattr(value, "shape", None) == ():  # a numpy scalar
        return value.item()
    return value


def where_from(environment: Mapping[str, Any], seconds: float) -> dict[str, Any]:
    """A record's ``where`` from ``runs.run_environment``: its float path (``FLOAT_PATH``) and what
    changes no number (the CPU, host kind, seconds, seed shift)."""
    import platform

    machine = environment["machine"]
    return {
        "torch_cpu_capability": machine.get("torch_cpu_capability"),
        "float_path_env": environment["float_path_env"],
        "threads": environment["threads"],
        "libraries": environment["libraries"],
        "cpu": machine,
        "host_kind": platform.machine(),
        "seconds": round(float(seconds), 3),
        "seed_offset": environment["seed_offset"],
    }


class Ledger:
    """The ledger as one plan uses it (``runs.run_plan(..., ledger=)``): ``fill`` records every run
    the plan gets (trained here or read from the run cache) and trains only the runs no record
    holds, within a budget and a slice; ``read`` serves a run from its record (this float path's
    first, else another's) instead of training it. Only the deciding profiles (``READ_PROFILES``)
    read it unasked: ``make reproduce`` keeps its meaning, and a smoke run trains."""

    def __init__(
        self,
        root: Path,
        mode: str,
        budget_min: float | None = None,
        part: tuple[int, int] | None = None,
        audit: int = 10,
    ):
        if mode not in MODES:
            raise ValueError(f"{LEDGER_ENV} must be one of {MODES}, got {mode!r}")
        if budget_min is not None and not budget_min > 0:
            raise ValueError(f"{BUDGET_ENV} must be a positive number of minutes, got {budget_min!r}")
        if part is not None and not (0 <= part[0] < part[1]):
            raise ValueError(f"{SLICE_ENV} must be i/n with 0 <= i < n, got {part[0]}/{part[1]}")
        self.root, self.mode, self.part = Path(root), mode, part
        self.deadline = None if budget_min is None else _now() + 60 * float(budget_min)
        self.left: list[str] = []  # runs this fill left to other slices or to a later one
        if mode == "audit" and not (isinstance(audit, int) and audit >= 1):
            raise ValueError(f"{AUDIT_ENV} must be a whole number of runs, 1 or more, got {audit!r}")
        self.audit = audit

    @classmethod
    def from_env(cls, root: Path, profile: str) -> Ledger | None:
        """``DML_LEDGER`` (fill or read), with ``DML_LEDGER_BUDGET_MIN`` and ``DML_LEDGER_SLICE``;
        unset, a profile of ``READ_PROFILES`` reads the ledger and any other uses none."""
        mode = os.environ.get(LEDGER_ENV, "").strip()
        if not mode:
            return cls(root, "read") if profile in READ_PROFILES else None
        budget = os.environ.get(BUDGET_ENV, "").strip()
        part = os.environ.get(SLICE_ENV, "").strip()
        if mode == "audit":
            n = os.environ.get(AUDIT_ENV, "10").strip()
            if not n.isdigit():
                raise ValueError(f"{AUDIT_ENV} must be a whole number of runs, got {n!r}")
            return cls(root, mode, audit=int(n))
        try:
            minutes = float(budget) if budget else None
        except ValueError:
            raise ValueError(f"{BUDGET_ENV} must be a number of minutes, got {budget!r}") from None
        if part:
            try:
                i, n = (int(x) for x in part.split("/"))
            except ValueError:
                raise ValueError(f"{SLICE_ENV} must look like 0/2 (slice i of n), got {part!r}") from None
            return cls(root, mode, minutes, (i, n))
        return cls(root, mode, minutes)

    def lookup(self, notebook: str, key: str, float_path: str) -> dict[str, Any] | None:
        """The record of run ``key`` on ``float_path``, else on another float path, else None."""
        found = records(self.root, notebook, key)
        same = [r for r in found if r["where"]["float_path"] == float_path]
        return (same or found or [None])[0]

    def takes(self, key: str, label: str) -> bool:
        """Whether this fill trains the run now: in its slice, and started before its budget ends;
        else the run is left (``left``) for another slice or a later fill."""
        if self.part is not None and int(key[:8], 16) % self.part[1] != self.part[0]:
            self.left.append(f"{label} (slice {int(key[:8], 16) % self.part[1]}/{self.part[1]})")
            return False
        if self.deadline is not None and _now() > self.deadline:
            self.left.append(f"{label} (budget spent)")
            return False
        return True

    def stop_if_left(self, desc: str) -> None:
        if self.left:
            left, self.left = self.left, []
            raise LedgerStop(
                f"{desc}: {len(left)} runs left to other slices or a later fill (first: {left[0]}); every finished "
                f"run is in the ledger, and the same command continues"
            )


def audit_sample(filed: list[Any], n: int) -> list[Any]:
    """The ``n`` of ``filed`` an audit trains again: drawn with a generator seeded by 0 (the same
    draw every time, printed by the plan), in the plan's order."""
    import random

    picked = set(random.Random(0).sample(range(len(filed)), min(n, len(filed))))
    return [f for i, f in enumerate(filed) if i in picked]


def audit_verdict(label: str, record: Mapping[str, Any], again: Any, here: str) -> tuple[bool, str]:
    """Whether run ``label`` trained again here (float path ``here``) reproduces its ``record``, and a
    line saying so. On the record's own float path the summary must be equal (NaN equal to NaN,
    timings aside);
    on another float path a trained number acts as another seed's (``dml_utils.regression``'s RULE),
    so the line gives the largest relative difference and the audit does not fail on it."""
    summary = summary_of(again, label)
    if record["where"]["float_path"] == here:
        if _same(timing_free(summary), timing_free(record["summary"])):
            return True, f"audit {label}: equal to its record (float path {here})"
        return False, (
            f"audit {label}: differs from its record on the same float path {here}: recorded "
            f"{_canonical(record['summary'])}; now {_canonical(summary)}"
        )
    worst = max(_deviations(timing_free(record["summary"]), timing_free(summary)), default=0.0)
    return True, (
        f"audit {label}: recorded on float path {record['where']['float_path']}, retrained on {here}: largest "
        f"relative difference {worst:.3g} (another float path acts as another seed on trained numbers)"
    )


def _deviations(a: Any, b: Any):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in a.keys() & b.keys():
            yield from _deviations(a[k], b[k])
    elif isinstance(a, list) and isinstance(b, list):
        for x, y in zip(a, b):
            yield from _deviations(x, y)
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        if math.isfinite(a) and math.isfinite(b):
            yield abs(a - b) / max(1.0, abs(a))


def _now() -> float:
    import time

    return time.monotonic()
