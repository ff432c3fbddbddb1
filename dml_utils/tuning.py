"""Tuning under one protocol: validation classes carved out of the training classes (folds by
class), and an Optuna search whose trials are run in rounds by whatever carries runs out.

"A Metric Learning Reality Check" (Musgrave, Belongie & Lim, ECCV 2020) tunes every method on
validation classes split off the training classes, never on the test classes, with the same budget
of trials for each. :func:`class_folds` makes those splits (scikit-learn's ``GroupKFold`` with the
class as the group: no class is on both sides of a split), :func:`fold_data` turns one into a
retrieval set, and :func:`tune` draws settings from a seeded Optuna sampler through its ask-and-tell
interface, ``per_round`` at a time, and hands each round to an ``evaluate`` callback (in a study:
one ``run_plan`` of a run spec per setting and fold, so the rounds' runs go to the run cache and
any executor). The rounds' size is a parameter of the search, not the number of workers: what the
sampler sees, and so every setting it draws, does not depend on where the runs ran.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from sklearn.model_selection import GroupKFold

from .class_disjoint import RetrievalData


def class_folds(labels: np.ndarray, n_folds: int, seed: int, min_train_classes: int = 2) -> list[np.ndarray]:
    """The classes each of ``n_folds`` folds holds out, sorted: every class in exactly one fold,
    shuffled by ``seed`` (``GroupKFold(shuffle=True)``, images grouped by class, so folds also
    balance images). A fold must hold out at least 2 classes (MAP@R ranks one class against others)
    and leave ``min_train_classes`` to train on (a P × K batch needs P classes)."""
    labels = np.asarray(labels)
    classes = np.unique(labels)
    if not isinstance(n_folds, int) or isinstance(n_folds, bool) or n_folds < 2:
        raise ValueError(f"folds must be a whole number >= 2 (one fold would validate on no class), got {n_folds!r}")
    if len(classes) < 2 * n_folds:
        raise ValueError(
            f"{len(classes)} training classes cannot make {n_folds} folds of >= 2 validation classes each; "
            f"use folds <= {len(classes) // 2}, or more training classes"
        )
    splitter = GroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    folds = [np.unique(labels[val]) for _, val in splitter.split(labels, labels, groups=labels)]
    for i, held in enumerate(folds):
        if len(held) < 2 or len(classes) - len(held) < min_train_classes:
            raise ValueError(
                f"fold {i} holds out {len(held)} of {len(classes)} classes: it needs >= 2 held out and "
                f">= {min_train_classes} to train on (classes_per_batch); use fewer folds or a smaller batch"
            )
    return folds


def fold_data(data: RetrievalData, held_out: np.ndarray, fold: int) -> RetrievalData:
    """The retrieval set of one fold: the training images of the classes not in ``held_out`` train;
    the training images of the held-out classes are both the validation and the test set (a trial
    is scored on them). ``data``'s own validation and test images are not touched."""
    val = np.isin(data.y_train, held_out)
    rows_train, rows_val = np.flatnonzero(~val), np.flatnonzero(val)
    x = data.x_train  # an array, a tensor or LazyImages: each takes an index array

    def take(rows):
        return x[rows]

    prov = {
        **data.provenance,
        "fold": fold,
        "fold_train_classes": int(len(np.unique(data.y_train[rows_train]))),
        "fold_val_classes": int(len(held_out)),
    }
    return RetrievalData(
        take(rows_train),
        data.y_train[rows_train],
        take(rows_val),
        data.y_train[rows_val],
        take(rows_val),
        data.y_train[rows_val],
        prov,
    )


def tune(
    space: Mapping[str, BaseDistribution],
    evaluate: Callable[[list[dict[str, Any]]], Sequence[float]],
    trials: int,
    seed: int,
    per_round: int = 4,
    name: str = "tuning",
) -> optuna.Study:
    """Maximize ``evaluate`` over ``space`` with ``trials`` settings drawn by Optuna's TPE sampler
    seeded with ``seed``: each round asks ``per_round`` settings (fewer in the last), calls
    ``evaluate`` on the list of them once, and tells the sampler each value. A value that is NaN or
    infinite (a run that diverged) is told as a failed trial: it informs no later draw and cannot
    be the best. The same space, seed, rounds and values give the same settings, in any process."""
    if not isinstance(trials, int) or isinstance(trials, bool) or trials < 1:
        raise ValueError(f"trials must be a whole number >= 1 (a budget of {trials!r} trials tunes nothing)")
    if not isinstance(per_round, int) or isinstance(per_round, bool) or per_round < 1:
        raise ValueError(f"per_round must be a whole number >= 1, got {per_round!r}")
    if not space:
        raise ValueError(f"{name}: the search space is empty; give it at least one hyperparameter to tune")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=name, direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    while len(study.trials) < trials:
        batch = [study.ask(dict(space)) for _ in range(min(per_round, trials - len(study.trials)))]
        values = list(evaluate([dict(t.params) for t in batch]))
        if len(values) != len(batch):
            raise ValueError(f"{name}: evaluate returned {len(values)} values for {len(batch)} settings")
        for t, v in zip(batch, values):
            if v is None or not math.isfinite(float(v)):
                study.tell(t, state=optuna.trial.TrialState.FAIL)
            else:
                study.tell(t, float(v))
    return study


def best_setting(study: optuna.Study) -> dict[str, Any]:
    """The best finished trial's setting; an error when every trial failed."""
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        raise ValueError(f"{study.study_name}: all {len(study.trials)} trials failed (diverged); no setting to keep")
    return dict(study.best_trial.params)
