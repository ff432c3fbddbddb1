"""The results schema of notebook 02: ``record`` builds the results JSON its last cell writes,
``summary`` reads the numbers the smoke regression compares from that JSON, ``SEED_DRAWS`` are the
other seeds of the smoke profile the regression tolerances are measured on. The keys live here only."""

from __future__ import annotations

from typing import Any

import pandas as pd

from dml_utils.regression import means, provenance

NOTEBOOK = "02_hdml_triplet_vs_npair"

# other seeds of the smoke profile: the same sizes, another draw of initial weights and batches
SEED_DRAWS: list[dict[str, Any]] = [{"seeds": [k]} for k in (1, 2, 3)]


HDML_METRICS = ("recall_at_1", "recall_at_2", "map_at_r", "nmi", "f1", "f1_official_k", "weight_move")


RULER = "perfectly separated (ruler)"  # f1_by_k's ruler rows (study.separated)


def record(
    *,
    cfg,
    grid,
    base,
    sched,
    curves,
    neg,
    by_k,
    candidates,
    cascade,
    fixed,
    npair_batches,
    subset,
    ids,
    claims,
    scales=None,
    scale_source: str = "",
    patch_grid=None,
    patch_base=None,
    patch_source=None,
    rulers=None,
) -> dict[str, Any]:
    """The results JSON of notebook 02 (``results.write_results`` adds the config and provenance).
    ``rulers``: by data name, (its control runs' table, its rulers by metric: ``study.rulers``)."""
    return {
        "seeds": cfg.seeds,
        "grid": grid.to_dict("records"),
        "baselines": base.to_dict("records"),
        "schedules": sched.to_dict("records"),
        "official_scale": {"source": scale_source, "runs": [] if scales is None else scales.to_dict("records")},
        "patches": {  # the many-class data's provenance is here, not in "data" (the regression reads that)
            "data": patch_source or {},
            "grid": [] if patch_grid is None else patch_grid.to_dict("records"),
            "baselines": [] if patch_base is None else patch_base.to_dict("records"),
        },
        "curves": curves.to_dict("records"),
        "negative_distances": neg.groupby(["loss", "kind"], sort=False)["ratio"]
        .describe()
        .reset_index()
        .to_dict("records"),
        "f1_by_k": by_k.to_dict("records"),
        "nan_candidates": candidates.to_dict("records"),
        "nan_cascade": pd.concat([cascade, fixed]).to_dict("records"),
        "npair_batches": npair_batches.to_dict("records"),
        "report_subset": {**subset, "our_classes": ids},
        "claims": claims.to_dict("records"),
        "rulers": {
            name: {"controls": ctrl.to_dict("records"), "by_metric": found}
            for name, (ctrl, found) in (rulers or {}).items()
        },
    }


def summary(doc: dict[str, Any]) -> dict[str, tuple[str, float | None]]:
    """The named numbers of this study's results that the regression check compares: name -> (kind, value)."""
    out = means(doc["grid"], ("loss", "hdml"), dict.fromkeys(HDML_METRICS, "trained"), "grid")
    out |= means(doc["grid"], ("loss",), {"final_balance": "trained"}, "schedule", lambda r: r["hdml"])
    out |= means(doc["baselines"], ("method",), dict.fromkeys(HDML_METRICS[:-1], "untrained"), "baseline")
    out |= means(  # the ruler is derived from the trained nets' rows, which the check compares already
        doc["f1_by_k"], ("method", "k"), {"f1": "trained", "nmi": "trained"}, "f1_by_k", lambda r: r["method"] != RULER
    )
    for r in doc["nan_cascade"]:  # the official arithmetic: which losses are NaN when (None in the JSON) is exact
        for k in ("J_soft", "J_m", "J_metric"):
            out[f"cascade/{r['run']}/{r['iteration']}/{k}_is_nan"] = ("exact", float(r[k] is None))
    for r in doc["npair_batches"]:
        out[f"npair_batches/{r['N pairs']}/here_runs"] = ("exact", float(r["here runs"]))
    return out | provenance(doc, ("n_train_used", "n_val", "n_unseen_test"))
