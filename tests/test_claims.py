"""Claim rows, the claims table, a notebook's family, verdicts beside (dml_utils.claims)."""

import numpy as np
import pytest

from dml_utils import claims
from dml_utils.claims import (
    EQUIVALENCE_MARGINS,
    beats_baselines_claim,
    claims_table,
    equivalence_claim,
    format_claims,
    interval_claim,
    mean_std,
    paired_claim,
)


def test_every_interval_row_says_what_its_n_can_detect():
    row = paired_claim("A beats B", "r", "A", [0.85, 0.78, 0.83, 0.76, 0.81], "B", [0.80] * 5, "map_at_r")
    assert "n=5 detects |A − B| ≥ 0.0" in row["why"] and "(80 % power at this spread)" in row["why"]
    same = paired_claim("A beats B", "r", "A", [0.85] * 3, "B", [0.80] * 3, "map_at_r")  # no spread: nothing to size
    assert "detects" not in same["why"]


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


def _row(claim_id, verdict, p, how=""):
    row = {"id": claim_id, "claim": claim_id, "kind": "ranking", "reported": "", "ours": "", "verdict": verdict}
    return row | {"why": "", "how": how} | ({} if p is None else {"p": p})


def test_family_adjusted_moves_only_rejections_holm_does_not_keep():
    rows = [
        _row("a", "reproduced", 0.001),  # Holm: 0.001 × 4 = 0.004: kept
        _row("b", "reproduced", 0.03),  # 0.03 × 2 = 0.06 (third smallest of 4, × 2): moved
        _row("c", "not reproduced", 0.02, "reversed"),  # 0.02 × 3 = 0.06: moved
        _row("d", "not reproduced", 0.8, "equivalent"),  # not a rejection: kept whatever its p
        _row("e", "reproduced", None),  # no test of no difference: outside the family
    ]
    out = {r["id"]: r for r in claims.family_adjusted(rows)}
    assert [out[k]["adjusted"] for k in "abcde"] == [
        "reproduced",
        "inconclusive",
        "inconclusive",
        "not reproduced",
        "reproduced",
    ]
    assert out["a"]["p_adjusted"] == pytest.approx(0.004) and out["b"]["p_adjusted"] == pytest.approx(0.06)
    assert np.isnan(out["e"]["p_adjusted"])
    # a ranking its ruler left without resolution is not in the family: the test decided nothing
    ruled = claims.family_adjusted([_row("a", "reproduced", 0.03), _row("r", "no resolution", 0.001)])
    assert ruled[0]["adjusted"] == "reproduced" and np.isnan(ruled[1]["p_adjusted"])
    assert claims.family_summary(ruled)["tested"] == 1
    # one tested claim: nothing to adjust for
    assert claims.family_adjusted([_row("a", "reproduced", 0.03)])[0]["adjusted"] == "reproduced"


def test_claims_table_carries_the_family_and_prints_what_moved():
    table = claims.claims_table(
        [claims.of_kind("ranking", r) for r in [_row("a", "reproduced", 0.03), _row("b", "reproduced", 0.04)]]
    )
    assert list(table.columns)[-3:] == ["p", "p_adjusted", "adjusted"]
    text = claims.format_claims(table)
    assert "adjusted: inconclusive (p = 0.03; Holm over the notebook's 2 tested claims: 0.06)" in text
    assert "columns: id, claim, kind, reported, ours, verdict, how, why\n" in claims.claims_outline(table)
    summary = claims.family_summary(table.to_dict("records"))
    assert summary == {"tested": 2, "by_chance": 0.1, "moved": ["a", "b"]}  # Holm steps down from 0.06: neither holds
    assert claims.family_summary([{"id": "x", "verdict": "reproduced"}])["tested"] is None


def test_rows_built_by_the_helpers_carry_their_p():
    row = claims.paired_claim("a beats b", "", "a", [1.0, 1.2, 1.1], "b", [0.5, 0.6, 0.4], "map_at_r")
    assert 0 < row["p"] < 0.05 and row["verdict"] == "reproduced"
    row = claims.binary_claim("a fails more", "", "a", [True] * 6, "b", [False] * 6, "failed")
    assert row["p"] == pytest.approx(2 * 0.5**6)
    row = claims.beats_baselines_claim(
        "nets beat baselines", {"x": [0.5, 0.6, 0.55], "y": [0.2, 0.1, 0.15]}, [0.3, 0.3, 0.3], 0.25, "map_at_r"
    )
    assert row["verdict"] == "not reproduced" and row["p"] == pytest.approx(claims.zero_p([-0.1, -0.2, -0.15]))
