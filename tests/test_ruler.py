"""The shared ruler (``dml_utils.ruler``): what 06 tests through its study, here the cases no study
makes: a proxy without controls, a row judged by a ruler, and notebook 02's use of it."""

import math
from pathlib import Path

import pandas as pd
import pytest

from dml_utils import ruler
from dml_utils.config import config

RULE = ruler.Rule(0.01)


def _scores(by_method):
    return pd.DataFrame([{"method": m, "seed": s, "m": v} for m, vs in by_method.items() for s, v in enumerate(vs)])


def _control(full, other):
    return ruler.control(pd.Series(full), pd.Series(other), "known")


def test_a_proxy_without_its_controls_cannot_rank():
    r = ruler.measure(_scores({"a": [0.5, 0.6, 0.55]}), 0.2, 0.1, 1.0, {}, RULE, "m", "a")
    assert not r["resolves"]
    assert r["problems"] == ["no short control was run", "no shuffled control was run"]
    assert r["floor"] == 0.2 and r["headroom"] == pytest.approx(0.35)


def test_a_control_is_ordered_only_when_its_interval_lies_above_zero():
    assert _control([0.5, 0.6, 0.55], [0.1, 0.2, 0.15])["ordered"]
    assert not _control([0.5, 0.6, 0.55], [0.6, 0.5, 0.55])["ordered"]  # interval across 0
    one = _control([0.5, 0.6, 0.55], [0.1, math.nan, math.nan])  # one seed left: no interval
    assert one["interval"] is None and not one["ordered"] and one["diverged"] == 2


def test_judged_keeps_a_row_on_a_proxy_that_resolves_and_rewrites_it_otherwise():
    row = {"claim": "A beats B", "verdict": "reproduced", "why": "paired interval"}
    good = {"resolves": True, "problems": []}
    bad = {"resolves": False, "problems": ["headroom +0.001 is below 5 margins"]}
    assert ruler.judged(row, good) == {**row, "kind": "ranking"} == ruler.judged(row, None)
    out = ruler.judged(row, bad)
    assert out["kind"] == "ranking"
    with pytest.raises(ValueError, match="only a ranking is judged under a ruler"):
        ruler.judged({**row, "kind": "identity"}, bad)
    assert out["verdict"] == "no resolution" and row["verdict"] == "reproduced"
    assert out["why"].startswith("the proxy cannot rank (headroom +0.001") and "would say reproduced" in out["why"]


# ---------------------------------------------------------------- notebook 02
def test_02s_controls_plan_the_short_and_the_shuffled_triplet_runs():
    from dml_utils.studies.hdml_triplet_vs_npair import parameters, plan_controls

    cfg = config(parameters, "default", root=Path("."))
    specs = plan_controls.control_plan(cfg)
    assert len(specs) == 2 * len(cfg.seeds)
    assert {(s["control"], s["iterations"]) for s in specs} == {
        ("short", cfg.iterations // 10),
        ("shuffled", cfg.iterations),
    }
    assert {(s["loss"], s["hdml"]) for s in specs} == {("triplet", False)}
    with pytest.raises(ValueError, match="the controls' loss 'triplet' is not in losses"):
        plan_controls.control_plan(config(parameters, "default", root=Path("."), losses=["npair"]))


def test_02s_ranking_claims_read_no_resolution_on_a_proxy_that_cannot_rank():
    from dml_utils.studies.hdml_triplet_vs_npair import study

    rows = [
        {"method": m, "seed": s, "recall_at_1": v + 0.01 * s, "f1": v, "map_at_r": v}
        for m, v in (("triplet", 0.5), ("N-pair", 0.6), ("triplet + HDML", 0.5), ("N-pair + HDML", 0.6))
        for s in range(4)
    ]
    grid = pd.DataFrame(rows)
    open_ = {"resolves": True, "problems": []}
    shut = {"resolves": False, "problems": ["the short control is not ordered right"]}
    free = study.ranking_claims(grid, rulers=dict.fromkeys(study.RULED, open_))
    gated = study.ranking_claims(grid, rulers={"recall_at_1": shut, "f1": open_, "map_at_r": open_})
    assert [r["verdict"] for r in free][:2] == ["reproduced", "reproduced"]
    by_claim = {r["claim"]: r["verdict"] for r in gated}
    assert by_claim["N-pair beats triplet on Recall@1 (without HDML)"] == "no resolution"
    assert by_claim["N-pair beats triplet on clustering F1 (without HDML)"] == "reproduced"


# ---------------------------------------------------------------- notebooks 01 and 04
def test_01s_and_04s_controls_plan_the_short_and_the_shuffled_runs_of_their_ruler_cell():
    from dml_utils.studies.circle_vs_triplet import parameters as p01
    from dml_utils.studies.circle_vs_triplet import plan_controls as c01
    from dml_utils.studies.sampling_matters import parameters as p04
    from dml_utils.studies.sampling_matters import plan_controls as c04

    cfg = config(p01, "default", root=Path("."))
    specs = c01.control_plan(cfg)
    assert {(s["control"], s["iterations"]) for s in specs} == {
        ("short", cfg.iterations // 10),
        ("shuffled", cfg.iterations),
    }
    assert {(s["loss"], s["margin"]) for s in specs} == {("triplet", cfg.triplet_margin)}
    cfg = config(p04, "default", root=Path("."))
    specs = c04.control_plan(cfg)
    assert len(specs) == 2 * len(cfg.seeds)
    assert {(s["sampler"], s["loss"]) for s in specs} == {("distance", "margin")}
    with pytest.raises(ValueError, match="the controls' cell distance × margin is not in the grid"):
        c04.control_plan(config(p04, "default", root=Path("."), samplers=["uniform"]))


def test_a_range_error_names_its_reason_and_an_example_inside_the_range():
    from dml_utils.config import ConfigError
    from dml_utils.studies.batch_hard_collapse import parameters as p05

    with pytest.raises(
        ConfigError,
        match=r"retrieval_pools must be > 5 \(each value\): a pool holds the 5 positives.*"
        r"e\.g\. retrieval_pools = \[6\]",
    ):
        config(p05, "smoke", root=Path("."), retrieval_pools=[5])
