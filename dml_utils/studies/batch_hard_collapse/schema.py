"""The results schema of notebook 05: ``record`` builds the results JSON its last cell writes,
``summary`` reads the numbers the smoke regression compares from that JSON, ``SEED_DRAWS`` are the
other seeds of the smoke profile the regression tolerances are measured on. The keys live here only."""

from __future__ import annotations

from typing import Any

from dml_utils.regression import means, number, provenance

NOTEBOOK = "05_batch_hard_collapse"

# other seeds of the smoke profile: the same sizes, another draw of initial weights and batches
SEED_DRAWS: list[dict[str, Any]] = [{"seeds": [2 * k, 2 * k + 1]} for k in (1, 2, 3)]


def ruler_record(ctrl, found: dict[str, Any]) -> dict[str, Any]:
    """The ruler's part of the results JSON: the control runs' rows and the measured ruler
    (``study.ruler``), merged into ``record``'s document."""
    return {"ruler": {"controls": ctrl.to_dict("records"), "matching_map": found}}


def record(
    *, cfg, counts, novalid, grads, grid, prog, base, claims, traces, prog_traces, settled=None, settled_traces=None
) -> dict[str, Any]:
    """The results JSON of notebook 05 (``results.write_results`` adds the config and provenance;
    ``settled``: the map's cells run ``settle_factor`` × longer, rows like the map's)."""
    settled_traces = settled_traces or {}
    return {
        "seeds": cfg.seeds,
        "triplet_counts": counts.to_dict("records"),
        "no_valid_triplet": novalid,
        "gradients": grads,
        "collapse_map": grid.to_dict("records"),
        "progressive": prog.to_dict("records"),
        "settled": [] if settled is None else settled.to_dict("records"),
        "baselines": base.to_dict("records"),
        "claims": claims.to_dict("records"),
        "traces": {
            f"{g}/{label}/seed{seed}": t for (g, label, seed), t in {**traces, **prog_traces, **settled_traces}.items()
        },
    }


def summary(doc: dict[str, Any]) -> dict[str, tuple[str, float | None]]:
    """The named numbers of this study's results that the regression check compares: name -> (kind, value)."""
    out = {}
    for r in doc["triplet_counts"]:
        out[f"triplets/{r['P']}x{r['K']}/brute_force"] = ("exact", number(r["brute force"]))
    for b, c in doc["no_valid_triplet"].items():
        for n, cf, mc in zip(c["classes"], c["closed_form"], c["monte_carlo"]):
            out[f"no_valid/B{b}/C{n}/closed_form"] = ("exact", number(cf))
            out[f"no_valid/B{b}/C{n}/monte_carlo"] = ("exact", number(mc))
    g = doc["gradients"]
    for name in ("plain", "squared"):
        for s, v in zip(g["near_collapse"]["scale"], g["near_collapse"][name]):
            out[f"gradient/{name}/scale{s:g}"] = ("untrained", number(v))
    adam = g.get("adam", {"step": []})
    for i, step in enumerate(adam["step"]):
        for name in ("plain", "squared"):
            out[f"gradient/adam/step{step}/{name}_update"] = ("untrained", number(adam[f"{name}_update"][i]))
    for name, v in g["at_identical"].items():
        out[f"gradient/identical/{name}/loss"] = ("untrained", number(v["loss"]))
        out[f"gradient/identical/{name}/norm"] = ("untrained", number(v["gradient_norm"]))
    trained = {m: "trained" for m in ("collapsed", "collapsed_at_end", "final_loss", "final_spread", "map_mean")}
    out |= means(doc["collapse_map"], ("group", "pk", "lr", "variant"), trained | {"loss_step0": "untrained"}, "map")
    out |= means(
        doc["progressive"],
        ("group", "variant"),
        {**trained, "table_matching_mean": "trained"} | {"loss_step0": "untrained"},
        "start",
    )
    out |= means(doc.get("settled", []), ("pk", "lr", "variant"), trained | {"loss_step0": "untrained"}, "settled")
    scores = [k for k in doc["baselines"][0] if k.startswith(("map_", "table_"))]
    out |= means(doc["baselines"], ("model",), dict.fromkeys(scores, "untrained"), "baseline")
    return out | provenance(
        doc,
        (
            "n_train_sequences",
            "n_test_sequences",
            "n_train_patches",
            "n_train_views",
            "n_map_patches",
            "n_table_patches",
        ),
    )
