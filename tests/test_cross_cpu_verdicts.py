"""scripts/cross_cpu_verdicts.py: a rerun's verdicts recorded beside the committed ones; a flip
between reproduced and not reproduced fails; a notebook not rerun keeps its recorded entry."""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _script(root):
    spec = importlib.util.spec_from_file_location("cross_cpu_verdicts", ROOT / "scripts" / "cross_cpu_verdicts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.ROOT = root
    return module


def _results(folder, name, verdicts):
    folder.mkdir(parents=True, exist_ok=True)
    doc = {
        "config": {"seeds": [0]},
        "claims": [{"claim": f"c{i}", "verdict": v, "ours": ""} for i, v in enumerate(verdicts)],
    }
    (folder / f"{name}.json").write_text(json.dumps(doc))


def test_a_rerun_of_one_notebook_updates_its_entry_and_keeps_the_others(tmp_path):
    _results(tmp_path / "results", "01_a", ["reproduced"])
    _results(tmp_path / "results", "05_b", ["reproduced", "inconclusive"])
    (tmp_path / "results" / "cross_cpu_verdicts.json").write_text(
        json.dumps({"01_a": {"setting": "X=1", "claims": ["kept"]}})
    )
    _results(tmp_path / "other", "05_b", ["inconclusive", "inconclusive"])
    assert _script(tmp_path).main(["--setting", "X=2", str(tmp_path / "other")]) == 0
    out = json.loads((tmp_path / "results" / "cross_cpu_verdicts.json").read_text())
    assert out["01_a"] == {"setting": "X=1", "claims": ["kept"]}
    assert [c["verdict"] for c in out["05_b"]["claims"]] == ["inconclusive", "inconclusive"] and out["05_b"][
        "setting"
    ] == "X=2"


def test_a_flip_between_reproduced_and_not_reproduced_fails(tmp_path):
    _results(tmp_path / "results", "05_b", ["reproduced"])
    _results(tmp_path / "other", "05_b", ["not reproduced"])
    assert _script(tmp_path).main(["--setting", "X=2", str(tmp_path / "other")]) == 1


def test_a_truncated_rerun_file_is_named_not_a_traceback(tmp_path, capsys):
    import pytest

    _results(tmp_path / "results", "01_a", ["reproduced"])
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "01_a.json").write_text('{"config": {"seeds": [0]}, "claims": [')
    with pytest.raises(SystemExit, match=r"error: the rerun's results .*01_a.json is not valid JSON \(line 1"):
        _script(tmp_path).main(["--setting", "X=2", str(tmp_path / "other")])
    assert not (tmp_path / "results" / "cross_cpu_verdicts.json").exists()  # nothing written
