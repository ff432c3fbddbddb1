import json

import numpy as np
import pytest

from dml_utils.results import (
    EQUIVALENCE_MARGINS,
    beats_baselines_claim,
    claims_table,
    equivalence_claim,
    format_claims,
    interval_claim,
    interval_verdict,
    mean_std,
    paired_claim,
    paired_interval,
    write_results,
)
from dml_utils.studies import config


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


def test_paired_interval_is_the_t_interval():
    ci = paired_interval([1.0, 2.0, 3.0])
    assert ci["n"] == 3 and ci["mean"] == 2.0 and ci["sd"] == 1.0
    assert ci["lo"] == pytest.approx(2.0 - 4.302653 / np.sqrt(3)) and ci["hi"] == pytest.approx(
        2.0 + 4.302653 / np.sqrt(3)
    )
    assert ci["seeds_needed"] == 5  # effect size 2: the normal approximation said 2
    same = paired_interval([0.5, 0.5, 0.5])  # no spread: the interval is the mean, no seeds to size
    assert same["lo"] == same["hi"] == 0.5 and np.isnan(same["seeds_needed"])
    one = paired_interval([0.5])
    assert one["n"] == 1 and np.isnan(one["lo"]) and interval_verdict(one) == "inconclusive"


def _t_power(effect: float, n: int, alpha: float = 0.05) -> float:
    """Two-sided one-sample t-test power from the noncentral t (scipy), independent of statsmodels."""
    from scipy import stats

    crit = stats.t.ppf(1 - alpha / 2, n - 1)
    ncp = effect * np.sqrt(n)
    wrong_side = np.nan_to_num(stats.nct.cdf(-crit, n - 1, ncp))  # NaN where it underflows (far from 0)
    return float(stats.nct.sf(crit, n - 1, ncp) + wrong_side)


@pytest.mark.parametrize("effect", [0.3, 0.8, 1.0, 1.5, 2.0, 3.0, 20.0])
def test_seeds_needed_is_the_fewest_seeds_with_80_percent_t_power(effect):
    from dml_utils.results import seeds_needed

    n = int(seeds_needed(effect * 0.1, 0.1))
    assert n >= 2 and _t_power(effect, n) >= 0.8
    assert n == 2 or _t_power(effect, n - 1) < 0.8
    assert seeds_needed(-effect * 0.1, 0.1) == n  # the sign of the effect does not matter
    assert np.isnan(seeds_needed(0.0, 0.1)) and np.isnan(seeds_needed(0.1, 0.0))


@pytest.mark.parametrize("n", [2, 3, 5, 10, 30])
def test_the_detectable_effect_is_the_one_n_seeds_find_with_80_percent_t_power(n):
    from dml_utils.results import detectable_effect, seeds_needed

    effect = detectable_effect(n, 0.1) / 0.1
    assert _t_power(effect, n) == pytest.approx(0.8, abs=1e-3)
    assert seeds_needed(effect * 0.1 * 1.01, 0.1) == n  # seeds_needed inverts it (a hair above the edge)
    assert detectable_effect(n, 0.2) == pytest.approx(2 * detectable_effect(n, 0.1))  # in units of the spread
    assert np.isnan(detectable_effect(1, 0.1)) and np.isnan(detectable_effect(n, 0.0))


def test_every_interval_row_says_what_its_n_can_detect():
    row = paired_claim("A beats B", "r", "A", [0.85, 0.78, 0.83, 0.76, 0.81], "B", [0.80] * 5, "map_at_r")
    assert "n=5 detects |A − B| ≥ 0.0" in row["why"] and "(80 % power at this spread)" in row["why"]
    same = paired_claim("A beats B", "r", "A", [0.85] * 3, "B", [0.80] * 3, "map_at_r")  # no spread: nothing to size
    assert "detects" not in same["why"]


def test_paired_interval_matches_the_t_formula_to_the_last_digits():
    from scipy import stats

    rng = np.random.default_rng(3)
    for n in (2, 3, 5, 20):
        d = rng.normal(0.1, 0.05, n)
        ci = paired_interval(d)
        half = stats.t.ppf(0.975, n - 1) * d.std(ddof=1) / np.sqrt(n)
        assert ci["lo"] == pytest.approx(d.mean() - half, rel=1e-12, abs=1e-15)
        assert ci["hi"] == pytest.approx(d.mean() + half, rel=1e-12, abs=1e-15)


