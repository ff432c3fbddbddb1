"""Where the time of one 06 final and one 05 run goes (issue 50): ``dml_utils.profiling``'s
breakdown of each, run once plainly and once with its sections timed, as its notebook runs it (the
default profile, the runner's task function, seed 0). Prints the table and writes
results/bench/profiles.json with the machine.

    .venv/bin/python benchmarks/profile_runs.py            # both, each run three times (warm-up, plain, timed)
    .venv/bin/python benchmarks/profile_runs.py --only 05

Run it on an idle machine: a second job on the 2 cores moves every share.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def common_targets(backbone_class) -> dict[str, list]:
    """The sections every run has: data, the backbone's forward, PML's mining and loss, backward,
    the optimizer, and the engine's NaN / inf guards."""
    import torch
    from pytorch_metric_learning.losses.base_metric_loss_function import BaseMetricLossFunction
    from pytorch_metric_learning.miners.base_miner import BaseMiner
    from torch.utils.data import dataloader

    from dml_utils import train

    return {
        "data (batches)": [(dataloader._BaseDataLoaderIter, "__next__")],
        "forward": [(backbone_class, "forward")],
        "mining": [(BaseMiner, "forward")],
        "loss": [(BaseMetricLossFunction, "forward")],
        "backward": [(torch.Tensor, "backward")],
        "optimizer": [(torch.optim.Adam, "step"), (torch.optim.Optimizer, "zero_grad")],
        "NaN / inf guards": [(train, "_guard_losses"), (train, "_guard_gradients")],
    }


def profile_06(seed: int, profile: str) -> dict:
    """One final of 06's leading loss at its committed tuned setting, trained to its plateau."""
    from dml_utils import config as cfg_lib
    from dml_utils import evaluate, plateau
    from dml_utils.models import SmallConvNet
    from dml_utils.profiling import profile_call
    from dml_utils.runs import RunSpec
    from dml_utils.studies.one_protocol import parameters
    from dml_utils.studies.one_protocol import plan as op_plan
    from dml_utils.studies.one_protocol import study as op

    committed = json.loads((ROOT / "results" / "06_one_protocol.json").read_text())
    leader = committed["leaderboard"][0]["method"]
    cfg = cfg_lib.config(parameters, profile, root=ROOT)
    cfg_lib.make_deterministic(cfg.threads)
    data = op.prepare(cfg)
    spec = RunSpec.of(
        cfg.notebook, "final", seed, {"method": leader, **committed["best_settings"][leader]}, iterations=cfg.iterations
    )
    targets = common_targets(SmallConvNet) | {
        "evaluation": [
            (plateau, "embed"),
            (op_plan, "embed"),
            (evaluate.Protocol, "map_at_r"),
            (evaluate.Protocol, "score"),
            (plateau, "similarity_stats"),
        ],
        "checkpoints (state copies)": [(plateau.copy, "deepcopy")],
    }
    kept = {}

    def run():
        kept["out"] = op_plan.final_run(cfg, data, spec)

    out = profile_call(run, targets)
    return out | {"what": f"06 final: {leader}, seed {seed}, {kept['out']['iterations']} steps to its plateau"}


def profile_05(seed: int, profile: str) -> dict:
    """One run of 05's collapse map: Hermans et al.'s cell (its P × K, lr, distance), ``iterations``
    steps. Its batches are built inline before the steps (``batch_hard.run``): between sections."""
    from dml_utils import collapse, hpatches
    from dml_utils import config as cfg_lib
    from dml_utils.models import SmallConvNet
    from dml_utils.profiling import profile_call
    from dml_utils.runs import RunSpec
    from dml_utils.studies.batch_hard_collapse import parameters
    from dml_utils.studies.batch_hard_collapse import plan as bhc_plan
    from dml_utils.studies.batch_hard_collapse import study as bhc

    cfg = cfg_lib.config(parameters, profile, root=ROOT)
    cfg_lib.make_deterministic(cfg.threads)
    data = bhc.prepare(cfg)
    cells = bhc_plan.map_settings(cfg)  # Hermans et al.'s cell, or (smoke) the map's first
    group, setting = next(((g, s) for g, s in cells if g == "hermans"), cells[0])
    from dataclasses import asdict

    spec = RunSpec.of(
        cfg.notebook, "collapse map", seed, {"group": group, **asdict(setting)}, iterations=cfg.iterations
    )
    targets = common_targets(SmallConvNet) | {
        "collapse monitor": [(collapse.CollapseMonitor, "after_step")],
        "evaluation": [(bhc_plan, "descriptors"), (hpatches, "matching_map"), (bhc_plan, "task_scores")],
    }

    def run():
        bhc_plan.map_run(cfg, data, spec)

    out = profile_call(run, targets)
    return out | {"what": f"05 map run: {setting.label()}, seed {seed}, {cfg.iterations} steps"}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["05", "06"], help="profile one notebook's run only")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--profile", default="default", help="the notebooks' profile (smoke: a quick check of this script)")
    args = ap.parse_args(argv)
    from dml_utils.machine import cpu_fingerprint, library_versions
    from dml_utils.profiling import shares

    runs = {}
    for name, fn in (("06", profile_06), ("05", profile_05)):
        if args.only in (None, name):
            runs[name] = fn(args.seed, args.profile) | {"profile": args.profile}
            r = runs[name]
            print(
                f"\n{r['what']}: {r['plain_s']:.1f} s plain, {r['timed_s']:.1f} s timed "
                f"(the timers add {100 * (r['overhead'] - 1):+.1f} %)"
            )
            for part, share in sorted(shares(r["seconds"]).items(), key=lambda kv: -kv[1]):
                print(f"  {part:28s} {r['seconds'][part]:7.2f} s  {100 * share:5.1f} %")
    if args.profile != "default":
        return  # only the default profile's runs are recorded
    path = ROOT / "results" / "bench" / "profiles.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "machine": cpu_fingerprint(),
        "libraries": library_versions(),
        "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "runs": runs,
    }
    if args.only and path.exists():  # keep the other notebook's profile
        record["runs"] = {**json.loads(path.read_text()).get("runs", {}), **runs}
    path.write_text(json.dumps(record, indent=1) + "\n")
    print(f"\nwritten: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
