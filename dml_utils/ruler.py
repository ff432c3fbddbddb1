"""A ruler before a ranking (issue 47): a proxy (a test set, a metric, a training budget) may rank
methods only when it is measured first and passes.

- **floor**: the better of an untrained net and raw pixels; **ceiling**: what a perfect embedding of
  the same test set scores (``data_audit.ceiling``); **headroom**: best trained method − floor;
- **controls**: comparisons whose answer is known in advance, decided by the rule of the claims
  (a paired 95 % t-interval over seeds): a *positive* one (the same loss trained its full budget
  against a tenth of it: more training must score higher) and a *negative* one (trained on true
  against shuffled labels: the true labels must score higher). Each must exclude 0 on the known side;
- **margin**: the equivalence margin of the claims, fixed in a study's parameters before the runs
  it judges; beside it, the proxy's own seed-to-seed spread, printed.

The proxy *resolves* when its headroom is at least ``headroom_margins`` × the margin and both
controls are ordered right; otherwise every ranking verdict on it reads *no resolution* (the
interval's own verdict is kept in its "why"). Written here, not taken from a library: the rule is
the issue's; the statistics are ``results.paired_interval``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .stats import paired_interval

NO_RESOLUTION = "no resolution"


@dataclass(frozen=True)
class Rule:
    """What a ranking on a proxy must pass, fixed before the runs it judges."""

    equivalence_margin: float  # "equivalent": a paired 95 % interval inside ±margin
    headroom_margins: float = 5.0  # a ranking needs best trained − floor >= this many margins
    control_fraction: int = 10  # the positive control trains 1/this of the full budget


POSITIVE = "short"  # the full budget against 1/control_fraction of it
NEGATIVE = "shuffled"  # true against shuffled training labels


def control(full: pd.Series, other: pd.Series, known_better: str) -> dict[str, Any]:
    """One control: the full-budget run's score against the control's (both indexed by seed),
    paired over the seeds where both are finite; ordered right when the interval of full − control
    lies above 0."""
    seeds = [s for s in full.index if s in other.index and np.isfinite(full[s]) and np.isfinite(other[s])]
    ci = paired_interval((full[seeds] - other[seeds]).to_numpy(dtype=float)) if len(seeds) > 1 else None
    return {
        "known_better": known_better,
        "full_mean": float(full[seeds].mean()) if seeds else math.nan,
        "control_mean": float(other.mean()),
        "diverged": int((~np.isfinite(other.to_numpy(dtype=float))).sum()),
        "interval": ci,
        "ordered": bool(ci is not None and ci["lo"] > 0),
    }


def measure(
    scores: pd.DataFrame,
    untrained: float,
    raw: float,
    ceiling: float,
    controls: dict[str, dict[str, Any]],
    rule: Rule,
    metric: str,
    control_method: str,
) -> dict[str, Any]:
    """The ruler of one proxy from the trained runs' ``scores`` (columns method, seed, ``metric``),
    the floor's two parts, the ceiling and the ``controls`` (name → :func:`control`). A proxy
    without both controls cannot rank: that is a problem it reports."""
    means = scores.groupby("method")[metric].mean()
    sds = scores.groupby("method")[metric].std(ddof=1)
    floor = max(untrained, raw)
    out: dict[str, Any] = {
        "metric": metric,
        "floor": floor,
        "untrained": untrained,
        "raw_pixels": raw,
        "ceiling": ceiling,
        "best_method": str(means.idxmax()),
        "best": float(means.max()),
        "headroom": float(means.max() - floor),
        "margin": rule.equivalence_margin,
        "headroom_needed": rule.headroom_margins * rule.equivalence_margin,
        "seed_sd_median": float(sds.median()),
        "seed_sd_max": float(sds.max()),
        "control_method": control_method,
        "controls": controls,
    }
    problems = []
    if out["headroom"] < out["headroom_needed"]:
        problems.append(
            f"headroom {out['headroom']:+.3f} (best {out['best_method']} {out['best']:.3f} − floor {floor:.3f}) is below "
            f"{rule.headroom_margins:g} margins ({out['headroom_needed']:.3f})"
        )
    for name in (POSITIVE, NEGATIVE):
        if name not in controls:
            problems.append(f"no {name} control was run")
        elif not controls[name]["ordered"]:
            problems.append(
                f"the {name} control is not ordered right ({controls[name]['known_better']} does not score higher)"
            )
    out["resolves"] = not problems
    out["problems"] = problems
    return out


def measure_with_controls(
    scores: pd.DataFrame,
    full: pd.DataFrame,
    ctrl: pd.DataFrame,
    floor: tuple[float, float],
    ceiling: float,
    rule: Rule,
    metric: str,
    control_method: str,
) -> dict[str, Any]:
    """:func:`measure` with both controls read from ``ctrl`` (the control runs: columns control,
    seed, ``metric``) against ``full`` (the controls' method's own full-budget runs: seed, ``metric``);
    ``floor`` is (untrained net, raw pixels)."""
    full = full.set_index("seed")[metric]
    known = {POSITIVE: f"{rule.control_fraction}× more training", NEGATIVE: "true labels"}
    found = {
        name: control(full, ctrl[ctrl["control"] == name].set_index("seed")[metric], known[name]) for name in known
    }
    return measure(scores, floor[0], floor[1], ceiling, found, rule, metric, control_method)


def format_ruler(r: dict[str, Any], label: str, fixed_in: str = "the study's parameters") -> str:
    """The ruler as lines of text; ``label`` names its metric, ``fixed_in`` where its margin was fixed."""

    def ci(c):
        i = c["interval"]
        if i is None:
            return "no interval (fewer than 2 seeds with finite scores)"
        return f"{i['mean']:+.3f}, 95 % CI [{i['lo']:+.3f}, {i['hi']:+.3f}] (n={i['n']})"

    lines = [
        f"{label}: floor {r['floor']:.3f} (untrained net {r['untrained']:.3f}, raw pixels {r['raw_pixels']:.3f}), "
        f"ceiling {r['ceiling']:.3f}; best trained {r['best_method']} {r['best']:.3f}: headroom {r['headroom']:+.3f} "
        f"(needed: {r['headroom_needed']:.3f} = {r['headroom_needed'] / r['margin']:g} × the margin ±{r['margin']:g})",
        f"seed-to-seed SD of one method: median {r['seed_sd_median']:.4f}, largest {r['seed_sd_max']:.4f} "
        f"(margin ±{r['margin']:g}, fixed in {fixed_in} before these runs)",
    ]
    for name, c in r["controls"].items():
        diverged = f"; {c['diverged']} run(s) diverged" if c["diverged"] else ""
        lines.append(
            f"{name} control ({r['control_method']}: {c['known_better']} must score higher): full − control = "
            f"{ci(c)}{diverged}: " + ("ordered right" if c["ordered"] else "NOT ordered right")
        )
    lines.append(
        "the proxy can rank: yes"
        if r["resolves"]
        else "the proxy can rank: no (every ranking verdict reads *no resolution*): " + "; ".join(r["problems"])
    )
    return "\n".join(lines)


def judged(row: dict[str, str], measured: dict[str, Any] | None) -> dict[str, str]:
    """A ranking claim's row under its proxy's ruler: unchanged when the proxy resolves (or has no
    ruler: ``measured`` None), else *no resolution* with the interval's own verdict kept in the why.
    Declares the row a ranking (``results.KINDS``); a row declared another kind is refused."""
    if row.get("kind", "ranking") != "ranking":
        raise ValueError(f"{row['claim']!r} is declared {row['kind']!r}: only a ranking is judged under a ruler")
    row = {**row, "kind": "ranking"}
    if measured is None or measured["resolves"]:
        return row
    return {
        **{k: v for k, v in row.items() if k not in ("how", "how_if_not")},  # a how belongs to "not reproduced" only
        "verdict": NO_RESOLUTION,
        "why": f"the proxy cannot rank ({'; '.join(measured['problems'])}): the interval alone would say "
        f"{row['verdict']}; " + row["why"],
    }


def rulers(
    scores: pd.DataFrame,
    full: pd.DataFrame,
    ctrl: pd.DataFrame,
    floors: dict[str, tuple[float, float]],
    ceilings: dict[str, float],
    rule: Rule,
    control_method: str,
) -> dict[str, dict[str, Any]]:
    """One ruler (:func:`measure_with_controls`) per metric of ``floors`` (metric → (untrained net,
    raw pixels)), each with its ceiling."""
    return {
        m: measure_with_controls(scores, full, ctrl, floors[m], ceilings[m], rule, m, control_method) for m in floors
    }


def floors(base: pd.DataFrame, metrics, key: str = "loss") -> dict[str, tuple[float, float]]:
    """(untrained net, raw pixels) per metric from a baselines table whose ``key`` column names them."""
    return {
        m: (float(base.loc[base[key] == "untrained", m].mean()), float(base.loc[base[key] == "raw pixels", m].iloc[0]))
        for m in metrics
    }


def format_rulers(found: dict[str, dict[str, Any]], labels: dict[str, str], fixed_in: str = "parameters.RULER") -> str:
    """Every ruler of ``found`` (metric → ruler) as text, each labelled from ``labels``."""
    return "\n\n".join(format_ruler(r, labels[m], fixed_in) for m, r in found.items())


def run_controls(plan, task, cfg, data, progress: bool = True) -> pd.DataFrame:
    """The control runs of ``plan`` (``dml_utils.controls.control_specs``) through the run cache, as
    a table of their summaries (a task's result, or its "summary" when it has one)."""
    from .runs import run_plan

    done = run_plan(plan, task, cfg=cfg, data=data, desc="controls", progress=progress)
    return pd.DataFrame([r.get("summary", r) for r in done.values()])
