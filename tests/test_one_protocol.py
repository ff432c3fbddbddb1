"""Notebook 06 (one protocol for every loss): bad budgets and methods say how to fix them, the plans
give every method the same runs, a diverged run is a row and not a crash, and the tables and claims
are checked on hand-made results (what a trained run gives is checked by the smoke regression)."""

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dml_utils import studies
from dml_utils.config import ConfigError
from dml_utils.methods import METHODS
from dml_utils.studies.one_protocol import plan, study
from dml_utils.train import NonFiniteLossError

NB = "06_one_protocol"


@pytest.mark.parametrize(
    ("over", "match"),
    [
        ({"methods": ["triplet", "tripplet"]}, r"unknown: \['tripplet'\]"),
        ({"methods": []}, "methods must be distinct names"),
        ({"methods": ["triplet", "triplet"]}, "methods must be distinct names"),
        ({"trials": 0}, "trials must be >= 1, got 0"),
        ({"embedding_size": 0}, "embedding_size must be >= 1, got 0"),
        ({"per_round": -2}, "per_round must be >= 1, got -2"),
        ({"lr": 0.0, "tune_lr": False}, "lr must be > 0, got 0.0"),
        ({"tune_seed": -1}, "tune_seed must be >= 0 and <= 2\\*\\*62: .* got -1"),
        ({"folds": 1}, "folds must be >= 2"),
        ({"batch_size": 30}, r"batch_size 30 != classes_per_batch 8 × samples_per_class 4"),
        ({"samples_per_class": 15, "batch_size": 120}, "samples_per_class 15 > 14"),
        ({"patch_per_sequence": 1}, "patch_per_sequence must be >= 2"),
        ({"image_size": 16, "dataset": "cars196"}, "image_size must be >= 32, got 16"),
        ({"image_size": 64}, r"image_size=64 applies to \['cub200', 'cars196', 'sop'\] only"),
        ({"dataset": "mnist"}, "unknown dataset 'mnist'"),
        (  # Fashion-MNIST's 6 training classes in 2 folds: 3 to train on, so P = 8 cannot be; the fix is named
            {"dataset": "fashion-mnist"},
            r"leave a fold 3 classes to train on.*set classes_per_batch=3, samples_per_class=10, batch_size=30",
        ),
        (
            {
                "dataset": "fashion-mnist",
                "train_classes": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
                "classes_per_batch": 2,
                "samples_per_class": 16,
                "batch_size": 32,
            },
            "leaving >= 2 unseen",
        ),
        (
            {
                "dataset": "fashion-mnist",
                "classes_per_batch": 3,
                "samples_per_class": 10,
                "batch_size": 30,
                "val_per_class": 5,
            },
            "val_per_class 5 < samples_per_class 10",
        ),
        ({"no_such_knob": 3}, "no_such_knob"),
    ],
)
def test_bad_parameters_name_the_value_and_the_fix(over, match):
    with pytest.raises(ConfigError, match=match):
        studies.config(NB, "smoke", **over)


def test_a_profile_a_notebook_lacks_says_which_it_has():
    from types import SimpleNamespace

    from dml_utils.config import config

    lacking = SimpleNamespace(NOTEBOOK="99_x", PROFILES={"common": {}, "smoke": {}, "default": {}})
    with pytest.raises(ConfigError, match=r"99_x has no 'paper' profile yet; use one of \['smoke', 'default'\]"):
        config(lacking, "paper")


def test_every_profile_is_valid_and_tunes_every_method_with_one_budget():
    for profile in ("smoke", "default", "full", "paper"):
        cfg = studies.config(NB, profile)
        assert cfg.methods == list(METHODS) and cfg.trials >= 1 and cfg.folds >= 2
        assert cfg.classes_per_batch * cfg.samples_per_class == cfg.batch_size
    full = studies.config(NB, "full")
    assert (full.folds, full.trials, len(full.seeds)) == (4, 50, 10)  # the Reality Check's design
    paper = studies.config(NB, "paper")
    assert (paper.folds, paper.trials, len(paper.seeds), paper.batch_size, paper.embedding_size) == (4, 50, 10, 32, 128)
    assert (paper.dataset, paper.backbone, paper.image_size, paper.train_classes) == ("cars196", "resnet18", 224, None)