def test_the_summary_interval_is_the_interval_of_the_differences():
    from dml_utils.results import summary_interval

    rng = np.random.default_rng(5)
    for n in (2, 3, 5, 20):
        d = rng.normal(0.1, 0.05, n)
        ci = paired_interval(d)
        lo, hi = summary_interval(d.mean(), d.std(ddof=1), n)
        assert lo == pytest.approx(ci["lo"], rel=1e-12) and hi == pytest.approx(ci["hi"], rel=1e-12)
    assert summary_interval(0.5, 0.0, 3) == (0.5, 0.5)  # no spread: the mean
    assert all(np.isnan(summary_interval(0.5, float("nan"), 1)))  # one seed: no interval


# synthetic paired tables: (a per seed, b per seed, margin) -> verdict
VERDICT_CASES = [
    ([0.80, 0.82, 0.81, 0.83, 0.80], [0.70, 0.71, 0.70, 0.72, 0.69], 0.01, "reproduced"),  # CI well above 0
    ([0.70, 0.71, 0.70, 0.72, 0.69], [0.80, 0.82, 0.81, 0.83, 0.80], 0.01, "not reproduced"),  # CI below 0
    (
        [0.800, 0.801, 0.799, 0.800, 0.802],
        [0.800, 0.800, 0.800, 0.801, 0.800],
        0.01,
        "not reproduced",
    ),  # inside ±margin
    (
        [0.800, 0.801, 0.799, 0.800, 0.802],
        [0.800, 0.800, 0.800, 0.801, 0.800],
        0.0,
        "inconclusive",
    ),  # no margin: no equivalence
    ([0.85, 0.78, 0.83, 0.76, 0.81], [0.80, 0.80, 0.80, 0.80, 0.80], 0.01, "inconclusive"),  # leans A's way, CI spans 0
    (
        [0.82, 0.83, 0.82, 0.83, 0.84],
        [0.80, 0.80, 0.81, 0.81, 0.80],
        0.01,
        "reproduced",
    ),  # small but consistent: CI > 0
    ([0.81], [0.80], 0.01, "inconclusive"),  # one seed
]


@pytest.mark.parametrize("a, b, margin, verdict", VERDICT_CASES)
def test_paired_claim_verdicts(a, b, margin, verdict):
    row = paired_claim("A beats B", "r", "A", a, "B", b, margin)
    assert row["verdict"] == verdict, row
    if len(a) > 1:
        assert "95 % CI [" in row["ours"]
    low = paired_claim(
        "A is lower", "r", "A", b, "B", a, margin, lower_wins=True
    )  # the same data, read as "lower wins"
    assert low["verdict"] == verdict


def test_inconclusive_rows_say_how_many_seeds_the_effect_needs():
    row = paired_claim("A beats B", "r", "A", [0.85, 0.78, 0.83, 0.76, 0.81], "B", [0.80] * 5, "map_at_r")
    assert row["verdict"] == "inconclusive" and "seeds (80 % power)" in row["why"] and "1 point of MAP@R" in row["why"]
    with pytest.raises(ValueError, match="equivalence margin"):
        paired_claim("A beats B", "r", "A", [1, 2], "B", [1, 2], "speed")
    with pytest.raises(ValueError, match="one per seed"):
        paired_claim("A beats B", "r", "A", [1, 2, 3], "B", [1, 2], "map_at_r")
    assert set(EQUIVALENCE_MARGINS) >= {"map_at_r", "accuracy", "distance"}


def test_equivalence_and_baseline_claims():
    same = np.log([1.01, 0.99, 1.02, 1.00, 0.98, 1.01])
    assert equivalence_claim("same cost", "r", same, 0.15)["verdict"] == "reproduced"
    assert equivalence_claim("same cost", "r", np.log([1.5, 1.6, 1.55, 1.45]), 0.15)["verdict"] == "not reproduced"
    assert equivalence_claim("same cost", "r", np.log([1.0, 1.4, 0.9, 1.3]), 0.15)["verdict"] == "inconclusive"
    untrained = [0.40, 0.41, 0.39]
    good = beats_baselines_claim(
        "beat", {"x": [0.60, 0.62, 0.61], "y": [0.55, 0.56, 0.57]}, untrained, 0.45, "map_at_r"
    )
    assert good["verdict"] == "reproduced"
    one_fails = beats_baselines_claim(
        "beat", {"x": [0.60, 0.62, 0.61], "y": [0.30, 0.31, 0.29]}, untrained, 0.45, "map_at_r"
    )
    assert one_fails["verdict"] == "not reproduced"
    assert interval_claim("d > 0", "r", [0.1, 0.2, 0.15], 0.0)["verdict"] == "reproduced"


