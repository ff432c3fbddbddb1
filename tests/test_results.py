"""Results files and their provenance (dml_utils.results); claims and statistics keep their names here."""

import json

import numpy as np
import pytest

from dml_utils.results import write_results
from dml_utils.studies import config


def _full_doc(cfg, claims, **changes):
    from dml_utils.runs import code_digest
    from dml_utils.studies.yukawa_vs_contrastive.plan import seed_run

    doc = {
        "notebook": cfg.notebook,
        "profile": "full",
        "seed_offset": 0,
        "plan_code": code_digest(seed_run.__module__),
        "written_at": "then",
        "git_commit": "abc",
        "claims": claims,
    } | changes
    path = cfg.root / "results" / "full" / f"{cfg.notebook}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return doc


def test_write_results_records_provenance_and_replaces_atomically(tmp_path):
    cfg = config("03_yukawa_vs_contrastive_mnist", "smoke", root=tmp_path)
    path = write_results(cfg, {"metric": np.float32(0.5), "bad": float("nan")}, [{"name": "mnist", "source": "x"}])
    doc = json.loads(path.read_text())
    assert path == tmp_path / "build/smoke/results/03_yukawa_vs_contrastive_mnist.json"
    assert doc["profile"] == "smoke" and doc["config"]["seeds"] == [0, 1] and doc["data"][0]["source"] == "x"
    assert doc["libraries"]["torch"] and doc["metric"] == 0.5 and doc["bad"] is None and "git_commit" in doc
    with pytest.raises(TypeError):
        write_results(cfg, {"oops": object()}, [])
    assert json.loads(path.read_text())["metric"] == 0.5  # the failed write left the old file whole
    assert not list(path.parent.glob("*.tmp"))


def test_full_profile_results_are_used_only_when_this_code_made_them(tmp_path):
    from dml_utils.results import full_profile_results

    cfg = config("03_yukawa_vs_contrastive_mnist", "default", root=tmp_path)
    plan = "dml_utils.studies.yukawa_vs_contrastive.plan"
    doc, why = full_profile_results(cfg, plan, " (≈ 1 h)")
    assert doc is None and "no results/full/03_yukawa_vs_contrastive_mnist.json" in why
    assert "--profile full notebooks/03_yukawa_vs_contrastive_mnist.ipynb` (≈ 1 h)" in why
    _full_doc(cfg, [])
    doc, why = full_profile_results(cfg, plan)
    assert doc["git_commit"] == "abc" and "full profile, written then, commit abc" in why
    for change, phrase in (
        ({"plan_code": "0123"}, "made by other code than this checkout's runs execute"),
        ({"seed_offset": 1000}, "seed offset 1000"),
        ({"profile": "default"}, "profile 'default'"),
    ):
        _full_doc(cfg, [], **change)
        doc, why = full_profile_results(cfg, plan)
        assert doc is None and phrase in why and "--profile full" in why
    (tmp_path / "results" / "full" / f"{cfg.notebook}.json").write_text("{half a fi")
    doc, why = full_profile_results(cfg, plan)
    assert doc is None and "cannot be read" in why


def test_a_second_check_is_used_only_when_run_with_its_values_by_this_code(tmp_path):
    from dml_utils.results import check_results
    from dml_utils.runs import code_digest

    cfg = config("06_one_protocol", "default", root=tmp_path)
    plan = "dml_utils.studies.one_protocol.plan"
    over = {"dataset": "fashion-mnist", "classes_per_batch": 3}
    doc, why = check_results(cfg, plan, "fashion-mnist", over)
    assert doc is None and "no results/checks/06_one_protocol.fashion-mnist.json" in why
    assert "--check fashion-mnist notebooks/06_one_protocol.ipynb`" in why
    path = tmp_path / "results" / "checks" / "06_one_protocol.fashion-mnist.json"
    path.parent.mkdir(parents=True)
    good = {
        "notebook": cfg.notebook,
        "profile": "default",
        "seed_offset": 0,
        "plan_code": code_digest(plan),
        "config": {"dataset": "fashion-mnist", "classes_per_batch": 3, "seeds": [0]},
        "written_at": "then",
        "git_commit": "abc",
    }
    path.write_text(json.dumps(good))
    doc, why = check_results(cfg, plan, "fashion-mnist", over)
    assert doc["git_commit"] == "abc" and "the fashion-mnist check, written then, commit abc" in why
    for change, phrase in (
        ({"config": {"dataset": "patches", "classes_per_batch": 3}}, "ran with {'dataset': 'patches'}"),
        ({"plan_code": "0123"}, "made by other code"),
        ({"profile": "smoke"}, "profile 'smoke'"),
        ({"seed_offset": 7}, "seed offset 7"),
    ):
        path.write_text(json.dumps(good | change))
        doc, why = check_results(cfg, plan, "fashion-mnist", over)
        assert doc is None and phrase in why and "--check fashion-mnist" in why


