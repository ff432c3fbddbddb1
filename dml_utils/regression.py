"""Smoke-profile summaries for the portable regression check, and the rule that compares them.

A results JSON holds hundreds of numbers; the regression check compares a few dozen named ones
with a committed reference (``tests/regression/reference/NN_slug.json``). Every number has a kind,
and the kind decides how closely another CPU must reproduce it:

- ``exact``: nothing trained and no CPU-dependent arithmetic (counts of the data used, the
  distance law's Monte-Carlo table): equal up to float rounding.
- ``untrained``: forward passes at the initial weights (the loss at step 0, untrained-network and
  raw-pixel baselines): another CPU's float path moves only the last bits.
- ``trained``: what comes out of training. Training amplifies last-bit differences, so another CPU
  acts like another seed; these compare within a tolerance derived from measured variation.

How each tolerance is derived (``tolerance``) is written into every reference file, with the
draws it was derived from; ``scripts/regression_reference.py`` measures them.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Iterable

import numpy as np

KINDS = ("exact", "untrained", "trained")

# Tolerance rule. Draws: the reference run (native float path), runs under settings that change
# this CPU's float path (CPU variants, same seeds) and runs with other seeds (seed draws).
EXACT_RTOL = 1e-9  # exact: float rounding only
UNTRAINED_FACTOR, UNTRAINED_RTOL = 10.0, 1e-4  # untrained: 10 × the largest CPU-variant deviation, floor 1e-4 relative
TRAINED_SIGMAS, TRAINED_VARIANT_FACTOR, TRAINED_RTOL = 4.0, 2.0, 1e-4  # trained: see tolerance()
RULE = (
    "exact: |ours - ref| <= 1e-9 * max(1, |ref|). "
    "untrained: tol = max(10 * max |CPU variant - ref|, 1e-4 * max(1, |ref|)). "
    "trained: tol = max(4 * std(reference, CPU variants and seed draws), 2 * max |CPU variant - ref|, "
    "1e-4 * max(1, |ref|)); the std (ddof=1) is that of the quantity as the smoke profile computes it "
    "(a mean over its seeds), so a CPU change, which acts like new seeds, stays inside the band."
)


def _scale(ref: float) -> float:
    return max(1.0, abs(ref))


def tolerance(kind: str, ref: float, variants: Iterable[float], seed_draws: Iterable[float]) -> float:
    """The tolerance of one number of ``kind`` whose reference value is ``ref`` (see RULE)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; use one of {KINDS}")
    variants = [v for v in variants if v is not None]
    seed_draws = [v for v in seed_draws if v is not None]
    if kind == "exact":
        return EXACT_RTOL * _scale(ref)
    dev = max((abs(v - ref) for v in variants), default=0.0)
    if kind == "untrained":
        return max(UNTRAINED_FACTOR * dev, UNTRAINED_RTOL * _scale(ref))
    draws = [ref, *variants, *seed_draws]
    spread = float(np.std(draws, ddof=1)) if len(draws) > 1 else 0.0
    return max(TRAINED_SIGMAS * spread, TRAINED_VARIANT_FACTOR * dev, TRAINED_RTOL * _scale(ref))


def compare(summary: dict[str, tuple[str, float | None]], reference: dict[str, Any]) -> list[str]:
    """Every way ``summary`` departs from ``reference["metrics"]``: a missing or extra number, a
    changed kind, a non-finite value, or a value outside its tolerance. Empty when all agree."""
    metrics = reference["metrics"]
    problems = [f"{k}: in the reference, missing from this run" for k in sorted(set(metrics) - set(summary))]
    problems += [
        f"{k}: new in this run, not in the reference (regenerate it on purpose)"
        for k in sorted(set(summary) - set(metrics))
    ]
    for key in sorted(set(metrics) & set(summary)):
        ref, (kind, value) = metrics[key], summary[key]
        if kind != ref["kind"]:
            problems.append(f"{key}: kind {kind!r}, reference says {ref['kind']!r}")
        elif (value is None) != (ref["value"] is None):
            problems.append(f"{key}: {value!r} here, {ref['value']!r} in the reference")
        elif value is not None and not math.isfinite(value):
            problems.append(f"{key}: {value!r} is not finite")
        elif value is not None and abs(value - ref["value"]) > ref["tol"]:
            problems.append(
                f"{key} ({kind}): {value:.6g} vs reference {ref['value']:.6g}, "
                f"|diff| {abs(value - ref['value']):.3g} > tol {ref['tol']:.3g}"
            )
    return problems


