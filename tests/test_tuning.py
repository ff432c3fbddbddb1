"""Folds by class and the seeded search in rounds: splits never share a class, the same seed draws
the same settings, diverged trials cannot win, and bad budgets say how to fix them."""

import math

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution

from dml_utils.class_disjoint import RetrievalData
from dml_utils.tuning import best_setting, class_folds, fold_data, tune

SPACE = {"lr": FloatDistribution(1e-4, 1e-2, log=True), "margin": FloatDistribution(0.01, 0.5)}


def _labels(classes=20, per_class=5):
    return np.repeat(np.arange(classes), per_class)


def test_folds_hold_every_class_once_and_depend_on_the_seed():
    y = _labels()
    folds = class_folds(y, 4, seed=0)
    assert len(folds) == 4
    held = np.concatenate(folds)
    assert sorted(held.tolist()) == list(range(20))  # every class in exactly one fold
    assert all(len(f) == 5 for f in folds)  # equal classes of equal size: equal folds
    assert all((np.diff(f) > 0).all() for f in folds)
    again = class_folds(y, 4, seed=0)
    assert all((a == b).all() for a, b in zip(folds, again))
    other = class_folds(y, 4, seed=1)
    assert any(not np.array_equal(a, b) for a, b in zip(folds, other))


def test_folds_that_cannot_work_are_refused_with_the_fix():
    y = _labels(classes=5)
    with pytest.raises(ValueError, match=r"5 training classes cannot make 3 folds.*folds <= 2"):
        class_folds(y, 3, seed=0)
    with pytest.raises(ValueError, match="folds must be a whole number >= 2"):
        class_folds(y, 1, seed=0)
    with pytest.raises(ValueError, match="folds must be a whole number >= 2"):
        class_folds(y, 2.0, seed=0)
    with pytest.raises(ValueError, match=r"fold 0 holds out .* >= 4 to train on"):
        class_folds(_labels(classes=6), 2, seed=0, min_train_classes=4)


def test_a_fold_trains_on_the_other_classes_and_scores_on_its_own():
    y = _labels(classes=8, per_class=3)
    x = np.arange(len(y), dtype=np.float32)[:, None] * np.ones((1, 2), np.float32)
    data = RetrievalData(x, y, x[:2], y[:2], x[:3], y[:3], {"name": "toy"})
    held = class_folds(y, 2, seed=0)[1]
    fd = fold_data(data, held, fold=1)
    assert set(np.unique(fd.y_val)) == set(held) and set(np.unique(fd.y_test)) == set(held)
    assert not set(np.unique(fd.y_train)) & set(held)
    assert len(fd.y_train) + len(fd.y_val) == len(y)
    assert (fd.x_train[:, 0] == np.flatnonzero(~np.isin(y, held))).all()  # images travel with their labels
    assert fd.provenance == {"name": "toy", "fold": 1, "fold_train_classes": 4, "fold_val_classes": 4}


def _objective(setting):
    return -((math.log10(setting["lr"]) + 3) ** 2) - (setting["margin"] - 0.1) ** 2


def test_the_same_seed_draws_the_same_settings_in_rounds():
    rounds = []

    def evaluate(settings):
        rounds.append(len(settings))
        return [_objective(s) for s in settings]

    a = tune(SPACE, evaluate, trials=10, seed=3, per_round=4)
    assert rounds == [4, 4, 2]
    b = tune(SPACE, lambda ss: [_objective(s) for s in ss], trials=10, seed=3, per_round=4)
    assert [t.params for t in a.trials] == [t.params for t in b.trials]
    c = tune(SPACE, lambda ss: [_objective(s) for s in ss], trials=10, seed=4, per_round=4)
    assert [t.params for t in a.trials] != [t.params for t in c.trials]
    assert best_setting(a) == max((t.params for t in a.trials), key=_objective)
    for t in a.trials:
        assert 1e-4 <= t.params["lr"] <= 1e-2 and 0.01 <= t.params["margin"] <= 0.5


def test_a_diverged_trial_is_failed_and_cannot_be_best():
    def evaluate(settings):
        return [float("nan") if s["margin"] > 0.25 else _objective(s) for s in settings]

    study = tune(SPACE, evaluate, trials=12, seed=0, per_round=3)
    states = [t.state for t in study.trials]
    failed = [t for t in study.trials if t.state == optuna.trial.TrialState.FAIL]
    assert failed and all(t.params["margin"] > 0.25 for t in failed)
    assert optuna.trial.TrialState.COMPLETE in states
    assert best_setting(study)["margin"] <= 0.25
    every_fail = tune(SPACE, lambda ss: [math.inf] * len(ss), trials=3, seed=0)
    with pytest.raises(ValueError, match="all 3 trials failed"):
        best_setting(every_fail)


def test_bad_budgets_and_spaces_are_refused():
    ok = lambda ss: [0.0] * len(ss)  # noqa: E731
    with pytest.raises(ValueError, match="a budget of 0 trials tunes nothing"):
        tune(SPACE, ok, trials=0, seed=0)
    with pytest.raises(ValueError, match="per_round must be"):
        tune(SPACE, ok, trials=2, seed=0, per_round=0)
    with pytest.raises(ValueError, match="search space is empty"):
        tune({}, ok, trials=2, seed=0)
    with pytest.raises(ValueError, match="returned 1 values for 2 settings"):
        tune(SPACE, lambda ss: [0.0], trials=2, seed=0, per_round=2)
    study = tune({"loss": CategoricalDistribution(["a", "b"])}, ok, trials=2, seed=0)
    assert len(study.trials) == 2