def test_fashion_mnist_second_check_prepares_six_training_classes_in_two_folds(fashion_fixture):
    from dml_utils.studies.one_protocol.parameters import CHECKS

    check = {k: v for k, v in CHECKS["fashion-mnist"].items() if k != "dataset"}
    cfg = studies.config(
        NB,
        "smoke",
        dataset="fashion-mnist",
        data_root=str(fashion_fixture),
        **check,
        n_max=30,
        val_per_class=10,
        test_per_class=15,
    )
    data = study.prepare(cfg)
    assert sorted(np.unique(data.y_train)) == [0, 1, 2, 3, 5, 7] and sorted(np.unique(data.y_test)) == [4, 6, 8, 9]
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (6 * 30, 6 * 10, 4 * 15)
    folds = plan.folds(cfg, data)
    assert [len(f) for f in folds] == [3, 3] and sorted(np.concatenate(folds)) == [0, 1, 2, 3, 5, 7]
    final = plan.final_data(cfg, data)  # the finals: 4 classes train, 2 validate, the unseen 4 test
    assert (len(np.unique(final.y_train)), len(np.unique(final.y_val))) == (4, 2)
    assert not set(final.y_train) & set(final.y_val) and np.array_equal(final.y_test, data.y_test)
    too_many = replace(cfg, values={**cfg.values, "final_val_folds": 4})
    with pytest.raises(ConfigError, match=r"the finals' validation classes \(final_val_folds=4\)"):
        study.prepare(too_many)


@pytest.mark.trains
def test_paper_profile_starts_on_a_cars196_tree(tmp_path):
    """The `paper` profile (Cars196 halves, ResNet18, P 8 × K 4, 4 class folds) on a fixture tree in
    the published layout: data and folds, then one trial of two iterations on RGB images."""
    from test_image_folders import make_cars

    make_cars(tmp_path / "cars", per_class=10)

    def paper(**over):
        return studies.config(NB, "paper", root=tmp_path, data_root=str(tmp_path / "cars"), image_size=32, **over)

    cfg = paper(trial_iterations=2, iterations=2, eval_every=2, seeds=[0])
    data = study.prepare(cfg)
    p = data.provenance
    assert p["class_disjoint"] and len(p["train_classes"]) == 98 and len(p["unseen_classes"]) == 98
    assert data.x_train.shape == (98 * 5, 3, 32, 32) and data.x_val.shape == (98 * 5, 3, 32, 32)
    assert not set(data.y_test) & set(data.y_train)
    folds = plan.folds(cfg, data)
    assert len(folds) == 4 and all(len(f) >= 24 for f in folds)
    # the image folders' classes are known only once read: prepare refuses folds that cannot hold P classes
    wide = paper(folds=2, classes_per_batch=60, samples_per_class=2, batch_size=120, val_per_class=2)
    with pytest.raises(ConfigError, match=r"cars196: fold \d holds out 49 of 98 classes.*>= 60 to train on"):
        study.prepare(wide)
    spec = plan.trial_plan(cfg, "triplet", [{"lr": 1e-3, "margin": 0.1}])[0]
    with pytest.warns(UserWarning, match="RANDOM initialization"):
        r = plan.trial_run(cfg, data, spec)
    assert r["diverged"] == "" and 0 <= r["val_map_at_r"] <= 1


def test_a_fold_without_enough_classes_is_refused_before_any_run():
    from dml_utils.class_disjoint import RetrievalData

    cfg = studies.config(NB, "smoke", folds=2, classes_per_batch=8, samples_per_class=2, batch_size=16)
    y = np.repeat(np.arange(10), 3)
    data = RetrievalData(np.zeros((30, 4)), y, None, None, None, None, {})
    with pytest.raises(ValueError, match=r">= 8 to train on \(classes_per_batch\)"):
        plan.folds(cfg, data)


