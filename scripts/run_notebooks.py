"""Run numbered notebooks headless with papermill, never losing a committed notebook.

    python scripts/run_notebooks.py --profile default notebooks/03_*.ipynb   # refresh committed outputs
    python scripts/run_notebooks.py --profile smoke --baseline notebooks/*.ipynb  # nbval baselines

Each notebook runs into a temporary file beside its target; the target is replaced only when
the run succeeds. A failed run is kept in build/failed/ for inspection.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

import papermill as pm

ROOT = Path(__file__).resolve().parents[1]


def unknown_parameters(notebooks: list[Path], params: dict) -> str | None:
    """A message naming every -p parameter some notebook does not know, before anything runs."""
    from dml_utils.config import known_parameters
    from dml_utils.profiles import NOTEBOOKS

    for nb in notebooks:
        if nb.stem not in NOTEBOOKS:
            continue  # main() reports a missing notebook
        bad = sorted(set(params) - {"profile"} - known_parameters(nb.stem))
        if bad:
            return f"{nb.stem} does not know {bad}; known: {sorted(known_parameters(nb.stem))}"
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="+", type=Path)
    ap.add_argument("--profile", default="default", choices=["smoke", "default", "paper"])
    ap.add_argument("--baseline", action="store_true", help="write to tests/regression/ instead of in place")
    ap.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                    help="extra notebook parameter (value parsed as Python literal when possible)")
    args = ap.parse_args(argv)
    if args.profile != "default" and not args.baseline:
        ap.error("only the default profile may write over committed notebooks; use --baseline for smoke")
    params = {"profile": args.profile}
    for name, value in args.parameter:
        import ast

        if name == "profile":
            ap.error("set the profile with --profile, not -p profile (the guard on committed notebooks reads --profile)")
        try:
            params[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[name] = value
    problem = unknown_parameters(args.notebooks, params)
    if problem:
        ap.error(problem)
    failed = []
    for nb in args.notebooks:
        nb = nb.resolve()
        if not nb.is_file():
            print(f"error: no notebook {nb}", file=sys.stderr)
            return 2
        target = ROOT / "tests" / "regression" / nb.name if args.baseline else nb
        tmp = target.with_name(f".{target.stem}.running.ipynb")
        start = time.perf_counter()
        print(f"== {nb.relative_to(ROOT)} (profile {args.profile}) -> {target.relative_to(ROOT)}", flush=True)
        try:
            pm.execute_notebook(str(nb), str(tmp), parameters=params, cwd=str(nb.parent), kernel_name="python3",
                                progress_bar=True)
        except Exception as exc:  # papermill raises PapermillExecutionError with the cell's traceback
            keep = ROOT / "build" / "failed" / nb.name
            keep.parent.mkdir(parents=True, exist_ok=True)
            if tmp.exists():
                shutil.move(tmp, keep)
            print(f"FAILED {nb.name} after {time.perf_counter() - start:.0f} s: {type(exc).__name__}: "
                  f"{str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}\n"
                  f"  {target.relative_to(ROOT)} is unchanged; the partial run is in {keep.relative_to(ROOT)}",
                  file=sys.stderr)
            failed.append(nb.name)
            continue
        os.replace(tmp, target)
        print(f"ok {nb.name}: {time.perf_counter() - start:.0f} s", flush=True)
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