def test_claims_table_checks_verdicts():
    assert mean_std([1.0, 2.0, 3.0], 2) == "2.00 ± 1.00 (n=3)"
    t = claims_table(
        [
            {
                "id": "c",
                "claim": "c",
                "kind": "replication",
                "reported": "r",
                "ours": "o",
                "verdict": "inconclusive",
                "why": "",
            }
        ]
    )
    assert "verdict:  inconclusive" in format_claims(t)
    for gone in ("partly", "yes"):
        with pytest.raises(ValueError, match="verdict"):
            claims_table(
                [
                    {
                        "id": "c",
                        "claim": "c",
                        "kind": "replication",
                        "reported": "r",
                        "ours": "o",
                        "verdict": gone,
                        "why": "",
                    }
                ]
            )


# ---------------------------------------------------------------- binary outcomes: exact rules
def test_exact_shares_on_hand_made_counts_including_all_or_nothing():
    from dml_utils.results import share_interval

    all_three, none = share_interval(3, 3), share_interval(0, 3)
    assert all_three["lo"] == pytest.approx(0.025 ** (1 / 3), abs=1e-9) and all_three["hi"] == 1.0  # 0.292
    assert none["lo"] == 0.0 and none["hi"] == pytest.approx(1 - 0.025 ** (1 / 3), abs=1e-9)  # 0.708
    half = share_interval(5, 10)
    assert half["lo"] == pytest.approx(0.187086, abs=1e-6) and half["hi"] == pytest.approx(0.812914, abs=1e-6)
    with pytest.raises(ValueError, match="0 ≤ successes ≤ n"):
        share_interval(4, 3)


def test_paired_binary_outcomes_are_decided_by_the_discordant_seeds():
    from dml_utils.results import binary_claim, binary_verdict, discordant_needed, paired_binary

    assert discordant_needed() == 6  # 2 · 0.5^5 = 0.0625, 2 · 0.5^6 = 0.031
    three = paired_binary([1, 1, 1], [0, 0, 0])  # 3 of 3 vs 0 of 3: the collapse claim of notebook 05
    assert (three["only_a"], three["only_b"], three["p"]) == (3, 0, 0.25) and binary_verdict(three) == "inconclusive"
    six = paired_binary([1] * 6, [0] * 6)
    assert six["p"] == pytest.approx(0.03125) and binary_verdict(six) == "reproduced"
    assert binary_verdict(paired_binary([0] * 6, [1] * 6)) == "not reproduced"
    agree = paired_binary([1, 1, 0, 0], [1, 1, 0, 0])  # no discordant seed: nothing to test
    assert agree["p"] == 1.0 and binary_verdict(agree) == "inconclusive"
    mixed = paired_binary([1, 1, 1, 1, 1, 1, 1, 0], [0, 0, 0, 0, 0, 0, 0, 1])  # 7 vs 1 discordant
    assert mixed["p"] == pytest.approx(0.0703125) and binary_verdict(mixed) == "inconclusive"
    row = binary_claim("raw collapses more", "yes", "raw", [1, 1, 1], "normalized", [0, 0, 0], "collapsed")
    assert row["verdict"] == "inconclusive" and "raw 3/3 (95 % CI [0.29, 1.00])" in row["ours"]
    assert "exact McNemar p = 0.25" in row["ours"] and "3 pairs cannot decide at 95 % whatever they show" in row["why"]
    eight = binary_claim(
        "raw collapses more", "yes", "raw", [1, 1, 1, 1, 1, 1, 1, 0], "normalized", [0] * 7 + [1], "collapsed"
    )
    assert "8 pairs can decide a difference in share of 6/8 or more" in eight["why"]
    assert eight["verdict"] == "inconclusive" and "at least 6 discordant pairs, all one way (here 8)" in eight["why"]
    with pytest.raises(ValueError, match="one per seed on each side"):
        paired_binary([1, 0], [1])


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