def test_the_plans_give_every_method_the_same_runs():
    cfg = studies.config(NB, "smoke", folds=3)
    settings = [{"lr": 1e-3, "margin": 0.1}, {"lr": 2e-3, "margin": 0.2}]
    trials = plan.trial_plan(cfg, "triplet", settings)
    assert [(s["fold"], plan.setting_of(s)) for s in trials] == [(f, st) for st in settings for f in range(3)]
    assert {s.seed for s in trials} == {cfg.tune_seed} and {s["iterations"] for s in trials} == {cfg.trial_iterations}
    best = {m: {"lr": 1e-3} for m in cfg.methods}
    finals = plan.final_plan(cfg, best)
    assert len(finals) == len(cfg.methods) * len(cfg.seeds)
    by_method = {m: sorted(s.seed for s in finals if s["method"] == m) for m in cfg.methods}
    assert all(seeds == sorted(cfg.seeds) for seeds in by_method.values())  # paired by seed
    assert len({s.key() for s in finals}) == len(finals)


@pytest.mark.trains  # by name only (plan.train_method): the training call is replaced by one that raises
def test_a_run_that_diverges_is_a_row_not_a_crash(monkeypatch):
    cfg = studies.config(NB, "smoke")

    def boom(*args, **kwargs):
        raise NonFiniteLossError("step 3: loss 'loss' is nan. kept ...\nmore")

    monkeypatch.setattr(plan, "train_step_and_evaluate", boom)
    monkeypatch.setattr(plan, "train_to_plateau", boom)
    data = type("D", (), {"y_train": np.arange(4)})()
    for to_plateau in (False, True):  # a trial, a final
        row = plan.train_method(
            cfg, data, "triplet", {"lr": 1e-2, "margin": 0.1}, seed=3, iterations=10, desc="x", to_plateau=to_plateau
        )
        assert row == {
            "method": "triplet",
            "seed": 3,
            "iterations": 10,
            "diverged": "step 3: loss 'loss' is nan. kept ...",
        }


@pytest.mark.trains
def test_a_trial_trains_as_the_engine_trains_every_loss(small_retrieval_cfg):
    """``plan.loss_maker`` builds the optimizer and step ``retrieval_run.train_and_evaluate`` builds
    (the loss's β in its own group): the same 20 steps, loss by loss, and the same validation score.
    A copy, for now: moving it into ``retrieval_run`` changes the code digest of every run of 01 and
    04 and so retrains them; it moves once the run ledger carries records across a refactor that
    changes no number (issue 49)."""
    from pytorch_metric_learning.losses import MarginLoss

    from dml_utils import class_disjoint, retrieval_run

    cfg = small_retrieval_cfg
    data = class_disjoint.prepare(cfg)

    def loss():
        return MarginLoss(margin=0.2, beta=1.2, learn_beta=True, num_classes=10)

    engine = retrieval_run.train_and_evaluate(
        cfg, data, loss(), None, 0, 20, "t", track=False, progress=False, loss_lr=0.01, scoring=None
    )
    here = retrieval_run.train_step_and_evaluate(
        cfg, data, plan.loss_maker(cfg, loss(), None, 0.01), 0, 20, "t", progress=False, scoring=None
    )
    assert here["step_loss"] == engine["step_loss"] and here["curve"] == engine["curve"]


@pytest.mark.trains  # by name only (plan.train_method): the training call is replaced by one that raises
@pytest.mark.parametrize(
    ("name", "setting", "updates"),
    [
        (
            "hdml_npair",
            {"lr": 2e-3, "l2_reg": 3e-3, "alpha_pull": 90.0, "beta_balance": 1e4},
            ["J_metric", "J_gen", "J_cls"],
        ),
        ("hdml_triplet", {"lr": 2e-3, "alpha_pull": 90.0, "beta_balance": 1e4}, ["J_metric", "J_gen", "J_cls"]),
        ("triplet_sum", {"lr": 2e-3}, ["J_m"]),
    ],
)
def test_hdml_methods_train_by_hdml_step_on_the_network_every_method_gets(monkeypatch, name, setting, updates):
    import torch

    from dml_utils.models import SmallConvNet

    cfg = studies.config(NB, "smoke")
    data = type("D", (), {"y_train": np.repeat(np.arange(5), 4), "x_train": np.zeros((20, 12, 12), np.float32)})()
    seen = {}

    def capture(run_cfg, data_, make, seed, iterations, desc, tracked=None, progress=True, scoring=None):
        torch.manual_seed(0)
        backbone = SmallConvNet(cfg.embedding_size, image_size=12)
        x = torch.randn(3, 12, 12)
        before = backbone(x)
        net, step = make(backbone)
        seen.update(same=torch.equal(net(x), before), updates=[u.loss for u in step.updates], lr=run_cfg.lr)
        seen["metric_lr"] = step.updates[0].optimizer.param_groups[0]["lr"]
        raise NonFiniteLossError("step 7: loss 'J_metric' is nan.\nmore")

    monkeypatch.setattr(plan, "train_step_and_evaluate", capture)
    row = plan.train_method(cfg, data, name, setting, seed=1, iterations=10, desc="x")
    assert seen == {"same": True, "updates": updates, "lr": 2e-3, "metric_lr": 2e-3}
    assert row == {"method": name, "seed": 1, "iterations": 10, "diverged": "step 7: loss 'J_metric' is nan."}


