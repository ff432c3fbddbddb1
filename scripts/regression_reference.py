"""Measure the regression references: each notebook's smoke profile natively, under every CPU
variant setting and with other seeds; write tests/regression/reference/NN_slug.json.

    python scripts/regression_reference.py notebooks/*.ipynb      # about 8 smoke runs per notebook
    python scripts/regression_reference.py --add-new notebooks/01_*.ipynb  # only numbers new in the summary

The tolerances follow dml_utils.regression.RULE; each reference file keeps the draws they came
from. Regenerate a reference on purpose (a change of what a notebook computes), never to silence
a failing check you have not explained.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dml_utils.machine import cpu_fingerprint  # noqa: E402
from dml_utils.regression import CPU_VARIANTS, build_reference, run_smoke  # noqa: E402
from dml_utils.studies import study, summarize  # noqa: E402

REFERENCE_DIR = ROOT / "tests" / "regression" / "reference"


def smoke_run(notebook: Path, env: dict[str, str], params: dict, out_dir: Path) -> dict:
    start = time.perf_counter()
    doc = run_smoke(notebook, out_dir, env, params)
    print(
        f"  {notebook.stem} env={env or 'native'} params={params or 'smoke'}: {time.perf_counter() - start:.0f} s",
        flush=True,
    )
    return doc


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="+", type=Path)
    ap.add_argument(
        "--variants",
        nargs="*",
        default=list(CPU_VARIANTS),
        help=f"CPU variant settings (default: all of {list(CPU_VARIANTS)})",
    )
    ap.add_argument("--seed-draws", type=int, default=3, help="how many other seed sets (default 3)")
    ap.add_argument(
        "--add-new",
        action="store_true",
        help="keep every number the reference holds as it is (value, tolerance, draws) and add only the numbers "
        "new in the notebook's summary; numbers the summary no longer has are dropped (both listed)",
    )
    args = ap.parse_args(argv)
    unknown = set(args.variants) - set(CPU_VARIANTS)
    if unknown:
        ap.error(f"unknown variants {sorted(unknown)}; known: {list(CPU_VARIANTS)}")
    REFERENCE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for nb in args.notebooks:
            nb = nb.resolve()
            print(f"== {nb.name}", flush=True)
            ref = summarize(smoke_run(nb, {}, {}, Path(tmp)))
            variants = {label: summarize(smoke_run(nb, CPU_VARIANTS[label], {}, Path(tmp))) for label in args.variants}
            draws = study(nb.stem).schema.SEED_DRAWS[: args.seed_draws]
            seeds = [summarize(smoke_run(nb, {}, p, Path(tmp))) for p in draws]
            doc = build_reference(nb.stem, ref, variants, seeds, draws, cpu_fingerprint())
            path = REFERENCE_DIR / f"{nb.stem}.json"
            if args.add_new and path.exists():
                doc = add_new(json.loads(path.read_text()), doc)
            path.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n")
            print(f"wrote {path.relative_to(ROOT)}: {len(doc['metrics'])} numbers", flush=True)
    return 0


def add_new(old: dict, new: dict) -> dict:
    """``old`` with the numbers only ``new`` has added (and those ``new`` no longer has dropped); each
    added number's entry records the machine and draws it was measured with."""
    metrics = {k: v for k, v in old["metrics"].items() if k in new["metrics"]}
    added = sorted(set(new["metrics"]) - set(old["metrics"]))
    dropped = sorted(set(old["metrics"]) - set(new["metrics"]))
    for k in added:
        metrics[k] = {**new["metrics"][k], "added_on": new["made_on"], "added_with": new["draws"]}
    print(f"  kept {len(metrics) - len(added)} numbers as they were; added {added}; dropped {dropped}", flush=True)
    return {**old, "metrics": dict(sorted(metrics.items()))}


if __name__ == "__main__":
    sys.exit(main())