def test_verdicts_beside_and_the_same_verdicts_claim():
    from dml_utils.results import same_verdicts_claim, verdicts_beside

    row = {"reported": "r", "why": "", "kind": "ranking"}
    here = claims_table(
        [
            {"id": "x/a", "claim": "[a] x", "ours": "1", "verdict": "inconclusive", **row},
            {"id": "y/a", "claim": "[a] y", "ours": "2", "verdict": "reproduced", **row},
            {"id": "z/b", "claim": "[b] z", "ours": "3", "verdict": "reproduced", **row},
        ]
    )
    there = [
        {"claim": "[a] x", "ours": "1'", "verdict": "not reproduced"},
        {"claim": "[a] y", "ours": "2'", "verdict": "reproduced"},
    ]
    beside = verdicts_beside(here, there, lambda c: c.startswith("[a]"))
    assert beside["moved"].tolist() == [True, False] and beside["ours_other"].tolist() == ["1'", "2'"]
    moved = same_verdicts_claim("small gives big's verdicts", "not tested", beside, "file f", "the big design")
    assert moved["verdict"] == "not reproduced"
    assert (
        moved["ours"]
        == "1 of 2 verdicts the same; moved: [a] x (inconclusive here, not reproduced with the big design)"
    )
    same = same_verdicts_claim("c", "n", beside[~beside["moved"]], "file f", "big")
    assert same["verdict"] == "reproduced" and same["ours"] == "1 of 1 verdicts the same"
    absent = same_verdicts_claim("c", "n", None, "no results/full/x.json: make it with ...", "big")
    assert absent["verdict"] == "not testable here" and absent["why"].startswith("no results/full")
    with pytest.raises(KeyError, match="the other design has no claim"):
        verdicts_beside(here, there)  # [b] z is not there
    with pytest.raises(ValueError, match="no claim to compare"):
        same_verdicts_claim("c", "n", beside.iloc[:0], "f", "big")


def test_a_not_reproduced_interval_says_whether_it_was_reversed_or_equivalent():
    from dml_utils.results import interval_claim, interval_how

    assert interval_how({"lo": -0.005, "hi": 0.004}, 0.01) == "equivalent"
    assert interval_how({"lo": -0.05, "hi": -0.02}, 0.01) == "reversed"
    assert interval_how({"lo": -0.008, "hi": -0.002}, 0.01) == "equivalent"  # below 0 but inside the margin
    with pytest.raises(ValueError, match="does not decide"):
        interval_how({"lo": -0.05, "hi": 0.02}, 0.01)
    reversed_row = interval_claim("a beats b", "r", [-0.05, -0.06, -0.04], 0.01)
    same_row = interval_claim("a beats b", "r", [0.001, -0.001, 0.0005, 0.0], 0.01)
    open_row = interval_claim("a beats b", "r", [0.05, -0.06, 0.04], 0.01)
    assert (reversed_row["verdict"], reversed_row["how"]) == ("not reproduced", "reversed")
    assert (same_row["verdict"], same_row["how"]) == ("not reproduced", "equivalent")
    assert open_row["verdict"] == "inconclusive" and "how" not in open_row


def test_the_claims_table_asks_every_not_reproduced_row_how_and_no_other_row():
    from dml_utils.results import claims_table, format_claims

    base = {"id": "x", "claim": "x", "kind": "replication", "reported": "r", "ours": "o", "why": ""}
    with pytest.raises(ValueError, match="say how"):
        claims_table([{**base, "verdict": "not reproduced"}])
    with pytest.raises(ValueError, match="only 'not reproduced' has a how"):
        claims_table([{**base, "verdict": "reproduced", "how": "reversed"}])
    table = claims_table(
        [
            {**base, "verdict": "not reproduced", "how_if_not": "not observed"},
            {**base, "id": "y", "claim": "y", "verdict": "reproduced", "how_if_not": "reversed"},
        ]
    )
    assert list(table["how"]) == ["not observed", ""] and "how_if_not" not in table.columns
    assert "verdict:  not reproduced (not observed)" in format_claims(table)
    assert "verdict:  reproduced\n" in format_claims(table) + "\n"


