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
def number(v) -> float | None:
    """A JSON value as a float (True/False as 1/0), or None when it is not a number."""
    if v is None or isinstance(v, bool):
        return None if v is None else float(v)
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def means(
    rows: list[dict[str, Any]], keys: tuple[str, ...], metrics: dict[str, str], prefix: str, where=lambda r: True
) -> dict[str, tuple[str, float | None]]:
    """Mean over seeds of each metric, per combination of ``keys``; ``metrics`` maps name -> kind.
    The studies' ``schema.summary`` functions build their regression summaries from it."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if where(r):
            groups[tuple(r[k] for k in keys)].append(r)
    out = {}
    for combo, members in groups.items():
        label = "/".join([prefix, *(str(c) for c in combo)])
        for metric, kind in metrics.items():
            values = [number(m.get(metric)) for m in members]
            values = [v for v in values if v is not None]
            out[f"{label}/{metric}"] = (kind, float(np.mean(values)) if values else None)
    return out


def provenance(doc: dict[str, Any], fields: tuple[str, ...]) -> dict[str, tuple[str, float | None]]:
    """The data counts of a results JSON (``fields`` of each provenance record), as exact numbers."""
    return {f"data/{d['name']}/{f}": ("exact", number(d[f])) for d in doc["data"] for f in fields if f in d}


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


def build_reference(
    notebook: str,
    reference: dict,
    variants: dict[str, dict],
    seed_draws: list[dict],
    seed_params: list[dict[str, Any]],
    made_on: dict[str, Any],
) -> dict[str, Any]:
    """The reference file of ``notebook`` from the summaries of its draws (see RULE).

    ``reference``: the native smoke run; ``variants``: label -> summary under a CPU variant;
    ``seed_draws``: summaries with other seeds, drawn with the parameters ``seed_params`` (the
    study's ``schema.SEED_DRAWS``). An ``exact`` number that a variant changes, or a
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
            "seed_draws": list(seed_params)[: len(seed_draws)],
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

    from .config import output_base, repo_root
    from .seeds import SEED_OFFSET_ENV

    notebook, out_dir = Path(notebook), Path(out_dir)
    results = output_base(repo_root(), "smoke") / "results" / f"{notebook.stem}.json"
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