def test_a_trial_whose_fold_diverged_cannot_be_the_best(monkeypatch):
    cfg = studies.config(NB, "smoke", methods=["batch_hard_soft"], trials=4, per_round=2)

    def fake_run_plan(specs, task, **kwargs):  # a high learning rate diverges, a low one scores its log
        out = {}
        for s in specs:
            lr = s["lr"]
            out[s] = {"diverged": "nan"} if lr > 3e-3 else {"val_map_at_r": -math.log10(lr) / 10, "diverged": ""}
        return out

    monkeypatch.setattr(study, "run_plan", fake_run_plan)
    best, rows = study.tune_method(cfg, None, "batch_hard_soft")
    table = pd.DataFrame(rows)
    assert len(table) == 4 and list(table["trial"]) == [0, 1, 2, 3]
    finished = table[table["diverged"] == 0]
    assert best["lr"] == min(r["lr"] for r in finished["setting"])
    assert table.loc[table["diverged"] > 0, "val_map_at_r"].isna().all()
    summary = study.tuning_table({"batch_hard_soft": best}, table)
    assert summary.loc[0, "diverged"] == (table["diverged"] > 0).sum()
    assert summary.loc[0, "best val MAP@R"] == pytest.approx(finished["val_map_at_r"].max())


def _finals(values: dict[str, list[float]]) -> pd.DataFrame:
    rows = []
    for name, vs in values.items():
        for seed, v in enumerate(vs):
            rows.append({"method": name, "seed": seed, "map_at_r": v, "diverged": "" if np.isfinite(v) else "nan"})
    return pd.DataFrame(rows)


def test_leaderboard_and_gaps_to_the_leader():
    df = _finals({"triplet": [0.30, 0.31, 0.32], "circle": [0.40, 0.41, 0.43], "npair": [0.35, math.nan, 0.36]})
    board = study.leaderboard(df)
    assert list(board["method"]) == ["circle", "npair", "triplet"]
    assert board.set_index("method").loc["npair", "diverged"] == 1
    assert board.set_index("method").loc["circle", "lo"] < 0.413 < board.set_index("method").loc["circle", "hi"]
    gaps = study.versus_best(df).set_index("comparison")
    assert gaps.loc["triplet − circle", "hi"] < 0  # told apart from the leader
    assert gaps.loc["npair − circle", "pairs"] == 2  # the diverged seed has no pair
    one = _finals({"a": [0.3, math.nan], "b": [0.4, 0.5]})
    assert math.isnan(study.versus_best(one).loc[0, "lo"])  # one pair: no interval


def _base(untrained=(0.20, 0.21, 0.19), raw=0.15):
    rows = [{"loss": "untrained", "seed": s, "map_at_r": v} for s, v in enumerate(untrained)]
    return pd.DataFrame(rows + [{"loss": "raw pixels", "seed": -1, "map_at_r": raw}])


