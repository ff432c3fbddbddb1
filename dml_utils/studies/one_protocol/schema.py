"""The results schema of notebook 06: ``record`` builds the results JSON its last cell writes,
``summary`` reads the numbers the smoke regression compares from that JSON, ``SEED_DRAWS`` are the
other seeds of the smoke profile the regression tolerances are measured on. The keys live here only."""

from __future__ import annotations

from typing import Any

from dml_utils.regression import means, provenance
from dml_utils.runs import code_digest

NOTEBOOK = "06_one_protocol"

# other seeds of the smoke profile: another draw of the finals' seeds, the sampler and the trial runs
SEED_DRAWS: list[dict[str, Any]] = [{"seeds": [2 * k, 2 * k + 1], "tune_seed": k} for k in (1, 2, 3)]

METRICS = (
    "map_at_r",
    "p_at_1",
    "recall_at_1",
)  # Recall@1 = Precision@1 by definition: both, as the protocol names them
LABELS = {"map_at_r": "MAP@R", "p_at_1": "Precision@1", "recall_at_1": "Recall@1"}


def record(
    *,
    cfg,
    spaces,
    trials,
    best,
    finals,
    base,
    board,
    gaps,
    claims,
    optuna_version: str,
    check=None,
    check_name: str = "",
    check_from: str = "",
    data_check=None,
    controls=None,
    ruler=None,
    curves=None,
    plateaus=None,
) -> dict[str, Any]:
    """The results JSON of notebook 06 (``results.write_results`` adds the config and provenance);
    ``check``: the verdicts of the second check ``check_name`` beside this run's
    (``study.second_check``), read from ``check_from`` (or why there are none); ``data_check``:
    ``study.data_check`` (labels audited, the ceiling); ``controls`` and ``ruler``: the control runs
    and ``study.ruler`` (floor, ceiling, headroom, controls, margin: can the proxy rank?); ``curves``
    and ``plateaus``: the finals' learning curves and ``study.plateau_table``."""
    return {
        "seeds": cfg.seeds,
        # the code the runs executed: a second check is read beside a run only when its plan_code matches
        "plan_code": code_digest("dml_utils.studies.one_protocol.plan"),
        "optuna": optuna_version,
        "data_check": data_check,
        "search_spaces": spaces.to_dict("records"),
        "trials": trials.to_dict("records"),
        "best_settings": best,
        "finals": finals.to_dict("records"),
        "plateaus": None if plateaus is None else plateaus.to_dict("records"),
        "curves": None if curves is None else curves.to_dict("records"),
        "baselines": base.to_dict("records"),
        "leaderboard": board.to_dict("records"),
        "versus_best": gaps.to_dict("records"),
        "controls": None if controls is None else controls.to_dict("records"),
        "ruler": ruler,
        "claims": claims.to_dict("records"),
        "second_check": {
            "name": check_name,
            "from": check_from,
            "verdicts": None if check is None else check.to_dict("records"),
        },
    }


def summary(doc: dict[str, Any]) -> dict[str, tuple[str, float | None]]:
    """The named numbers of this study's results that the regression check compares: name -> (kind, value)."""
    out = means(doc["finals"], ("method",), dict.fromkeys((*METRICS, "weight_move"), "trained"), "final")
    out |= means(doc["finals"], ("method",), {"loss_step0": "untrained"}, "step0")
    out |= means(doc["baselines"], ("loss",), dict.fromkeys(METRICS, "untrained"), "baseline")
    return out | provenance(doc, ("train_classes", "unseen_classes", "n_train_used", "n_val", "n_unseen_test"))
