"""The results schema of notebook 01: ``record`` builds the results JSON its last cell writes,
``summary`` reads the numbers the smoke regression compares from that JSON, ``SEED_DRAWS`` are the
other seeds of the smoke profile the regression tolerances are measured on. The keys live here only."""

from __future__ import annotations

from typing import Any

from dml_utils.regression import means, provenance

NOTEBOOK = "01_circle_vs_triplet_margin"

# other seeds of the smoke profile: the same sizes, another draw of initial weights and batches
SEED_DRAWS: list[dict[str, Any]] = [{"seeds": [k], "sweep_seeds": [k]} for k in (1, 2, 3)]


RETRIEVAL_METRICS = ("map_at_r", "val_map_at_r", "p_at_1", "nmi", "sim_same", "sim_diff")


def rulers_record(ctrl, found: dict[str, Any]) -> dict[str, Any]:
    """The rulers' part of the results JSON: the control runs' table and each proxy's ruler
    (``study.rulers``), merged into ``record``'s document."""
    return {"rulers": {"controls": ctrl.to_dict("records"), "by_metric": found}}


def transfer_record(summaries, curves: dict) -> dict[str, Any]:
    """The transfer runs' part of the results JSON (``study.transfer``): each run's summary and its
    curve from step 0, merged into ``record``'s document."""
    return {
        "transfer": {
            "runs": summaries.to_dict("records"),
            "curves": [{"variant": v, "seed": s, "curve": c} for (v, s), c in curves.items()],
        }
    }


def record(*, cfg, main_df, base, conv, curves, gaps, timing, sweep, claims, long=None) -> dict[str, Any]:
    """The results JSON of notebook 01 (``results.write_results`` adds the config and provenance)."""
    return {
        "seeds": cfg.seeds,
        "main_runs": main_df.to_dict("records"),
        "baselines": base.to_dict("records"),
        "convergence": conv.to_dict("records"),
        "curves": curves.to_dict("records"),
        "loss_gaps": gaps.to_dict("records"),
        "step_time_benchmark": timing.to_dict("records"),
        "margin_sweep": sweep.to_dict("records"),
        "long_margins": [] if long is None else long.to_dict("records"),
        "claims": claims.to_dict("records"),
    }


def summary(doc: dict[str, Any]) -> dict[str, tuple[str, float | None]]:
    """The named numbers of this study's results that the regression check compares: name -> (kind, value)."""
    trained = {m: "trained" for m in (*RETRIEVAL_METRICS, "weight_move")}
    out = means(doc["main_runs"], ("loss",), trained | {"loss_step0": "untrained"}, "main")
    out |= means(
        doc["margin_sweep"],
        ("loss", "margin"),
        {"map_at_r": "trained", "val_map_at_r": "trained", "weight_move": "trained", "loss_step0": "untrained"},
        "sweep",
    )
    out |= means(
        doc.get("long_margins", []),
        ("loss", "margin"),
        {"val_map_at_r": "trained", "weight_move": "trained"},
        "long",
    )
    out |= means(doc["baselines"], ("loss",), dict.fromkeys(RETRIEVAL_METRICS, "untrained"), "baseline")
    out |= means(
        doc["loss_gaps"],
        ("loss",),
        dict.fromkeys(
            ("train_loss_with_miner", "train_loss_all_tuples", "val_loss_with_miner", "val_loss_all_tuples"), "trained"
        ),
        "gap",
    )
    out |= means(
        doc.get("transfer", {}).get("runs", []),
        ("variant",),
        {"unseen_map_at_r_step0": "untrained", "unseen_participation_ratio_step0": "untrained"}
        | dict.fromkeys(
            ("unseen_map_at_r_plateau", "unseen_participation_ratio_plateau", "val_map_at_r_plateau"), "trained"
        ),
        "transfer",
    )
    return out | provenance(doc, ("n_train_used", "n_val", "n_unseen_test"))