def test_claims_decide_each_ranking_paired_and_leave_out_diverged_seeds(tmp_path):
    (tmp_path / "results").mkdir()
    own = {
        "claims": [{"id": "circle-better-unseen", "claim": "reworded: circle is better (x)", "verdict": "inconclusive"}]
    }
    (tmp_path / "results" / "01_circle_vs_triplet_margin.json").write_text(json.dumps(own))
    cfg = studies.config(NB, "smoke", root=tmp_path, methods=["triplet", "circle", "npair"])
    df = _finals(
        {"triplet": [0.30, 0.31, 0.32, 0.30], "circle": [0.40, 0.41, 0.43, 0.42], "npair": [0.25, math.nan, 0.26, 0.24]}
    )
    table = study.claims(cfg, df, _base((0.20, 0.21, 0.19, 0.20)))
    rows = table.set_index(table["claim"].str.split(" \\(").str[0])
    assert rows.loc["circle beats triplet", "verdict"] == "reproduced"
    assert rows.loc["circle beats triplet", "why"].startswith("its own notebook: inconclusive (notebook 01)")
    npair = rows.loc["N-pair beats triplet"]
    assert npair["verdict"] == "not reproduced" and "1 seed(s) left out" in npair["why"]
    assert "notebook 02 has no results here" in npair["why"]
    assert "Yukawa beats contrastive" not in rows.index  # a method that did not run: no row
    every = table.iloc[-1]
    assert every["claim"].startswith("every method, tuned, beats") and every["verdict"] == "reproduced"


def test_a_claim_with_fewer_than_two_finite_pairs_is_inconclusive_not_an_error(tmp_path):
    cfg = studies.config(NB, "smoke", root=tmp_path, methods=["triplet", "circle"])
    df = _finals({"triplet": [0.30, math.nan, math.nan], "circle": [0.40, 0.41, 0.43]})
    table = study.claims(cfg, df, _base())
    assert list(table["verdict"]) == ["inconclusive", "inconclusive"]
    assert table.loc[0, "ours"] == "1 of 3 seeds have finite scores for circle and triplet"


def test_own_verdict_says_what_is_missing(tmp_path):
    assert study.own_verdict(tmp_path, "05_batch_hard_collapse", None) == "not tested in notebook 05"
    (tmp_path / "results").mkdir()
    doc = {
        "claims": [
            {"id": "a-thing", "claim": "a thing (x)", "verdict": "reproduced"},
            {"id": "twice", "claim": "a thing else", "verdict": "x"},
            {"id": "twice", "claim": "a thing again", "verdict": "x"},
        ]
    }
    (tmp_path / "results" / "03_x.json").write_text(json.dumps(doc))
    assert study.own_verdict(tmp_path, "03_x", "a-thing") == "reproduced (notebook 03)"
    assert "2 claims have the id 'twice'" in study.own_verdict(tmp_path, "03_x", "twice")
    assert "0 claims have the id 'gone'" in study.own_verdict(tmp_path, "03_x", "gone")


def test_every_ranking_names_methods_of_the_registry_and_a_claim_of_its_notebook():
    root = Path(__file__).resolve().parents[1]
    ids = [r[0] for r in study.RANKINGS]
    assert len(set(ids)) == len(ids)
    for _, claim, a, b, _, notebook, source in study.RANKINGS:
        assert a in METHODS and b in METHODS, claim
        if source is not None:  # the committed results of that notebook hold exactly one claim with that id
            verdict = study.own_verdict(root, notebook, source)
            assert verdict.endswith(f"(notebook {notebook[:2]})"), (claim, verdict)