# ---------------------------------------------------------------- per-notebook summaries
def _num(v) -> float | None:
    if v is None or isinstance(v, bool):
        return None if v is None else float(v)
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _means(
    rows: list[dict[str, Any]], keys: tuple[str, ...], metrics: dict[str, str], prefix: str, where=lambda r: True
) -> dict[str, tuple[str, float | None]]:
    """Mean over seeds of each metric, per combination of ``keys``; ``metrics`` maps name -> kind."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if where(r):
            groups[tuple(r[k] for k in keys)].append(r)
    out = {}
    for combo, members in groups.items():
        label = "/".join([prefix, *(str(c) for c in combo)])
        for metric, kind in metrics.items():
            values = [_num(m.get(metric)) for m in members]
            values = [v for v in values if v is not None]
            out[f"{label}/{metric}"] = (kind, float(np.mean(values)) if values else None)
    return out


def _provenance(doc: dict[str, Any], fields: tuple[str, ...]) -> dict[str, tuple[str, float | None]]:
    return {f"data/{d['name']}/{f}": ("exact", _num(d[f])) for d in doc["data"] for f in fields if f in d}


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


def _summary_03(doc):
    rec = doc["records"]
    trained = {m: "trained" for m in (*PAIR_METRICS, "weight_move")}
    out = _means(rec, ("dataset", "loss", "epoch"), trained, "pairs", lambda r: r["loss"] in ("contrastive", "yukawa"))
    out |= _means(
        rec, ("dataset", "loss"), {"loss_step0": "untrained"}, "step0", lambda r: r["loss"] in ("contrastive", "yukawa")
    )
    out |= _means(
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
    return out | _provenance(doc, ("n_train", "n_test", "n_train_used", "n_test_pairs"))


RETRIEVAL_METRICS = ("map_at_r", "val_map_at_r", "p_at_1", "nmi", "sim_same", "sim_diff")


def _summary_01(doc):
    trained = {m: "trained" for m in (*RETRIEVAL_METRICS, "weight_move")}
    out = _means(doc["main_runs"], ("loss",), trained | {"loss_step0": "untrained"}, "main")
    out |= _means(
        doc["margin_sweep"],
        ("loss", "margin"),
        {"map_at_r": "trained", "val_map_at_r": "trained", "weight_move": "trained", "loss_step0": "untrained"},
        "sweep",
    )
    out |= _means(doc["baselines"], ("loss",), dict.fromkeys(RETRIEVAL_METRICS, "untrained"), "baseline")
    out |= _means(
        doc["loss_gaps"],
        ("loss",),
        dict.fromkeys(
            ("train_loss_with_miner", "train_loss_all_tuples", "val_loss_with_miner", "val_loss_all_tuples"), "trained"
        ),
        "gap",
    )
    return out | _provenance(doc, ("n_train_used", "n_val", "n_unseen_test"))


def _summary_04(doc):
    out = _means(doc["distance_law"], ("n",), {k: "exact" for k in doc["distance_law"][0] if k != "n"}, "law")
    grid_metrics = {
        "val_map_at_r": "trained",
        "map_at_r": "trained",
        "p_at_1": "trained",
        "val_sim_diff": "trained",
        "collapsed": "trained",
        "loss_step0": "untrained",
    }
    out |= _means(doc["grid"], ("sampler", "loss"), grid_metrics, "grid")
    out |= _means(
        doc["baselines"], ("loss",), {m: "untrained" for m in ("map_at_r", "val_map_at_r", "p_at_1", "nmi")}, "baseline"
    )
    out |= _means(
        doc["gradient_variance"],
        ("sampler", "sigma"),
        {"gradient_variance": "trained", "mean_d_an": "trained"},
        "gradvar",
    )
    for r in doc["sampled_distances"]:  # what each sampler picks: on the trained net and on uniform sphere points
        kind = "trained" if r["batch"] == "trained ConvNet" else "untrained"
        for stat in ("count", "mean", "std"):
            out[f"picked/{r['batch']}/{r['sampler']}/{stat}"] = (kind, _num(r[stat]))
    for r in doc["pml_distance_weighted"]:
        kind = "trained" if r["batch"] == "trained ConvNet" else "untrained"
        for k, v in r.items():
            if k not in ("batch", "dim") and _num(v) is not None:
                out[f"pml/{r['batch']}/{k}"] = (kind, _num(v))
    out["distance_weighted_same_as_hard"] = ("trained", _num(doc["distance_weighted_same_as_hard"]))
    return out | _provenance(doc, ("n_train_used", "n_val", "n_unseen_test"))


def _summary_05(doc):
    out = {}
    for r in doc["triplet_counts"]:
        out[f"triplets/{r['P']}x{r['K']}/brute_force"] = ("exact", _num(r["brute force"]))
    for b, c in doc["no_valid_triplet"].items():
        for n, cf, mc in zip(c["classes"], c["closed_form"], c["monte_carlo"]):
            out[f"no_valid/B{b}/C{n}/closed_form"] = ("exact", _num(cf))
            out[f"no_valid/B{b}/C{n}/monte_carlo"] = ("exact", _num(mc))
    g = doc["gradients"]
    for name in ("plain", "squared"):
        for s, v in zip(g["near_collapse"]["scale"], g["near_collapse"][name]):
            out[f"gradient/{name}/scale{s:g}"] = ("untrained", _num(v))
    for name, v in g["at_identical"].items():
        out[f"gradient/identical/{name}/loss"] = ("untrained", _num(v["loss"]))
        out[f"gradient/identical/{name}/norm"] = ("untrained", _num(v["gradient_norm"]))
    trained = {m: "trained" for m in ("collapsed", "collapsed_at_end", "final_loss", "final_spread", "map_mean")}
    out |= _means(doc["collapse_map"], ("group", "pk", "lr", "variant"), trained | {"loss_step0": "untrained"}, "map")
    out |= _means(
        doc["progressive"],
        ("group", "variant"),
        {**trained, "table_matching_mean": "trained"} | {"loss_step0": "untrained"},
        "start",
    )
    scores = [k for k in doc["baselines"][0] if k.startswith(("map_", "table_"))]
    out |= _means(doc["baselines"], ("model",), dict.fromkeys(scores, "untrained"), "baseline")
    return out | _provenance(
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


HDML_METRICS = ("recall_at_1", "recall_at_2", "map_at_r", "nmi", "f1", "f1_official_k", "weight_move")


def _summary_02(doc):
    out = _means(doc["grid"], ("loss", "hdml"), dict.fromkeys(HDML_METRICS, "trained"), "grid")
    out |= _means(doc["grid"], ("loss",), {"final_balance": "trained"}, "schedule", lambda r: r["hdml"])
    out |= _means(doc["baselines"], ("method",), dict.fromkeys(HDML_METRICS[:-1], "untrained"), "baseline")
    out |= _means(doc["f1_by_k"], ("method", "k"), {"f1": "trained", "nmi": "trained"}, "f1_by_k")
    for r in doc["nan_cascade"]:  # the official arithmetic: which losses are NaN when (None in the JSON) is exact
        for k in ("J_soft", "J_m", "J_metric"):
            out[f"cascade/{r['run']}/{r['iteration']}/{k}_is_nan"] = ("exact", float(r[k] is None))
    for r in doc["npair_batches"]:
        out[f"npair_batches/{r['N pairs']}/here_runs"] = ("exact", float(r["here runs"]))
    return out | _provenance(doc, ("n_train_used", "n_val", "n_unseen_test"))


SUMMARIES = {
    "01_circle_vs_triplet_margin": _summary_01,
    "02_hdml_triplet_vs_npair": _summary_02,
    "03_yukawa_vs_contrastive_mnist": _summary_03,
    "04_sampling_matters": _summary_04,
    "05_batch_hard_collapse": _summary_05,
}


def summarize(doc: dict[str, Any]) -> dict[str, tuple[str, float | None]]:
    """The named numbers of a results JSON that the regression check compares: name -> (kind, value)."""
    name = doc.get("notebook")
    if name not in SUMMARIES:
        raise ValueError(f"no regression summary for notebook {name!r}; known: {sorted(SUMMARIES)}")
    return SUMMARIES[name](doc)


# ---------------------------------------------------------------- draws the tolerances come from
# Settings that change this machine's float path without changing the code (measured: each one
# changes the weights after 30 training steps of the MLP or the ConvNet; ATEN_CPU_CAPABILITY=avx2
# alone, MKL_CBWR=AVX2 alone and MKL_ENABLE_INSTRUCTIONS=AVX2 changed nothing on an AVX-512 CPU).
CPU_VARIANTS: dict[str, dict[str, str]] = {
    "aten-default": {"ATEN_CPU_CAPABILITY": "default"},  # torch's own kernels without SIMD
    "mkl-compatible": {"MKL_CBWR": "COMPATIBLE"},  # MKL's conditional-numerical-reproducibility baseline path
    "avx2-only": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"},  # an AVX2-only CPU
    "onednn-sse41": {"ONEDNN_MAX_CPU_ISA": "SSE41"},  # oneDNN convolutions without AVX
}

# Other seeds for each notebook's smoke profile: the same sizes, another draw of initial weights and batches.
SEED_DRAWS: dict[str, list[dict[str, Any]]] = {
    "03_yukawa_vs_contrastive_mnist": [{"seeds": [2 * k, 2 * k + 1]} for k in (1, 2, 3)],
    "01_circle_vs_triplet_margin": [{"seeds": [k], "sweep_seeds": [k]} for k in (1, 2, 3)],
    "04_sampling_matters": [{"seeds": [k]} for k in (1, 2, 3)],
    "05_batch_hard_collapse": [{"seeds": [2 * k, 2 * k + 1]} for k in (1, 2, 3)],
    "02_hdml_triplet_vs_npair": [{"seeds": [k]} for k in (1, 2, 3)],
}


def build_reference(
    notebook: str, reference: dict, variants: dict[str, dict], seed_draws: list[dict], made_on: dict[str, Any]
) -> dict[str, Any]:
    """The reference file of ``notebook`` from the summaries of its draws (see RULE).

    ``reference``: the native smoke run; ``variants``: label -> summary under a CPU variant;
    ``seed_draws``: summaries with other seeds. An ``exact`` number that a variant changes, or a
    number whose kind differs between draws, is an error: its kind is wrong.
    """
    metrics = {}
    for key, (kind, value) in sorted(reference.items()):
        var = {label: s.get(key, (kind, None))[1] for label, s in variants.items()}
        seeds = [s.get(key, (kind, None))[1] for s in seed_draws]
        if (
            value is not None
            and kind == "exact"
            and any(v is not None and abs(v - value) > EXACT_RTOL * _scale(value) for v in var.values())
        ):
            raise ValueError(f"{notebook}: {key} is marked exact but a CPU variant changes it: {var} vs {value}")
        metrics[key] = {
            "kind": kind,
            "value": value,
            "tol": None if value is None else tolerance(kind, value, var.values(), seeds),
            "variants": var,
            "seed_draws": seeds,
        }
    return {
        "notebook": notebook,
        "rule": RULE,
        "made_on": made_on,
        "draws": {
            "variants": {label: CPU_VARIANTS.get(label) for label in variants},
            "seed_draws": SEED_DRAWS.get(notebook, [])[: len(seed_draws)],
        },
        "metrics": metrics,
    }


def run_smoke(
    notebook, out_dir, env: dict[str, str] | None = None, params: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Run ``notebook`` (a path) at the smoke profile with papermill in a subprocess, at the
    committed seeds (``DML_SEED_OFFSET`` cleared), with ``env`` added to the environment and
    ``params`` injected; the executed copy goes to ``out_dir``.
    Returns the results JSON the run wrote (build/smoke/results/); raises with papermill's stderr."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from .config import config
    from .seeds import SEED_OFFSET_ENV

    notebook, out_dir = Path(notebook), Path(out_dir)
    results = config(notebook.stem, "smoke").results_dir / f"{notebook.stem}.json"
    results.unlink(missing_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "papermill",
        str(notebook),
        str(out_dir / notebook.name),
        "--cwd",
        str(notebook.parent),
        "-p",
        "profile",
        "smoke",
        "--no-progress-bar",
        "--kernel",
        "python3",
    ]
    for name, value in (params or {}).items():
        cmd += ["-y", json.dumps({name: value})]
    # at the committed seeds unless ``env`` asks for a shift: references compare against fixed seeds
    done = subprocess.run(cmd, env={**os.environ, SEED_OFFSET_ENV: "", **(env or {})}, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(
            f"{notebook.name} (env {env or 'native'}, params {params or 'smoke'}) failed:\n{done.stderr[-3000:]}"
        )
    return json.loads(results.read_text())