def test_no_resolution_drops_the_kind_of_the_interval_it_hides():
    from dml_utils.results import claims_table, interval_claim, with_id
    from dml_utils.ruler import judged

    row = judged(
        with_id("a-beats-b", interval_claim("a beats b", "r", [-0.05, -0.06, -0.04], 0.01)),
        {"resolves": False, "problems": ["p"]},
    )
    assert row["verdict"] == "no resolution" and "how" not in row
    assert claims_table([row])["how"].tolist() == [""]


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


def test_every_claim_declares_its_kind_and_the_tables_print_it():
    from dml_utils.results import KINDS, claims_outline, claims_table, format_claims, of_kind

    row = {"id": "x", "claim": "x", "reported": "r", "ours": "o", "verdict": "reproduced", "why": ""}
    with pytest.raises(ValueError, match="has kind None: declare one of"):
        claims_table([row])
    with pytest.raises(ValueError, match="claim kind 'closed form' is not one of"):
        of_kind("closed form", row)
    table = claims_table([of_kind("identity", row), of_kind("ranking", {**row, "id": "y", "claim": "y"})])
    assert table["kind"].tolist() == ["identity", "ranking"] and list(table.columns)[:3] == ["id", "claim", "kind"]
    assert "    kind:     identity" in format_claims(table) and "    kind:     ranking" in claims_outline(table)
    assert set(KINDS) == {"replication", "identity", "existence", "ranking"}


def test_every_claim_has_one_stable_id_and_what_refers_to_it_finds_it_by_id():
    from dml_utils.results import claim_index, claims_table, find_claim, of_kind, slug, with_id

    row = of_kind(
        "replication", {"claim": "A beats B", "reported": "r", "ours": "o", "verdict": "reproduced", "why": ""}
    )
    with pytest.raises(ValueError, match="has id None: give it a stable one"):
        claims_table([row])
    for bad in ("A-beats-b", "a beats b", "a--b", "", "a/"):
        with pytest.raises(ValueError, match="lowercase words joined by '-'"):
            with_id(bad, row)
    with pytest.raises(ValueError, match="claim id 'a-beats-b' is used by 2 claims"):
        claims_table([with_id("a-beats-b", row), with_id("a-beats-b", {**row, "claim": "other"})])
    assert claims_table([with_id("a-beats-b/unseen", row)])["id"].tolist() == ["a-beats-b/unseen"]
    assert slug("triplet, semihard miner") == "triplet-semihard-miner" and slug("Recall@1") == "recall-1"
    index = claim_index([{**row, "id": "a-beats-b", "claim": "A beats B (old words)"}, {**row, "claim": "C is D"}])
    assert find_claim(index, {"id": "a-beats-b", "claim": "A beats B (new words)"})["claim"] == "A beats B (old words)"
    assert find_claim(index, {"claim": "C is D"})["claim"] == "C is D"  # a file written before ids: by text
    assert find_claim(index, {"id": "e-is-f", "claim": "E is F"}) is None


def test_before_after_finds_an_earlier_verdict_by_id_then_by_text_with_numbers_blanked():
    import pandas as pd

    from dml_utils.results import before_after

    now = pd.DataFrame(
        [
            {"id": "a-beats-b", "claim": "A beats B (reworded)", "verdict": "reproduced"},
            {"id": "c-on-400", "claim": "C holds on 72 classes", "verdict": "inconclusive"},
            {"id": "new-one", "claim": "a new question", "verdict": "reproduced"},
        ]
    )
    earlier = [
        {"id": "a-beats-b", "claim": "A beats B", "verdict": "not reproduced"},
        {"claim": "C holds on 400 classes", "verdict": "reproduced"},  # written before ids
    ]
    table = before_after([("data", "classes", 400, 72)], earlier, now, labels=("then", "now"))
    assert list(table.columns) == ["what", "row", "then", "now", "moved"]
    verdicts = table[table["what"] == "verdict"]
    assert verdicts["then"].tolist() == ["not reproduced", "reproduced", "—"]
    assert verdicts["moved"].tolist() == ["yes", "yes", ""]
