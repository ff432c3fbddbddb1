"""The results schema of notebook 03: ``record`` builds the results JSON its last cell writes,
``summary`` reads the numbers the smoke regression compares from that JSON, ``SEED_DRAWS`` are the
other seeds of the smoke profile the regression tolerances are measured on. The keys live here only."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from dml_utils.regression import means, provenance
from dml_utils.runs import code_digest

from .plan import seed_run

NOTEBOOK = "03_yukawa_vs_contrastive_mnist"

# other seeds of the smoke profile: the same sizes, another draw of initial weights and batches
SEED_DRAWS: list[dict[str, Any]] = [{"seeds": [2 * k, 2 * k + 1]} for k in (1, 2, 3)]


PAIR_METRICS = (
    "accuracy",
    "accuracy_best_threshold",
    "map_at_r",
    "p_at_1",
    "pos_mean",
    "pos_std",
    "neg_mean",
    "neg_std",
)


def rulers_record(ctrl, found: dict[str, Any]) -> dict[str, Any]:
    """The rulers' part of the results JSON: the control runs' table and each dataset's rulers by
    proxy (``study.rulers``), merged into ``record``'s document."""
    return {"rulers": {"controls": ctrl.to_dict("records"), "by_dataset": found}}


def record(*, cfg, df, tests, claims, runs, full_size=None, full_source: str = "") -> dict[str, Any]:
    """The results JSON of notebook 03 (``results.write_results`` adds the config and provenance).
    ``plan_code`` is the digest of the code the runs executed: a full-profile file is read beside a
    default run only when the two agree (``results.full_profile_results``). ``full_size``: the
    Fashion-MNIST verdicts beside the full profile's (``study.full_size``), or None."""
    return {
        "plan_code": code_digest(seed_run.__module__),
        "full_size": {
            "source": full_source,
            "verdicts": None if full_size is None else full_size.to_dict("records"),
        },
        "seeds": cfg.seeds,
        "records": df.to_dict("records"),
        "paired_tests": tests.to_dict("records"),
        "claims": claims.to_dict("records"),
        "loss_curves": {  # one epoch-mean loss curve per dataset, loss and seed
            f"{name}/{loss}/seed{seed}": curve
            for name in runs
            for seed, out in runs[name][1].items()
            for loss, curve in out["curves"].items()
        },
    }


def summary(doc: dict[str, Any]) -> dict[str, tuple[str, float | None]]:
    """The named numbers of this study's results that the regression check compares: name -> (kind, value)."""
    rec = doc["records"]
    trained = {m: "trained" for m in (*PAIR_METRICS, "weight_move")}
    out = means(rec, ("dataset", "loss", "epoch"), trained, "pairs", lambda r: r["loss"] in ("contrastive", "yukawa"))
    out |= means(
        rec, ("dataset", "loss"), {"loss_step0": "untrained"}, "step0", lambda r: r["loss"] in ("contrastive", "yukawa")
    )
    out |= means(
        rec,
        ("dataset", "loss"),
        dict.fromkeys(PAIR_METRICS, "untrained"),
        "baseline",
        lambda r: r["loss"] in ("untrained", "raw pixels"),
    )
    last = defaultdict(list)  # "dataset/loss/seedN" -> epoch-mean training loss; mean over seeds of the last epoch's
    for key, curve in doc["loss_curves"].items():
        last[key.rsplit("/", 1)[0]].append(curve[-1])
    out |= {f"curve/{k}/last_epoch": ("trained", float(np.mean(v))) for k, v in last.items()}
    return out | provenance(doc, ("n_train", "n_test", "n_train_used", "n_test_pairs"))
