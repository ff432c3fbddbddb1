"""Code lineage: which code digests' runs carry forward to a newer digest (issue 49).

A run's cache key holds the code digest of its task's module (``runs.code_digest``: the source of the
module and every dml_utils module it imports). Any edit moves it, even one that changes no number (a
docstring, a refactor), and every cached or committed run of that module then counts as stale. A
*carry* records that the runs made under digest ``source`` are valid under ``target``: ``runs.run_plan``
under ``DML_CARRY=N`` retrained N runs of the plan (drawn at random, seeded, named in the record) under
the new code, and each came out bit for bit equal (``runs.data_digest`` of the result) to the one
stored under the old digest. Carries chain: a digest's ancestors are every digest that carries to
it, directly or through others.

The carries live in ``results/code_lineage.json``, committed beside the results they keep current:
``results.stale_codes`` accepts a results file whose recorded digest is an ancestor of today's, and
the run cache serves an ancestor's entry when it holds none under today's digest. A code change that
moves numbers gets no carry: its audit fails, says how many of the sampled runs differ, and every run
is trained again.

Written here, not taken from a library: the cache (joblib.Memory) keys calls by their arguments, and
no store we know of records which versions of some code give the same results. This module decides
which stored result to read and never computes one, so it is not part of any run's code digest
(``runs.NOT_RUN_CODE``): editing it moves no digest.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

LINEAGE = Path("results") / "code_lineage.json"
CARRY_ENV = "DML_CARRY"  # N: audit N runs of each plan whose code moved since its committed results
FIELDS = ("module", "source", "target", "audited", "float_path", "written_at")
# what a run records about its own moment, not what it computed: its timings (they follow the machine's
# load; step times drive no decision in any task) and when and at which commit it ran
TIMING = re.compile(r"seconds|ms_per|_ms$|step_times|written_at|git_commit")


class LineageError(ValueError):
    """The lineage file is damaged or holds a record without its fields."""


def timing_free(value: Any) -> Any:
    """``value`` without its timings (keys, dataclass fields or DataFrame columns whose name
    ``TIMING`` matches), for asking whether two runs computed the same thing: the same run retrained
    a second later computes every number bit for bit, but its milliseconds per step differ. Dicts,
    lists, tuples and dataclasses are walked; anything else is returned as it is."""
    if isinstance(value, dict):
        return {k: timing_free(v) for k, v in value.items() if not (isinstance(k, str) and TIMING.search(k))}
    if isinstance(value, (list, tuple)):
        return type(value)(timing_free(v) for v in value) if type(value) in (list, tuple) else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if not TIMING.search(f.name)}
        return {"dataclass": type(value).__qualname__, **timing_free(fields)}
    columns = getattr(value, "columns", None)
    if columns is not None and hasattr(value, "drop"):  # a pandas DataFrame
        return value.drop(columns=[c for c in columns if isinstance(c, str) and TIMING.search(c)])
    return value


def read(root: Path) -> list[dict[str, Any]]:
    """The carries recorded under ``root`` (none without the file). A file that is not a list of
    records with every field is refused with its name, never read as carries."""
    path = Path(root) / LINEAGE
    if not path.exists():
        return []
    try:
        records = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise LineageError(f"{path} cannot be read as the code lineage ({err}); restore it with git checkout") from err
    if not isinstance(records, list):
        raise LineageError(f"{path} must hold a list of carries, got {type(records).__name__}")
    for i, r in enumerate(records):
        missing = [f for f in FIELDS if not isinstance(r, dict) or f not in r]
        if missing:
            raise LineageError(f"{path}: carry {i} lacks {missing}; restore the file with git checkout")
    return records


def ancestors(module: str, digest: str, root: Path) -> list[str]:
    """The digests of ``module`` whose runs carry forward to ``digest``, nearest first (a chain of
    carries counts; a cycle is followed once)."""
    parents: dict[str, list[str]] = {}
    for r in read(root):
        if r["module"] == module:
            parents.setdefault(r["target"], []).append(r["source"])
    out, todo = [], list(parents.get(digest, []))
    while todo:
        d = todo.pop(0)
        if d == digest or d in out:
            continue
        out.append(d)
        todo += parents.get(d, [])
    return out


def recorded_code(root: Path, notebook: str, module: str) -> str | None:
    """The digest of ``module`` that the committed default results of ``notebook`` were made by
    (their ``plan_codes``), or None."""
    path = Path(root) / "results" / f"{notebook}.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text()).get("plan_codes", {}).get(module)
    except (OSError, json.JSONDecodeError):
        return None


def carry(root: Path, module: str, source: str, target: str, audited: list[str], float_path: str) -> dict[str, Any]:
    """Record that ``module``'s runs made under ``source`` are valid under ``target`` (``audited``:
    the runs retrained bit for bit). Written atomically; a carry already recorded is not repeated."""
    records = read(root)
    record = {
        "module": module,
        "source": source,
        "target": target,
        "audited": list(audited),
        "float_path": float_path,
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if any((r["module"], r["source"], r["target"]) == (module, source, target) for r in records):
        return record
    path = Path(root) / LINEAGE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".code_lineage.")
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps([*records, record], indent=1) + "\n")
    os.replace(tmp, path)
    return record


def carry_size() -> int:
    """N of ``DML_CARRY=N`` (0 when unset), refused with the variable's name when not a count ≥ 1."""
    raw = os.environ.get(CARRY_ENV, "").strip()
    if not raw:
        return 0
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{CARRY_ENV} must be a count of runs to retrain per plan (e.g. {CARRY_ENV}=3), got {raw!r}")
    return int(raw)
