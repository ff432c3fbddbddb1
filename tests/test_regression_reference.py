"""scripts/regression_reference.py --add-new: the numbers a reference holds stay as they were."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("regression_reference", ROOT / "scripts" / "regression_reference.py")
rr = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rr)


def test_add_new_keeps_old_numbers_adds_new_ones_and_drops_gone_ones(capsys):
    old = {
        "notebook": "x",
        "made_on": {"cpu": "old"},
        "metrics": {"a": {"value": 1.0, "tol": 0.1}, "gone": {"value": 2}},
    }
    new = {
        "notebook": "x",
        "made_on": {"cpu": "new"},
        "draws": {"seed_draws": [1]},
        "metrics": {"a": {"value": 1.05, "tol": 0.3}, "b": {"value": 3.0, "tol": 0.2}},
    }
    doc = rr.add_new(old, new)
    assert doc["made_on"] == {"cpu": "old"} and doc["metrics"]["a"] == {"value": 1.0, "tol": 0.1}
    assert doc["metrics"]["b"]["value"] == 3.0 and doc["metrics"]["b"]["added_on"] == {"cpu": "new"}
    assert "gone" not in doc["metrics"]
    assert "added ['b']; dropped ['gone']" in capsys.readouterr().out