def test_the_fashion_mnist_check_is_read_beside_the_patches_verdicts(tmp_path):
    from dml_utils.runs import code_digest
    from dml_utils.studies.one_protocol.parameters import CHECKS

    check = studies.config(NB, "default", root=tmp_path, **CHECKS["fashion-mnist"])  # the check's values are valid
    assert check.dataset == "fashion-mnist" and check.classes_per_batch * check.samples_per_class == check.batch_size
    cfg = studies.config(NB, "default", root=tmp_path)
    here = pd.DataFrame(
        [{"id": "a-beats-b", "claim": "A beats B", "ours": "x", "verdict": "inconclusive", "reported": "", "why": ""}]
    )
    beside, why = study.second_check(cfg, here)
    assert beside is None and "--check fashion-mnist" in why
    doc = {
        "notebook": NB,
        "profile": "default",
        "seed_offset": 0,
        "plan_code": code_digest(plan.__name__),
        "config": {**CHECKS["fashion-mnist"], "seeds": cfg.seeds},
        "claims": [{"claim": "A beats B", "ours": "y", "verdict": "not reproduced"}],
    }
    path = tmp_path / "results" / "checks" / f"{NB}.fashion-mnist.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(doc))
    beside, why = study.second_check(cfg, here)
    assert beside.to_dict("records") == [
        {
            "id": "a-beats-b",
            "claim": "A beats B",
            "verdict": "inconclusive",
            "verdict_other": "not reproduced",
            "moved": True,
            "ours": "x",
            "ours_other": "y",
        }
    ]
    assert study.second_check(studies.config(NB, "smoke", root=tmp_path), here)[0] is None  # other seeds: no pairs
    assert "this run is on fashion-mnist" in study.second_check(check, here)[1]


# ---------------------------------------------------------------- the ruler (issue 47)
def _controls(short: list[float], shuffled: list[float]) -> pd.DataFrame:
    rows = [{"control": "short", "seed": s, "map_at_r": v} for s, v in enumerate(short)]
    return pd.DataFrame(rows + [{"control": "shuffled", "seed": s, "map_at_r": v} for s, v in enumerate(shuffled)])


CLEAN = {"ceiling": {"map_at_r": 1.0}}


def test_the_ruler_passes_a_proxy_with_headroom_and_both_controls_ordered():
    df = _finals({"triplet": [0.40, 0.42, 0.41, 0.43], "circle": [0.45, 0.44, 0.46, 0.45]})
    r = study.ruler(
        df, _base((0.20, 0.21, 0.19, 0.20)), _controls([0.30, 0.31, 0.29, 0.33], [0.15, 0.16, 0.14, 0.2]), CLEAN
    )
    assert r["resolves"] and r["problems"] == []
    assert r["floor"] == pytest.approx(0.20) and r["best_method"] == "circle" and r["headroom"] == pytest.approx(0.25)
    assert r["ceiling"] == 1.0 and r["headroom_needed"] == pytest.approx(5 * r["margin"])
    assert r["controls"]["short"]["ordered"] and r["controls"]["shuffled"]["ordered"]
    assert "the proxy can rank: yes" in study.format_ruler(r)


@pytest.mark.parametrize(
    "finals,short,shuffled,problem",
    [
        # the best method 2.5 points above the untrained net: headroom below 5 margins
        ({"triplet": [0.22, 0.23, 0.22, 0.23]}, [0.1] * 4, [0.1] * 4, "headroom +0.025"),
        # the short run scores as well as the full one: the positive control is not ordered
        (
            {"triplet": [0.40, 0.42, 0.41, 0.43]},
            [0.41, 0.43, 0.40, 0.42],
            [0.1] * 4,
            "the short control is not ordered",
        ),
        # shuffled labels score as high as the true ones: the negative control is not ordered
        ({"triplet": [0.40, 0.42, 0.41, 0.43]}, [0.1] * 4, [0.41, 0.42, 0.40, 0.44], "the shuffled control is not"),
        # a control that diverged on all but one seed cannot be decided: not ordered
        ({"triplet": [0.40, 0.42, 0.41, 0.43]}, [0.1] * 4, [0.1] + [math.nan] * 3, "the shuffled control is not"),
    ],
)
def test_the_ruler_fails_a_proxy_that_cannot_rank_and_says_why(finals, short, shuffled, problem):
    r = study.ruler(_finals(finals), _base((0.20, 0.21, 0.19, 0.20)), _controls(short, shuffled), CLEAN)
    assert not r["resolves"] and any(problem in p for p in r["problems"]), r["problems"]
    assert "the proxy can rank: no" in study.format_ruler(r)


