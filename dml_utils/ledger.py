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
    record). Append-only: a record already there with the same summary is kept as it is; one with
    another summary on the same float path raises LedgerConflict with both values."""
    record = check_record(dict(record))
    path = record_path(root, record)
    if path.exists():
        old = read_record(path)
        if not _same(old["summary"], record["summary"]):
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
