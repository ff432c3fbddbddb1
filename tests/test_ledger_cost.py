"""scripts/ledger_cost.py: 06's full profile projected from the default run."""

from pathlib import Path

import pytest
import scripts_under_test

ROOT = Path(__file__).resolve().parents[1]


def _script():
    return scripts_under_test.load("ledger_cost")


def test_the_projection_counts_runs_seconds_and_the_critical_path():
    doc = {
        "finals": [
            {"method": "a", "ms_per_iteration": 10.0, "best_iteration": 400, "diverged": ""},
            {"method": "a", "ms_per_iteration": 30.0, "best_iteration": 1000, "diverged": ""},
            {"method": "a", "ms_per_iteration": 20.0, "best_iteration": 600, "diverged": ""},
            {"method": "a", "ms_per_iteration": 99.0, "best_iteration": 0, "diverged": "NaN at step 3"},  # left out
        ]
    }
    full = {
        "trials": 50,
        "per_round": 10,
        "folds": 4,
        "trial_iterations": 1000,
        "iterations": 2600,
        "eval_every": 200,
        "plateau_patience": 10,
        "seeds": list(range(10)),
    }
    out = _script().projection(doc, full, eval_share=0.5, eval_every_measured=100)["a"]
    # a step 20 ms; a trial 20 s; finals: 400+2000, 1000+2000 -> capped 2600, 600+2000: median 2600 steps,
    # evaluation at checks every 200 instead of 100 adds half the measured 50 %: x 1.25
    assert out["runs"] == 210
    assert out["seconds"] == pytest.approx(200 * 20 + 10 * 2600 * 0.02 * 1.25)
    assert out["critical_s"] == pytest.approx(5 * 20 + 2600 * 0.02 * 1.25)
