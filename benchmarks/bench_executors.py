"""Which layout of this machine's two cores runs a study's plan faster: one worker with 2 threads
(the serial executor, the numbers every notebook publishes), two workers with 1 thread each (a
process pool; 1 thread gives other last bits than 2, so other numbers), or two workers with 2 threads
each (the published numbers, cores oversubscribed). The plan: the first RUNS runs of notebook 04's
grid at the default profile (or --study 05: its collapse map), no cache. Wall time of the whole
plan, pool start-up included; medians of interleaved repeats (the machine is shared and noisy).

    python benchmarks/bench_executors.py [--study 04|05] [--runs 6] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from dml_utils.executors import make_executor
from dml_utils.runs import run_plan
from dml_utils.studies import config

LAYOUTS = {  # name: (executor, threads per worker)
    "1 worker × 2 threads (serial)": ("serial", 2),
    "2 workers × 1 thread (pool:2)": ("pool:2", 1),
    "2 workers × 2 threads (pool:2)": ("pool:2", 2),
}


def plan_of(study: str, runs: int):
    if study == "04":
        from dml_utils.studies.sampling_matters import study as sm

        cfg = config("04_sampling_matters", "default")
        return cfg, sm.prepare(cfg), sm.grid_plan(cfg)[:runs], sm.grid_run
    from dml_utils.studies.batch_hard_collapse import study as bhc

    cfg = config("05_batch_hard_collapse", "default")
    return cfg, bhc.prepare(cfg), bhc.map_plan(cfg)[:runs], bhc.map_run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--study", choices=["04", "05"], default="04")
    ap.add_argument("--runs", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    cfg, data, plan, task = plan_of(args.study, args.runs)
    seconds = {name: [] for name in LAYOUTS}
    order = list(LAYOUTS)
    for r in range(args.repeats):
        for name in order if r % 2 == 0 else order[::-1]:  # interleaved, alternating order
            kind, threads = LAYOUTS[name]
            t0 = time.perf_counter()
            executor = make_executor(kind)
            try:
                run_plan(
                    plan, task, cfg=cfg, data=data, threads=threads, cache=False, executor=executor, progress=False
                )
            finally:
                if executor is not None:
                    executor.shutdown()
            seconds[name].append(time.perf_counter() - t0)
            print(f"  repeat {r + 1}: {name}: {seconds[name][-1]:.1f} s", flush=True)
    base = statistics.median(seconds[order[0]])
    print(
        f"notebook {args.study}'s plan, first {len(plan)} runs, {args.repeats} interleaved repeats (median wall time):"
    )
    for name in order:
        med = statistics.median(seconds[name])
        print(
            f"  {name:34s} {med:7.1f} s   ratio to serial {med / base:.2f}   (all: {', '.join(f'{s:.1f}' for s in seconds[name])})"
        )


if __name__ == "__main__":
    main()
