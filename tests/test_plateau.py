"""Training to a plateau (dml_utils.plateau): the stopping rule on made-up curves, and the loop's
steps against one fit of as many passes."""

import math

import numpy as np
import pytest
import torch
from pytorch_metric_learning.losses import TripletMarginLoss

from dml_utils import class_disjoint, retrieval_run
from dml_utils.evaluate import CLASS_DISJOINT, embed
from dml_utils.plateau import PlateauRule, best_check, plateaued, train_to_plateau
from dml_utils.train import labelled_loss, single_loss_step

RULE = PlateauRule(check_every=10, patience=3, min_gain=0.01, max_iterations=100)


@pytest.mark.parametrize(
    ("scores", "expect"),
    [
        ([0.1, 0.2, 0.3, 0.4, 0.5], False),  # still rising
        ([0.1, 0.5, 0.5, 0.5, 0.5], True),  # flat for 3 checks after the best
        ([0.1, 0.5, 0.51, 0.50, 0.505], True),  # a gain of exactly min_gain is no gain
        ([0.1, 0.5, 0.49, 0.48, 0.509], True),  # a new best, but by less than min_gain
        ([0.1, 0.5, 0.49, 0.48, 0.5201], False),  # the last check gains more than min_gain
        ([0.5, 0.4, 0.3], False),  # too few checks to tell
        ([0.5, 0.4, 0.3, 0.2], True),  # falling: step 0 was the best
        ([0.1, 0.5, math.nan, 0.49, 0.48], True),  # a NaN check gains nothing
    ],
)
def test_the_rule_stops_only_when_the_last_checks_gain_nothing(scores, expect):
    assert plateaued(scores, RULE) is expect


def test_the_checkpoint_is_the_earliest_best_and_never_a_nan():
    assert best_check([0.1, 0.5, 0.3, 0.5]) == 1
    assert best_check([math.nan, 0.2, math.nan]) == 1
    assert best_check([math.nan, math.nan]) == 0


@pytest.mark.parametrize(
    ("over", "match"),
    [
        ({"check_every": 0}, "check_every must be >= 1"),
        ({"patience": 0}, "patience must be >= 1"),
        ({"min_gain": -0.1}, "min_gain must be >= 0"),
        ({"min_gain": math.nan}, "min_gain must be >= 0"),
        ({"max_iterations": 95}, "multiple of check_every"),
    ],
)
def test_a_bad_rule_names_its_value(over, match):
    with pytest.raises(ValueError, match=match):
        PlateauRule(**{"check_every": 10, "patience": 3, "min_gain": 0.01, "max_iterations": 100, **over})


def _make(cfg):
    def make(model):
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        return model, single_loss_step(model, labelled_loss(TripletMarginLoss(margin=0.1), None), opt)

    return make


@pytest.mark.trains
def test_the_loop_takes_the_steps_of_one_fit_and_scores_the_best_checkpoint(small_retrieval_cfg):
    """Checked every 10 steps to 30 (a patience the run cannot meet), the validation scores are
    those of one 30-step run evaluated at the same steps (the sampler's stream and Adam's state
    carry over between the loop's passes); the test score is the best validation checkpoint's."""
    cfg = small_retrieval_cfg
    data = class_disjoint.prepare(cfg)
    val = lambda m: CLASS_DISJOINT.map_at_r(embed(m, data.x_val), data.y_val)  # noqa: E731
    test = lambda m: {"test_map_at_r": CLASS_DISJOINT.map_at_r(embed(m, data.x_test), data.y_test)}  # noqa: E731
    rule = PlateauRule(check_every=10, patience=5, min_gain=0.0, max_iterations=30)
    r = train_to_plateau(cfg, data, _make(cfg), 0, rule, "t", CLASS_DISJOINT, validate=val, watch=test)
    one = retrieval_run.train_step_and_evaluate(
        cfg, data, _make(cfg), 0, 30, "t", tracked=test, progress=False, scoring=None
    )
    assert [c["iteration"] for c in r["curve"]] == [0, 10, 20, 30]
    assert [c["val_map_at_r"] for c in r["curve"][1:]] == [c["val_map_at_r"] for c in one["curve"]]
    assert r["step_loss"] == one["step_loss"]
    s = r["summary"]
    best = best_check([c["val_map_at_r"] for c in r["curve"]])
    assert s["iterations"] == 30 and not s["plateaued"] and s["best_iteration"] == r["curve"][best]["iteration"]
    assert s["val_map_at_r"] == r["curve"][best]["val_map_at_r"]
    assert s["map_at_r"] == pytest.approx(r["curve"][best]["test_map_at_r"], abs=1e-12)
    assert np.isfinite(s["loss_step0"]) and s["weight_move"] > 0


@pytest.mark.trains
def test_a_run_stops_at_its_plateau(small_retrieval_cfg):
    """A validation score that cannot change (a constant) meets the rule after `patience` checks."""
    cfg = small_retrieval_cfg
    data = class_disjoint.prepare(cfg)
    rule = PlateauRule(check_every=5, patience=2, min_gain=0.0, max_iterations=50)
    r = train_to_plateau(cfg, data, _make(cfg), 0, rule, "t", CLASS_DISJOINT, validate=lambda m: 0.5)
    s = r["summary"]
    assert s["plateaued"] and s["iterations"] == 10 and s["best_iteration"] == 0 and len(r["step_loss"]) == 10
