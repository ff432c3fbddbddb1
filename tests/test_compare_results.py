import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location(
    "compare_results", Path(__file__).parents[1] / "scripts" / "compare_results.py"
)
cr = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cr)


def test_timings_and_stamps_are_ignored_everything_else_counts():
    old = {
        "written_at": "t0",
        "git_commit": "a",
        "runs": [{"map": 0.5, "ms_per_iteration": 3.0, "nan": float("nan")}],
        "claims": [
            {"claim": "an iteration costs the same for both losses", "verdict": "reproduced"},
            {"claim": "x", "verdict": "v"},
        ],
    }
    new = {
        "written_at": "t1",
        "git_commit": "b",
        "runs": [{"map": 0.5, "ms_per_iteration": 9.0, "nan": float("nan")}],
        "claims": [
            {"claim": "an iteration costs the same for both losses", "verdict": "inconclusive"},
            {"claim": "x", "verdict": "v"},
        ],
    }
    assert cr.differences(old, new) == []
    new["runs"][0]["map"] = 0.5 + 1e-16
    new["claims"][1]["verdict"] = "w"
    new["extra"] = 1
    assert cr.differences(old, new) == [
        "/claims['x']/verdict: 'v' -> 'w'",
        "/extra: only in new",
        f"/runs[0]/map: 0.5 -> {0.5 + 1e-16!r}",
    ]


def test_a_missing_seed_offset_is_the_unshifted_run():
    assert (
        cr.differences({"seed_offset": 0, "x": 1}, {"x": 1}) == []
        and cr.differences({"x": 1}, {"seed_offset": 0, "x": 1}) == []
    )
    assert cr.differences({"x": 1}, {"seed_offset": 1000, "x": 1}) == ["/seed_offset: only in new"]


def test_a_truncated_or_missing_file_is_named_with_its_role(tmp_path, capsys):
    good, cut = tmp_path / "a.json", tmp_path / "b.json"
    good.write_text("{}")
    cut.write_text('{"claims": [')
    assert cr.main([str(good), str(cut)]) == 2
    err = capsys.readouterr().err
    assert f"the new results {cut} is not valid JSON (line 1" in err and "git checkout --" in err
    assert cr.main([str(tmp_path / "none.json"), str(good)]) == 2
    assert f"the old results {tmp_path / 'none.json'}: no such file" in capsys.readouterr().err