def test_a_ranking_on_a_proxy_that_cannot_rank_reads_no_resolution(tmp_path):
    cfg = studies.config(NB, "smoke", root=tmp_path, methods=["triplet", "circle"])
    df = _finals({"triplet": [0.30, 0.31, 0.32, 0.30], "circle": [0.40, 0.41, 0.43, 0.42]})
    base = _base((0.20, 0.21, 0.19, 0.20))
    failing = study.ruler(df, base, _controls([0.4, 0.4, 0.4, 0.4], [0.1] * 4), CLEAN)
    table = study.claims(cfg, df, base, measured=failing)
    ranking = table.iloc[0]
    assert ranking["verdict"] == "no resolution"
    assert "the interval alone would say reproduced" in ranking["why"] and "short control" in ranking["why"]
    assert table.iloc[-1]["verdict"] == "reproduced"  # beating the floor is no ranking: it is not gated
    passing = study.ruler(df, base, _controls([0.2] * 4, [0.1] * 4), CLEAN)
    assert study.claims(cfg, df, base, measured=passing).iloc[0]["verdict"] == "reproduced"


def test_the_controls_plan_the_short_and_the_shuffled_runs_of_the_controls_method():
    from dml_utils.studies.one_protocol import plan_controls
    from dml_utils.studies.one_protocol.parameters import RULER

    cfg = studies.config(NB, "default", root=Path("."))
    best = {m: {"lr": 1e-3} for m in cfg.methods}
    specs = plan_controls.control_plan(cfg, best)
    assert len(specs) == 2 * len(cfg.seeds)
    assert {(s["control"], s["iterations"]) for s in specs} == {("short", 200), ("shuffled", cfg.iterations)}
    assert {s["method"] for s in specs} == {RULER.control_method}
    with pytest.raises(ValueError, match="the controls' method 'triplet' was not tuned here"):
        plan_controls.control_plan(cfg, {"circle": {}})
    y = np.repeat(np.arange(20), 14)
    shuffled = plan_controls.shuffled_labels(y, 0)
    assert (np.bincount(shuffled) == 14).all() and (shuffled != y).mean() > 0.9
    assert np.array_equal(shuffled, plan_controls.shuffled_labels(y, 0))
    assert not np.array_equal(shuffled, plan_controls.shuffled_labels(y, 1))


def test_before_and_after_the_layout_change_row_by_row(tmp_path):
    cfg = studies.config(NB, "default", root=tmp_path, methods=["triplet", "circle"])
    df = _finals({"triplet": [0.30, 0.31, 0.32, 0.30], "circle": [0.40, 0.41, 0.43, 0.42]})
    base = _base((0.20, 0.21, 0.19, 0.20))
    claims = study.claims(cfg, df, base)
    prov = {"train_classes": 220, "unseen_classes": 72}
    table, why = study.before_after(cfg, prov, claims, df, base)
    assert table is None and str(study.FIRST_LAYOUT) in why  # no file: said, not guessed
    old = {
        "data": [{"train_classes": 846, "unseen_classes": 400}],
        "baselines": [{"loss": "untrained", "map_at_r": 0.209}, {"loss": "raw pixels", "map_at_r": 0.185}],
        "finals": [{"method": "triplet", "map_at_r": 0.221}],
        "claims": [{"claim": claims.iloc[0]["claim"], "verdict": "not reproduced"}],
        "git_commit": "7c2f6a7abc",
        "written_at": "2026-12-04T20:00",
    }
    (tmp_path / study.FIRST_LAYOUT).parent.mkdir(parents=True)
    (tmp_path / study.FIRST_LAYOUT).write_text(json.dumps(old))
    table, why = study.before_after(cfg, prov, claims, df, base)
    rows = table.set_index("row")
    assert rows.loc["unseen classes"].iloc[1:].tolist() == [400, 72]
    assert rows.loc["untrained"].iloc[1:].tolist() == ["0.209", "0.200"]
    assert rows.loc["circle"].iloc[1] == "nan" and rows.loc["triplet"].iloc[1] == "0.221"
    assert rows.loc["circle beats triplet"].iloc[1:].tolist() == ["not reproduced", "reproduced"]
    assert "commit 7c2f6a7" in why
    smoke = studies.config(NB, "smoke", root=tmp_path)
    assert study.before_after(smoke, prov, claims, df, base)[0] is None
    (tmp_path / study.FIXED_BUDGET).write_text(json.dumps(old))  # the fixed budget's run: its own column names
    table, why = study.before_after(cfg, prov, claims, df, base, earlier=study.FIXED_BUDGET)
    assert list(table.columns)[2:] == ["400 iterations, last step", "now (to a plateau, best checkpoint)"]
    assert str(study.FIXED_BUDGET) in why


