"""What notebook 06's ``full`` profile costs, projected from the committed default run (issue 49):
its runs, the hours of this machine they take one after the other, and the wall time with N
workers of this kind, from the step times and plateau lengths the default finals recorded.

    .venv/bin/python scripts/ledger_cost.py [--workers 1 4 16 64]

Each trial trains ``trial_iterations`` steps; each final trains to its plateau, estimated as the
default final's best checkpoint plus the full profile's patience (``plateau_patience`` checks of
``eval_every`` steps), at most ``iterations``. A step costs the method's median ms per step in the
default finals (steps only), times the share the evaluation adds: measured on one default final
(``results/bench/profiles.json``: evaluation over the rest of the run, checks every 100 steps),
scaled to the full profile's checks every ``eval_every`` steps; a trial's one evaluation, at its end, is left out.

With N workers the wall time lies between max(total / N, critical path) and total / N + critical
path (any greedy schedule): the critical path is, per method, its tuning rounds one after another
(``trials / per_round`` rounds of ``per_round × folds`` runs each) and then its longest final;
methods run side by side.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def projection(doc: dict, full: dict, eval_share: float, eval_every_measured: int) -> dict:
    """Per method: runs, seconds one after another, and its critical path (seconds), from the
    default results ``doc`` and the full profile's values ``full`` (see the module docstring)."""
    steps_ms, best = defaultdict(list), defaultdict(list)
    for f in doc["finals"]:
        if f.get("diverged"):
            continue
        steps_ms[f["method"]].append(f["ms_per_iteration"])
        best[f["method"]].append(f["best_iteration"])
    eval_factor = 1 + eval_share * eval_every_measured / full["eval_every"]
    rounds = -(-full["trials"] // full["per_round"])
    out = {}
    for method, ms in steps_ms.items():
        step_s = statistics.median(ms) / 1e3
        trial_s = full["trial_iterations"] * step_s
        final_steps = [min(b + full["plateau_patience"] * full["eval_every"], full["iterations"]) for b in best[method]]
        final_s = statistics.median(final_steps) * step_s * eval_factor
        trials = full["trials"] * full["folds"]
        finals = len(full["seeds"])
        out[method] = {
            "runs": trials + finals,
            "seconds": trials * trial_s + finals * final_s,
            "critical_s": rounds * trial_s + max(final_steps) * step_s * eval_factor,
        }
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 4, 16, 64])
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from dml_utils.studies.one_protocol import parameters

    doc = json.loads((ROOT / "results" / "06_one_protocol.json").read_text())
    full = {**parameters.PROFILES["common"], **parameters.PROFILES["full"]}
    prof = json.loads((ROOT / "results" / "bench" / "profiles.json").read_text())["runs"]["06"]["seconds"]
    share = prof["evaluation"] / (sum(prof.values()) - prof["evaluation"])
    per = projection(doc, full, share, doc["config"]["eval_every"])
    total = sum(m["seconds"] for m in per.values())
    critical = max(m["critical_s"] for m in per.values())
    runs = sum(m["runs"] for m in per.values())
    print(
        f"06 at full: {runs} runs ({full['folds']} folds x {full['trials']} trials x {len(per)} methods, "
        f"then {len(full['seeds'])} finals each), {total / 3600:.1f} h of this machine one after another; "
        f"critical path {critical / 3600:.2f} h (evaluation adds {share:.0%} of a default final's steps)"
    )
    for n in args.workers:
        print(f"  {n:3d} workers: {max(total / n, critical) / 3600:6.2f} to {(total / n + critical) / 3600:6.2f} h")
    for method, m in sorted(per.items(), key=lambda kv: -kv[1]["seconds"]):
        print(
            f"  {method:16s} {m['runs']:4d} runs  {m['seconds'] / 3600:5.2f} h  critical path {m['critical_s'] / 3600:.2f} h"
        )


if __name__ == "__main__":
    main()
