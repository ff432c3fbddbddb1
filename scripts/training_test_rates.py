"""How often the outcomes the training tests assert hold, over many seeds: where the bounds in
those tests come from (tests marked ``trains``; see the README's contributor rule).

    .venv/bin/python scripts/training_test_rates.py --seeds 20            # this CPU's float path
    ATEN_CPU_CAPABILITY=default .venv/bin/python scripts/training_test_rates.py --seeds 20

Each line: the outcome, how many of the seeds gave it, and the Clopper-Pearson 95 % interval of
its rate. A test that asserts an outcome over n seeds asserts a count that a rate inside that
interval reaches with probability >= 0.995 (training_outcomes.min_count).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    from training_outcomes import rate_lower_bound

    hi = 1.0 if k == n else float(stats.beta.ppf(1 - (1 - level) / 2, k + 1, n - k))
    return rate_lower_bound(k, n, level), hi


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--only", default="", help="measure only the outcomes whose name contains this")
    args = ap.parse_args(argv)
    from training_outcomes import OUTCOMES

    from dml_utils.config import make_deterministic

    make_deterministic(2)
    seeds = range(args.start, args.start + args.seeds)
    for name, outcome in OUTCOMES.items():
        if args.only not in name:
            continue
        got = [bool(outcome(s)) for s in seeds]
        k, n = sum(got), len(got)
        lo, hi = clopper_pearson(k, n)
        print(
            f"{name}: {k}/{n} (95 % CI {lo:.2f}-{hi:.2f}); failed at seeds {[s for s, g in zip(seeds, got) if not g]}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
