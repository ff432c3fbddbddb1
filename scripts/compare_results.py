"""Compare two results JSONs of one notebook value by value, apart from what no rerun can repeat.

    python scripts/compare_results.py OLD.json NEW.json     # exit 1 and list every difference

Ignored: when and from which commit it was written, the run log (where each run ran, whether it
came from the run cache: published numbers must not depend on it), and wall-clock timings (``ms_per_iteration``, ``ms_per_step``,
``train_seconds``, the step-time benchmark and the claim row built on it); ``seed_offset`` missing
on one side counts as 0 (results written before the seed shift existed). Everything else,
every float included, must be equal bit for bit: this is the check that a refactor changed no
committed number.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

IGNORED_KEYS = {
    "written_at",
    "git_commit",
    "run_log",
    "ms_per_iteration",
    "ms_per_step",
    "train_seconds",
    "step_time_benchmark",
}
TIMING_CLAIM = "an iteration costs the same"
DEFAULTS = {"seed_offset": 0}  # results written before the key existed ran at this value


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            if k in IGNORED_KEYS:
                continue
            if k in DEFAULTS and a.get(k, DEFAULTS[k]) == b.get(k, DEFAULTS[k]):
                continue  # a key added since, at its default value: the same run
            if k not in a or k not in b:
                out.append(f"{path}/{k}: only in {'new' if k in b else 'old'}")
                continue
            out += differences(a[k], b[k], f"{path}/{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if path.endswith("/claims"):
            a = [r for r in a if not str(r.get("claim", "")).startswith(TIMING_CLAIM)]
            b = [r for r in b if not str(r.get("claim", "")).startswith(TIMING_CLAIM)]
        if len(a) != len(b):
            return [f"{path}: {len(a)} vs {len(b)} items"]
        label = (
            (lambda i, x: f"[{str(x.get('claim', i))[:60]!r}]") if path.endswith("/claims") else (lambda i, x: f"[{i}]")
        )
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}{label(i, x)}")]
    same = a == b or (isinstance(a, float) and isinstance(b, float) and a != a and b != b)  # NaN equals NaN here
    return [] if same else [f"{path}: {a!r} -> {b!r}"]


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from dml_utils.results import ResultsFileError, read_json

    try:
        old, new = (read_json(p, role) for p, role in zip(argv, ("the old results", "the new results")))
    except ResultsFileError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    diffs = differences(old, new)
    for d in diffs[:50]:
        print(d)
    print(
        f"{len(diffs)} difference(s) between {argv[0]} and {argv[1]}" + (" (first 50 shown)" if len(diffs) > 50 else "")
    )
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
