"""Pilot for notebook 05's horizon: where do the collapse map's classes settle?

Runs cells of the map for ``--steps`` steps on pilot seeds (not the notebook's: the horizon is chosen
on these and then checked on the notebook's own seeds by its longer runs), reads each run's class
from its training signals at a ladder of steps (``study.class_along``) and counts, per step, the runs
not yet in the class they end in (``study.horizon_table``). Writes
results/pilots/05_batch_hard_collapse.horizon.json.

    python scripts/pilot_05_horizon.py                  # seeds 90 91, 800 steps (≈ 42 min on 2 cores)
    python scripts/pilot_05_horizon.py --traces T.json --seconds S  # record an earlier pilot's traces

The first pilot (2026-12-07, AMD EPYC with AVX-512, 2 threads) took 41 min 40 s for its 32 runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "pilots" / "05_batch_hard_collapse.horizon.json"
CELLS = [[8, 2, 0.05], [8, 8, 0.05], [32, 2, 0.05], [8, 2, 0.005], [8, 8, 0.005], [32, 2, 0.005], [32, 8, 0.05]]
CELLS += [[32, 8, 0.005]]
LADDER = [25, 50, 100, 150, 200, 300, 400, 600, 800]
WINDOWS = [1, 20]  # the last step's loss, and the mean of the last pinned_window (20) losses


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[90, 91])
    ap.add_argument("--steps", type=int, default=800, help="steps of every pilot run (a multiple of the map's 50)")
    ap.add_argument("--traces", type=Path, help="record these traces (name → trace) instead of training")
    ap.add_argument("--seconds", type=float, help="with --traces: the seconds the pilot that made them took")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from dml_utils import config as cfg_lib
    from dml_utils.machine import cpu_fingerprint
    from dml_utils.studies.batch_hard_collapse import parameters
    from dml_utils.studies.batch_hard_collapse import study as bhc

    if args.steps % 50:
        raise SystemExit(f"--steps must be a multiple of 50 (the map's iterations), got {args.steps}")
    cfg = cfg_lib.config(
        parameters, "default", root=ROOT, seeds=args.seeds, settle_cells=CELLS, settle_factor=args.steps // 50
    )
    seconds = args.seconds
    if args.traces:
        traces = json.loads(args.traces.read_text())
    else:
        cfg_lib.make_deterministic(cfg.threads)
        data = bhc.prepare(cfg)
        t0 = time.perf_counter()
        _, found = bhc.run_settled(cfg, data)
        seconds = time.perf_counter() - t0
        traces = {"/".join(map(str, k)): v for k, v in found.items()}
    ladder = [s for s in LADDER if s <= args.steps]
    record = {
        "what": "runs of the collapse map's cells on pilot seeds, classed from their training signals at each step",
        "seeds": args.seeds,
        "cells": CELLS,
        "steps": args.steps,
        "ladder": ladder,
        "machine": {**cpu_fingerprint(), "threads": cfg.threads},
        "seconds": seconds,
        "not_in_end_class": {},
        "classes": {},
    }
    for window in WINDOWS:
        classes, moved = bhc.horizon_table(traces, ladder, cfg.margin, window)
        record["not_in_end_class"][f"window {window}"] = {str(k): int(v) for k, v in moved.items()}
        record["classes"][f"window {window}"] = {n: list(r) for n, r in classes.iterrows()}
        print(f"loss window {window}: runs not yet in their end class, by step:", moved.to_dict())
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {OUT} ({len(traces)} runs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