def test_a_results_file_is_stale_when_a_plan_module_moved_and_says_how_to_remake_it():
    from pathlib import Path

    from dml_utils.results import republish_command, stale_codes, study_plan_codes

    now = study_plan_codes("dml_utils.studies.one_protocol")
    assert set(now) == {
        "dml_utils.studies.one_protocol.plan",
        "dml_utils.studies.one_protocol.plan_controls",
    }
    assert stale_codes({"plan_codes": now}) == {}
    moved = {**now, "dml_utils.studies.one_protocol.plan": "0" * 20}
    assert stale_codes({"plan_codes": moved}) == {
        "dml_utils.studies.one_protocol.plan": ("0" * 20, now["dml_utils.studies.one_protocol.plan"])
    }
    gone = {**now, "dml_utils.studies.one_protocol.plan_old": "1" * 20}
    assert stale_codes({"plan_codes": gone}) == {"dml_utils.studies.one_protocol.plan_old": ("1" * 20, None)}
    assert stale_codes({"notebook": "06_one_protocol"}) == {"plan_codes": (None, None)}
    with pytest.raises(ValueError, match="not a study package"):
        study_plan_codes("dml_utils.no_such_study")
    doc = {"notebook": "06_one_protocol", "profile": "default"}
    assert republish_command(Path("results/06_one_protocol.json"), doc) == (
        "python scripts/run_notebooks.py --profile default notebooks/06_one_protocol.ipynb"
    )
    assert republish_command(Path("results/full/06_one_protocol.json"), {**doc, "profile": "full"}).endswith(
        "--profile full notebooks/06_one_protocol.ipynb"
    )
    assert republish_command(Path("results/checks/06_one_protocol.fashion-mnist.json"), doc) == (
        "python scripts/run_notebooks.py --check fashion-mnist notebooks/06_one_protocol.ipynb"
    )


def test_read_json_names_the_file_its_role_and_the_fix(tmp_path):
    from dml_utils.results import ResultsFileError, read_json

    (tmp_path / "ok.json").write_text('{"a": 1}')
    assert read_json(tmp_path / "ok.json", "x") == {"a": 1}
    (tmp_path / "cut.json").write_text('{"a": [1, 2')
    with pytest.raises(ResultsFileError, match=r"the committed results .*cut.json is not valid JSON \(line 1, column"):
        read_json(tmp_path / "cut.json", "the committed results")
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(ResultsFileError, match="holds a JSON list, not the object"):
        read_json(tmp_path / "list.json", "r")
    with pytest.raises(ResultsFileError, match="no such file"):
        read_json(tmp_path / "none.json", "r")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ResultsFileError, match="cannot be read"):
        read_json(tmp_path / "bin.json", "r")


def test_claims_and_statistics_keep_their_names_here():
    """Notebooks call results.claims_table, results.format_claims; studies results.paired_claim."""
    from dml_utils import claims, results, stats

    for name in ("claims_table", "format_claims", "claims_outline", "paired_claim", "with_id", "of_kind", "VERDICTS"):
        assert getattr(results, name) is getattr(claims, name)
    for name in ("paired_interval", "paired_tests", "share_interval", "summary_interval", "detectable_effect"):
        assert getattr(results, name) is getattr(stats, name)