def test_every_numeric_parameter_of_06_declares_its_range_once():
    """Issue 48: a range is declared with the type (``Annotated[int, AtLeast(1)]``), not an ``if`` per name."""
    from dml_utils.parameters import describe, parameter_ranges, parameter_types
    from dml_utils.studies.one_protocol.parameters import Parameters

    kinds = {k: describe(h).replace(" | None", "") for k, h in parameter_types(Parameters).items()}
    numeric = {k for k, kind in kinds.items() if kind in ("int", "float", "list[int]", "list[float]")}
    assert numeric - set(parameter_ranges(Parameters)) == set()


def test_a_ranking_whose_finals_did_not_plateau_reads_no_resolution(tmp_path):
    cfg = studies.config(NB, "smoke", root=tmp_path, methods=["triplet", "circle", "npair"])
    df = _finals({"triplet": [0.30, 0.31, 0.32, 0.30], "circle": [0.40, 0.41, 0.43, 0.42], "npair": [0.5] * 4})
    df["plateaued"] = True
    df.loc[(df["method"] == "circle") & (df["seed"] == 2), "plateaued"] = False
    assert study.not_plateaued(df) == {"circle": 1}
    diverged = df.astype({"plateaued": object})  # a diverged final has no plateau: it is left out of its pairs
    diverged.loc[(df["method"] == "npair") & (df["seed"] == 0), ["plateaued", "diverged"]] = [None, "nan"]
    assert study.not_plateaued(diverged) == {"circle": 1}
    rows = study.claims(cfg, df, _base((0.20, 0.21, 0.19, 0.20))).set_index("claim")
    circle = rows.loc[rows.index.str.startswith("circle beats triplet")].iloc[0]
    assert circle["verdict"] == "no resolution" and circle["how"] == ""
    assert "did not plateau within 20 iterations (circle on 1 seed(s))" in circle["why"]
    assert "the interval alone would say reproduced" in circle["why"]
    npair = rows.loc[rows.index.str.startswith("N-pair beats triplet")].iloc[0]
    assert npair["verdict"] == "reproduced"  # both of its methods plateaued on every seed


def test_the_plateau_table_and_the_tuning_curves():
    finals = pd.DataFrame(
        [
            {
                "method": "a",
                "seed": 0,
                "iterations": 300,
                "best_iteration": 100,
                "plateaued": True,
                "map_at_r": 0.5,
                "diverged": "",
            },
            {
                "method": "a",
                "seed": 1,
                "iterations": 500,
                "best_iteration": 300,
                "plateaued": False,
                "map_at_r": 0.7,
                "diverged": "",
            },
        ]
    )
    curves = pd.DataFrame(
        [
            {"method": "a", "seed": s, "iteration": i, "val_map_at_r": 0.1, "test_map_at_r": t}
            for s, ts in ((0, [0.2, 0.5, 0.6, 0.4]), (1, [0.2, 0.3, 0.9, 0.8]))
            for i, t in zip((0, 100, 200, 300), ts)
        ]
    )
    row = study.plateau_table(finals, curves).iloc[0]
    assert row["plateaued"] == "1/2" and row["stopped at"] == 400 and row["best checkpoint"] == 200
    assert row["MAP@R at checkpoint"] == pytest.approx(0.6)
    assert row["MAP@R at last check"] == pytest.approx(0.6) and row["MAP@R at the unseen peak"] == pytest.approx(0.75)
    trials = pd.DataFrame(
        [{"method": "a", "trial": i, "val_map_at_r": v} for i, v in enumerate([0.3, math.nan, 0.5, 0.4])]
    )
    assert list(study.tuning_curves(trials)["best_val_map_at_r"]) == [0.3, 0.3, 0.5, 0.5]
    first_failed = pd.DataFrame([{"method": "b", "trial": 0, "val_map_at_r": math.nan}])
    assert math.isnan(study.tuning_curves(first_failed)["best_val_map_at_r"].iloc[0])
