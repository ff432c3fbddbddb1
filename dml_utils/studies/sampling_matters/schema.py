"""The results schema of notebook 04: ``record`` builds the results JSON its last cell writes,
``summary`` reads the numbers the smoke regression compares from that JSON, ``SEED_DRAWS`` are the
other seeds of the smoke profile the regression tolerances are measured on. The keys live here only."""

from __future__ import annotations

from typing import Any

from dml_utils.regression import means, number, provenance

NOTEBOOK = "04_sampling_matters"

# other seeds of the smoke profile: the same sizes, another draw of initial weights and batches
SEED_DRAWS: list[dict[str, Any]] = [{"seeds": [k]} for k in (1, 2, 3)]


def record(*, cfg, grid, base, law, gvar, picked, pml_lost, same_as_hard, runs, claims) -> dict[str, Any]:
    """The results JSON of notebook 04 (``results.write_results`` adds the config and provenance)."""
    return {
        "seeds": cfg.seeds,
        "grid": grid.to_dict("records"),
        "baselines": base.to_dict("records"),
        "distance_law": law.to_dict("records"),
        "gradient_variance": gvar.to_dict("records"),
        "sampled_distances": picked.groupby(["batch", "sampler"])["distance"]
        .describe()
        .reset_index()
        .to_dict("records"),
        "pml_distance_weighted": pml_lost.to_dict("records"),
        "distance_weighted_same_as_hard": same_as_hard,
        "curves": [{"sampler": k[0], "loss": k[1], "seed": k[2], **c} for k, r in runs.items() for c in r["curve"]],
        "claims": claims.to_dict("records"),
    }


def rulers_record(ctrl, found: dict[str, Any]) -> dict[str, Any]:
    """The rulers' part of the results JSON: the control runs' table and each proxy's ruler
    (``study.rulers``), merged into ``record``'s document."""
    return {"rulers": {"controls": ctrl.to_dict("records"), "by_metric": found}}


def summary(doc: dict[str, Any]) -> dict[str, tuple[str, float | None]]:
    """The named numbers of this study's results that the regression check compares: name -> (kind, value)."""
    out = means(doc["distance_law"], ("n",), {k: "exact" for k in doc["distance_law"][0] if k != "n"}, "law")
    grid_metrics = {
        "val_map_at_r": "trained",
        "map_at_r": "trained",
        "p_at_1": "trained",
        "val_sim_diff": "trained",
        "collapsed": "trained",
        "loss_step0": "untrained",
    }
    out |= means(doc["grid"], ("sampler", "loss"), grid_metrics, "grid")
    out |= means(
        doc["baselines"], ("loss",), {m: "untrained" for m in ("map_at_r", "val_map_at_r", "p_at_1", "nmi")}, "baseline"
    )
    out |= means(
        doc["gradient_variance"],
        ("sampler", "sigma"),
        {"gradient_variance": "trained", "mean_d_an": "trained"},
        "gradvar",
    )
    for r in doc["sampled_distances"]:  # what each sampler picks: on the trained net and on uniform sphere points
        kind = "trained" if r["batch"] == "trained ConvNet" else "untrained"
        for stat in ("count", "mean", "std"):
            out[f"picked/{r['batch']}/{r['sampler']}/{stat}"] = (kind, number(r[stat]))
    for r in doc["pml_distance_weighted"]:
        kind = "trained" if r["batch"] == "trained ConvNet" else "untrained"
        for k, v in r.items():
            if k not in ("batch", "dim") and number(v) is not None:
                out[f"pml/{r['batch']}/{k}"] = (kind, number(v))
    out["distance_weighted_same_as_hard"] = ("trained", number(doc["distance_weighted_same_as_hard"]))
    return out | provenance(doc, ("n_train_used", "n_val", "n_unseen_test"))
