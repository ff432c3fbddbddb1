"""Results JSON with provenance, and the claims table every notebook ends with."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import tempfile
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .config import Config
from .machine import library_versions


def git_commit(root: Path) -> str:
    """HEAD's hash, with '+dirty' when tracked files differ from it; 'unknown' outside git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else str(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_results(cfg: Config, payload: dict[str, Any], data_sources: list[dict[str, Any]]) -> Path:
    """Write ``results/NN_slug.json`` (or build/<profile>/results/) atomically: a run that fails
    halfway leaves the previous file whole."""
    import torch

    from .machine import cpu_fingerprint
    from .seeds import seed_offset

    doc = {
        "notebook": cfg.notebook,
        "profile": cfg.profile,
        "config": cfg.as_dict(),
        "data": data_sources,
        "libraries": library_versions(),
        "git_commit": git_commit(cfg.root),
        "torch_threads": torch.get_num_threads(),
        "machine": cpu_fingerprint(),  # same seed, same machine: same numbers (see dml_utils/machine.py)
        "seed_offset": seed_offset(),  # DML_SEED_OFFSET: every run seed moved by this (dml_utils/seeds.py)
        "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "run_log": cfg.run_log,  # per training run: its key, where it ran, whether it came from the run cache
        "plan_codes": plan_codes(cfg),  # the code its runs execute: stale_codes says whether it still is this code
        **payload,
    }
    cfg.results_dir.mkdir(parents=True, exist_ok=True)
    path = cfg.results_dir / f"{cfg.notebook}.json"
    text = json.dumps(_jsonable(doc), indent=1, allow_nan=False) + "\n"  # fails before touching any file
    fd, tmp = tempfile.mkstemp(dir=cfg.results_dir, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are for every reader
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


class ResultsFileError(ValueError):
    """A JSON file a script reads that is missing, unreadable, truncated or not a JSON object."""


def read_json(path: Path | str, role: str) -> dict[str, Any]:
    """The JSON object at ``path``, or a ResultsFileError that says which file (``role``: what the
    caller reads it as, e.g. "the rerun's results") failed and how to get a good one. The scripts'
    own reader: ``json.loads`` alone ends a truncated file in a traceback that names neither."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ResultsFileError(f"{role} {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ResultsFileError(f"{role} {path} cannot be read ({type(err).__name__}: {err})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise ResultsFileError(
            f"{role} {path} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}): a truncated or "
            f"hand-edited file? Restore it (git checkout -- {path}) or make it again"
        ) from None
    if not isinstance(doc, dict):
        raise ResultsFileError(f"{role} {path} holds a JSON {type(doc).__name__}, not the object a results file is")
    return doc


def study_plan_codes(package: str) -> dict[str, str]:
    """The code digest (``runs.code_digest``) of every plan module of a study package
    (``dml_utils/studies/<study>/plan*.py``: the modules whose functions its runs execute; by the
    layout's rule no run's task lives elsewhere)."""
    import importlib.util

    from .runs import code_digest

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"{package!r} is not a study package")
    folder = Path(next(iter(spec.submodule_search_locations)))
    return {f"{package}.{f.stem}": code_digest(f"{package}.{f.stem}") for f in sorted(folder.glob("plan*.py"))}


def plan_codes(cfg: Config) -> dict[str, str]:
    """The plan modules' code digests of the study whose Parameters ``cfg`` holds (none without one)."""
    if cfg.parameters is None:
        return {}
    return study_plan_codes(cfg.parameters.__module__.rpartition(".")[0])


def stale_codes(doc: dict[str, Any]) -> dict[str, tuple[str | None, str | None]]:
    """Where a results JSON is no longer what this checkout makes: module → (digest recorded there,
    digest now) for every plan module whose code moved, was added or was removed; ``{"plan_codes":
    (None, None)}`` when the file records none (written before they were recorded). Empty: fresh."""
    recorded = doc.get("plan_codes")
    if not recorded:
        return {"plan_codes": (None, None)}
    package = next(iter(recorded)).rpartition(".")[0]
    now = study_plan_codes(package)
    return {m: (recorded.get(m), now.get(m)) for m in sorted(set(recorded) | set(now)) if recorded.get(m) != now.get(m)}


def republish_command(rel: Path, doc: dict[str, Any]) -> str:
    """The command that makes the committed results file ``rel`` (results/, results/full/ or
    results/checks/<notebook>.<check>.json) again from this checkout."""
    notebook = f"notebooks/{doc.get('notebook', rel.name.split('.')[0])}.ipynb"
    if rel.parent.name == "checks":
        return f"python scripts/run_notebooks.py --check {rel.name.split('.')[1]} {notebook}"
    return f"python scripts/run_notebooks.py --profile {doc.get('profile', 'default')} {notebook}"


# ---------------------------------------------------------------- claims
# "no resolution": the proxy a ranking was decided on failed its ruler (too little headroom over the
# floor, or a control ordered wrong), so its interval says nothing about the methods (issue 47)
VERDICTS = ("reproduced", "not reproduced", "inconclusive", "no resolution", "not testable here")
# how a claim is *not reproduced* (issue 47): the opposite was shown; the two sides are the same within the
# claim's equivalence margin; or what the claim says occurs did not occur in any run
HOWS = ("reversed", "equivalent", "not observed")
# what a claim is, declared with it before the runs that decide it (issue 47: identities and closed forms are
# counted apart from replications; issue 51's kinds). A row names its kind with ``of_kind``
KINDS = {
    "replication": "a measured effect (the report's, or one we add), decided by its rule on runs",
    "identity": "an identity or closed form (a count, a formula, an exact property), checked by computing it",
    "existence": "that something occurs (a NaN, a collapse), decided by whether a run shows it",
    "ranking": "one method or setting scores above another on a proxy, judged under the proxy's ruler",
}


CLAIM_ID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*(/[a-z0-9]+(-[a-z0-9]+)*)*")  # words joined by "-", parts by "/"


def with_id(claim_id: str, row: dict[str, str]) -> dict[str, str]:
    """``row`` with its stable id (issue 51): lowercase words joined by "-" (a claim asked per
    dataset, metric or scale adds its part after "/"). Whatever refers to a claim (06's rankings,
    the cross-CPU verdicts, the README) uses the id, never the claim's text, so rewording a claim
    loses nothing; ``claims_table`` refuses a row without one or an id used twice."""
    if not isinstance(claim_id, str) or not CLAIM_ID.fullmatch(claim_id):
        raise ValueError(
            f"claim id {claim_id!r}: lowercase words joined by '-' (parts by '/'), e.g. 'circle-beats-triplet'"
        )
    return {**row, "id": claim_id}


def slug(text: str) -> str:
    """``text`` as a part of a claim id: lowercase letters and digits, runs of anything else as one "-"."""
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")


def of_kind(kind: str, row: dict[str, str]) -> dict[str, str]:
    """``row`` declared a claim of ``kind`` (one of ``KINDS``)."""
    if kind not in KINDS:
        raise ValueError(f"claim kind {kind!r} is not one of {tuple(KINDS)}")
    return {**row, "kind": kind}


def interval_how(ci: dict[str, float], margin: float = 0.0) -> str:
    """How an interval verdict is *not reproduced* (``interval_verdict``, claimed side > 0):
    *equivalent* when the interval lies inside ±``margin``, else *reversed* (it lies below 0)."""
    if margin > 0 and -margin <= ci["lo"] and ci["hi"] <= margin:
        return "equivalent"
    if ci["hi"] < 0:
        return "reversed"
    raise ValueError(f"the interval [{ci['lo']:g}, {ci['hi']:g}] does not decide 'not reproduced' at margin {margin:g}")


# Equivalence margins: a paired difference whose whole 95 % interval lies inside ±margin is "no
# difference" (a claim of "A beats B" is then not reproduced). One per metric, each the size of an
# effect too small to matter for that metric, and at most half the smallest effect a report claims.
EQUIVALENCE_MARGINS: dict[str, tuple[float, str]] = {
    "map_at_r": (
        0.01,
        "1 point of MAP@R: below the spread of reruns of one method in 'A Metric Learning Reality Check'",
    ),
    "accuracy": (0.0025, "0.25 points of pair accuracy: half the smallest gap report 003 gives (97.76 vs 97.26 %)"),
    "distance": (0.01, "0.01 in embedding distance: half report 003's positive-pair gap (0.030 vs 0.052)"),
    "collapse_share": (
        0.1,
        "a tenth of the runs: a difference of collapse rates smaller than one run in ten is no difference",
    ),
    "recall": (0.01, "1 point of Recall@K: fewer than one query in a hundred answered differently"),
    "f1": (0.01, "1 point of clustering F1, as for Recall@K"),
    "hpatches_map": (0.01, "1 point of HPatches mAP: below the gaps between the descriptors the benchmark paper ranks"),
}


def mean_std(values, digits: int = 3, scale: float = 1.0) -> str:
    """'m ± s (n=k)' over seeds."""
    v = np.asarray(values, dtype=float) * scale
    if len(v) == 1:
        return f"{v[0]:.{digits}f} (n=1)"
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f} (n={len(v)})"


def finite_values(values, what: str) -> np.ndarray:
    """``values`` as a float array, refused when any is NaN or infinite: no interval, test or verdict
    is computed from a value that is not a number (a diverged run, a metric of an empty set)."""
    v = np.asarray(values, dtype=float)
    bad = ~np.isfinite(v)
    if bad.any():
        raise ValueError(
            f"{int(bad.sum())} of {v.size} values of {what} are NaN or infinite ({v.tolist()}): no interval or "
            "verdict is computed from them; find the run that gave them (a diverged loss, an empty evaluation)"
        )
    return v


def paired_interval(diffs, level: float = 0.95) -> dict[str, float]:
    """Mean of paired differences with its two-sided t confidence interval (scipy's
    ``ttest_1samp(...).confidence_interval``, n − 1 degrees of freedom), and the seeds an effect of
    this size would need for that interval to exclude 0 with 80 % power (``seeds_needed``)."""
    from scipy import stats

    d = finite_values(diffs, "the paired differences")
    n, mean = len(d), float(d.mean()) if len(d) else float("nan")
    if n < 2:
        nan = float("nan")
        return {"n": n, "mean": mean, "sd": nan, "lo": nan, "hi": nan, "seeds_needed": nan}
    sd = float(d.std(ddof=1))
    with warnings.catch_warnings():  # equal values: scipy warns of a zero variance, the interval is [mean, mean]
        warnings.simplefilter("ignore", RuntimeWarning)
        ci = stats.ttest_1samp(d, 0.0).confidence_interval(level)
    lo, hi = (float(ci.low), float(ci.high)) if sd > 0 else (mean, mean)
    return {"n": n, "mean": mean, "sd": sd, "lo": lo, "hi": hi, "seeds_needed": seeds_needed(mean, sd, level)}


def summary_interval(mean: float, sd: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """The two-sided t interval of a mean from its summary (mean, sd with ddof 1, n): scipy's
    ``t.interval``; the interval ``paired_interval`` gives from the differences themselves, for
    tables that kept only the summary (``paired_tests`` rows). NaN when n < 2 or sd is NaN."""
    from scipy import stats

    if n < 2 or not np.isfinite(sd):
        return float("nan"), float("nan")
    if sd == 0:
        return float(mean), float(mean)
    lo, hi = stats.t.interval(level, n - 1, loc=mean, scale=sd / np.sqrt(n))
    return float(lo), float(hi)


def seeds_needed(mean: float, sd: float, level: float = 0.95, power: float = 0.8) -> float:
    """The smallest number of seeds whose two-sided paired t-test at 1 − ``level`` detects an effect
    of ``mean`` with spread ``sd`` (per-seed differences) with probability ``power``: statsmodels'
    ``TTestPower``, the exact noncentral-t power. The normal approximation it replaces,
    ((z₀.₉₇₅ + z₀.₈) · sd / mean)², undercounts where seeds are few (effect size 2: 2 seeds where
    5 are needed). NaN when there is no effect or no spread to size it with."""
    from statsmodels.stats.power import TTestPower

    if not (np.isfinite(mean) and np.isfinite(sd)) or mean == 0 or sd <= 0:
        return float("nan")
    # the test's tail on the effect's side (α/2): the other tail adds < 10⁻⁵ at 80 % power, and
    # statsmodels' two-sided power turns NaN there for effects of 10 sd and more
    effect, tail, engine = abs(mean) / sd, (1 - level) / 2, TTestPower()
    if engine.power(effect, nobs=2, alpha=tail, alternative="larger") >= power:
        return 2.0  # the fewest seeds an interval needs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels' root finder reports its start values
        n = engine.solve_power(effect_size=effect, nobs=None, alpha=tail, power=power, alternative="larger")
    return float(np.ceil(n))


def detectable_effect(n: int, sd: float, level: float = 0.95, power: float = 0.8) -> float:
    """The smallest mean difference that ``n`` seeds, with per-seed differences of spread ``sd``,
    detect with probability ``power`` in a two-sided paired t-test at 1 − ``level``: the inverse of
    ``seeds_needed`` (statsmodels' ``TTestPower``, exact noncentral t; the effect's tail at α/2, as
    there). What a claim's n can resolve: an effect below it may exist unseen. NaN with fewer than
    two seeds or no spread."""
    from statsmodels.stats.power import TTestPower

    if n < 2 or not np.isfinite(sd) or sd <= 0:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels' root finder reports its start values
        effect = TTestPower().solve_power(
            effect_size=None, nobs=n, alpha=(1 - level) / 2, power=power, alternative="larger"
        )
    return float(effect) * sd


def paired_tests(a, b) -> dict[str, float]:
    """a − b across seeds: mean, sd, wins, and the two-sided p of the paired t-test and of
    Wilcoxon's signed-rank test (scipy); NaN where a test has nothing to test (one seed, or all
    differences equal)."""
    from scipy import stats

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff = a - b
    out = {
        "n": int(len(diff)),
        "mean_diff": float(diff.mean()),
        "std_diff": float(diff.std(ddof=1)) if len(diff) > 1 else float("nan"),
        "wins": int((diff > 0).sum()),
    }
    varied = len(diff) > 1 and bool(np.any(diff != diff[0]))
    out["t_p"] = float(stats.ttest_rel(a, b).pvalue) if varied else float("nan")
    out["wilcoxon_p"] = float(stats.wilcoxon(diff).pvalue) if len(diff) > 1 and np.any(diff != 0) else float("nan")
    return out


def interval_verdict(ci: dict[str, float], margin: float = 0.0) -> str:
    """For a claim that the difference is > 0: *reproduced* when the interval excludes 0 on the
    claimed side; *not reproduced* when it excludes 0 on the other side, or lies inside ±margin
    (equivalence); *inconclusive* otherwise (one seed included: no interval)."""
    lo, hi = ci["lo"], ci["hi"]
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "inconclusive"
    if lo > 0:
        return "reproduced"
    if hi < 0 or (margin > 0 and -margin <= lo and hi <= margin):
        return "not reproduced"
    return "inconclusive"


def format_interval(ci: dict[str, float], digits: int = 3, scale: float = 1.0, unit: str = "") -> str:
    if ci["n"] < 2:
        return f"{ci['mean'] * scale:+.{digits}f}{unit} (n=1: no interval)"
    return f"{ci['mean'] * scale:+.{digits}f}{unit}, 95 % CI [{ci['lo'] * scale:+.{digits}f}, {ci['hi'] * scale:+.{digits}f}] (n={ci['n']})"


def _margin(metric: str | float | tuple[float, str]) -> tuple[float, str]:
    """The equivalence margin and its reason: a metric's (``EQUIVALENCE_MARGINS``), a number stated
    with the claim, or a (number, reason) pair a study fixed in its parameters."""
    if isinstance(metric, tuple):
        return float(metric[0]), str(metric[1])
    if isinstance(metric, str):
        if metric not in EQUIVALENCE_MARGINS:
            raise ValueError(
                f"no equivalence margin for {metric!r}; known: {sorted(EQUIVALENCE_MARGINS)} (or pass a number, 0 for none)"
            )
        return EQUIVALENCE_MARGINS[metric]
    return float(metric), "stated with the claim" if metric else ""


def interval_claim(
    claim: str,
    reported: str,
    diffs,
    metric: str | float,
    ours: str = "",
    label: str = "difference",
    lower_wins: bool = False,
    digits: int = 3,
    scale: float = 1.0,
    unit: str = "",
    why: str = "",
) -> dict[str, str]:
    """A claims-table row for a claim that ``diffs`` (one independent value per seed) are > 0, or
    < 0 with ``lower_wins``; the verdict is interval_verdict's at the equivalence margin of ``metric``
    (a name in EQUIVALENCE_MARGINS, or a number; 0: no margin). The interval is printed in ``ours``."""
    d = finite_values(diffs, repr(claim))
    margin, margin_why = _margin(metric)
    ci = paired_interval(d)
    directed = paired_interval(-d if lower_wins else d)
    verdict = interval_verdict(directed, margin)
    text = f"{ours}; " if ours else ""
    text += f"{label} = {format_interval(ci, digits, scale, unit)}{' (lower wins)' if lower_wins else ''}"
    reasons = [why] if why else []
    reasons.append(
        f"equivalence margin ±{margin * scale:g}{unit} ({margin_why})" if margin > 0 else "no equivalence margin"
    )
    detectable = detectable_effect(ci["n"], ci["sd"])
    if np.isfinite(detectable):
        reasons.append(
            f"n={ci['n']} detects |{label}| ≥ {detectable * scale:.{digits}f}{unit} (80 % power at this spread)"
        )
    if verdict == "inconclusive" and np.isfinite(ci["seeds_needed"]):
        reasons.append(f"an effect of this size would need ≈{ci['seeds_needed']:.0f} seeds (80 % power)")
    row = {"claim": claim, "reported": reported, "ours": text, "verdict": verdict, "why": "; ".join(reasons)}
    return row | ({"how": interval_how(directed, margin)} if verdict == "not reproduced" else {})


def paired_claim(
    claim: str,
    reported: str,
    a: str,
    a_values,
    b: str,
    b_values,
    metric: str | float,
    scale: float = 1.0,
    digits: int = 3,
    unit: str = "",
    lower_wins: bool = False,
) -> dict[str, str]:
    """A claims-table row for "a beats b", values paired by seed (same initial weights and batches);
    with lower_wins, beating means lower. ``metric``: the equivalence margin (see interval_claim)."""
    a_values, b_values = finite_values(a_values, f"{a} in {claim!r}"), finite_values(b_values, f"{b} in {claim!r}")
    if a_values.shape != b_values.shape:
        raise ValueError(f"paired values need one per seed on each side; got {a_values.shape} and {b_values.shape}")
    diff = a_values - b_values
    wins = int(((-diff if lower_wins else diff) > 0).sum())
    ours = (
        f"{a} {mean_std(a_values, digits, scale)}{unit} vs {b} {mean_std(b_values, digits, scale)}{unit}; "
        f"{a} ahead on {wins}/{len(diff)} seeds"
    )
    return interval_claim(claim, reported, diff, metric, ours, f"{a} − {b}", lower_wins, digits, scale, unit)


# ---------------------------------------------------------------- binary outcomes (exact)
def share_interval(successes: int, n: int, level: float = 0.95) -> dict[str, float]:
    """A share ``successes``/``n`` with its exact (Clopper–Pearson) interval, scipy's
    ``binomtest(...).proportion_ci(method="exact")``: for counts of runs (collapsed or not), where a
    t-interval on 0/1 values says nothing (3 of 3 gives it a zero-width interval)."""
    from scipy import stats

    if not (0 <= successes <= n) or n < 1:
        raise ValueError(f"a share needs 0 ≤ successes ≤ n and n ≥ 1; got {successes} of {n}")
    ci = stats.binomtest(int(successes), int(n)).proportion_ci(confidence_level=level, method="exact")
    return {"k": int(successes), "n": int(n), "share": successes / n, "lo": float(ci.low), "hi": float(ci.high)}


def discordant_needed(level: float = 0.95) -> int:
    """The fewest discordant pairs an exact two-sided sign test can decide at ``level``, when every
    one of them goes the same way (p = 2 · 0.5^m): 6 at 95 %."""
    m = 1
    while 2 * 0.5**m > 1 - level:
        m += 1
    return m


def paired_binary(a, b, level: float = 0.95) -> dict[str, Any]:
    """Binary outcomes of two settings paired by seed (same initial weights and batches): the seeds
    where only ``a`` has the outcome (``only_a``) and only ``b`` (``only_b``), and the exact
    McNemar test, i.e. a two-sided binomial test of only_a against only_b at 1/2 (scipy); p = 1
    when no seed is discordant. Seeds where both agree carry no information on the difference."""
    from scipy import stats

    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(f"paired outcomes need one per seed on each side; got {a.shape} and {b.shape}")
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    m = only_a + only_b
    p = float(stats.binomtest(only_a, m, 0.5).pvalue) if m else 1.0
    return {
        "n": int(a.size),
        "a": int(a.sum()),
        "b": int(b.sum()),
        "only_a": only_a,
        "only_b": only_b,
        "p": p,
        "level": level,
        "discordant_needed": discordant_needed(level),
    }


def binary_verdict(test: dict[str, Any]) -> str:
    """For a claim that the outcome is more frequent under ``a``: *reproduced* when the exact test
    rejects equality on the claimed side, *not reproduced* when it rejects on the other side,
    *inconclusive* otherwise."""
    if test["p"] < 1 - test["level"]:
        return "reproduced" if test["only_a"] > test["only_b"] else "not reproduced"
    return "inconclusive"


def binary_claim(
    claim: str, reported: str, a: str, a_outcomes, b: str, b_outcomes, outcome: str, why: str = ""
) -> dict[str, str]:
    """A claims-table row for "``outcome`` happens more often under ``a`` than under ``b``", outcomes
    (booleans) paired by seed: each share with its exact interval, the discordant seeds, and the
    verdict of the exact McNemar test. An inconclusive row says how many discordant seeds a
    decision needs at least."""
    test = paired_binary(a_outcomes, b_outcomes)
    sa, sb = share_interval(test["a"], test["n"]), share_interval(test["b"], test["n"])
    ours = (
        f"{outcome}: {a} {sa['k']}/{sa['n']} (95 % CI [{sa['lo']:.2f}, {sa['hi']:.2f}]) vs {b} {sb['k']}/{sb['n']} "
        f"(95 % CI [{sb['lo']:.2f}, {sb['hi']:.2f}]); seeds where only {a}: {test['only_a']}, only {b}: "
        f"{test['only_b']}; exact McNemar p = {test['p']:.3g}"
    )
    verdict = binary_verdict(test)
    reasons = [why] if why else []
    reasons.append("binary outcome per seed: exact test on the discordant seeds, exact (Clopper–Pearson) shares")
    need, m = test["discordant_needed"], test["only_a"] + test["only_b"]
    if test["n"] < need:
        reasons.append(
            f"{test['n']} pairs cannot decide at 95 % whatever they show: an exact test needs {need} discordant "
            f"pairs, all one way"
        )
    else:
        reasons.append(f"{test['n']} pairs can decide a difference in share of {need}/{test['n']} or more")
        if verdict == "inconclusive":
            reasons.append(f"a decision needs at least {need} discordant pairs, all one way (here {m})")
    row = {"claim": claim, "reported": reported, "ours": ours, "verdict": verdict, "why": "; ".join(reasons)}
    return row | ({"how": "reversed"} if verdict == "not reproduced" else {})  # decided on the other side


def claims_table(rows: list[dict[str, str]]):
    """A DataFrame with columns id (``with_id``: one per claim), claim, kind (one of ``KINDS``),
    reported, ours, verdict, how (how a *not reproduced* verdict failed, one of ``HOWS``; empty for
    every other verdict) and why."""
    import pandas as pd

    rows = [_with_how(r) for r in rows]
    ids = [r.get("id") for r in rows]
    for r in rows:
        if not isinstance(r.get("id"), str) or not CLAIM_ID.fullmatch(r["id"]):
            raise ValueError(f"{r['claim']!r} has id {r.get('id')!r}: give it a stable one with results.with_id")
        if ids.count(r["id"]) > 1:
            raise ValueError(f"claim id {r['id']!r} is used by {ids.count(r['id'])} claims; an id names one claim")
        if r.get("kind") not in KINDS:
            raise ValueError(
                f"{r['claim']!r} has kind {r.get('kind')!r}: declare one of {tuple(KINDS)} with results.of_kind"
            )
        if r["verdict"] not in VERDICTS:
            raise ValueError(f"verdict {r['verdict']!r} is not one of {VERDICTS}")
        how = r.get("how", "")
        if r["verdict"] == "not reproduced" and how not in HOWS:
            raise ValueError(f"{r['claim']!r} is not reproduced: say how, one of {HOWS} (got {how!r})")
        if r["verdict"] != "not reproduced" and how:
            raise ValueError(f"{r['claim']!r} reads {r['verdict']!r}: only 'not reproduced' has a how ({how!r})")
    rows = [{**r, "how": r.get("how", "")} for r in rows]
    return pd.DataFrame(rows, columns=["id", "claim", "kind", "reported", "ours", "verdict", "how", "why"])


def _with_how(row: dict[str, str]) -> dict[str, str]:
    """``row`` with its *not reproduced* kind settled: a row built by hand states, under "how_if_not",
    what its rule shows when it fails (``HOWS``); that becomes its "how" only when it failed."""
    row = dict(row)
    fallback = row.pop("how_if_not", "")
    if row["verdict"] == "not reproduced" and not row.get("how"):
        row["how"] = fallback
    return row


def verdict_text(verdict: str, how: str = "") -> str:
    """A verdict with its kind when it has one: "not reproduced (reversed)"."""
    return f"{verdict} ({how})" if how else verdict


def format_claims(table) -> str:
    """Plain text, one block per claim: stable to compare (nbval) and readable in any viewer."""
    lines = []
    for i, r in enumerate(table.itertuples(index=False), 1):
        lines += [
            f"[{i}] {r.claim}",
            f"    id:       {r.id}",
            f"    kind:     {r.kind}",
            f"    reported: {r.reported}",
            f"    ours:     {r.ours}",
            f"    verdict:  {verdict_text(r.verdict, getattr(r, 'how', ''))}" + (f" ({r.why})" if r.why else ""),
        ]
    return "\n".join(lines)


def claims_outline(table) -> str:
    """What a claims table asks and in which terms, without the measured numbers or the verdicts
    they give: the columns, each claim with what was reported, and whether every verdict is one of
    VERDICTS. No CPU can change it, so nbval checks it (the numbers are checked in pytest)."""
    lines = [
        f"columns: {', '.join(table.columns)}",
        f"verdicts drawn from: {', '.join(VERDICTS)}",
        f"every verdict is one of them: {bool(table['verdict'].isin(VERDICTS).all())}",
    ]
    for i, r in enumerate(table.itertuples(index=False), 1):
        lines += [f"[{i}] {r.claim}", f"    id:       {r.id}", f"    kind:     {r.kind}", f"    reported: {r.reported}"]
    return "\n".join(lines)


def equivalence_claim(
    claim: str, reported: str, log_ratios, tolerance: float, ours: str = "", why: str = ""
) -> dict[str, str]:
    """A row for a claim that two costs are the same: ``log_ratios`` (one per independent repeat)
    estimate log(A / B). *reproduced* when the 95 % interval of the ratio lies within
    [1/(1 + tolerance), 1 + tolerance]; *not reproduced* when it lies wholly outside that band;
    *inconclusive* otherwise."""
    ci = paired_interval(finite_values(log_ratios, repr(claim)))
    bound = float(np.log1p(tolerance))
    if not (np.isfinite(ci["lo"]) and np.isfinite(ci["hi"])):
        verdict = "inconclusive"
    elif -bound <= ci["lo"] and ci["hi"] <= bound:
        verdict = "reproduced"
    elif ci["lo"] > bound or ci["hi"] < -bound:
        verdict = "not reproduced"
    else:
        verdict = "inconclusive"
    text = (f"{ours}; " if ours else "") + (
        f"ratio {np.exp(ci['mean']):.3f}, 95 % CI [{np.exp(ci['lo']):.3f}, {np.exp(ci['hi']):.3f}] "
        f"over {ci['n']} interleaved repeats"
    )
    reasons = ([why] if why else []) + [f"the same = the ratio's interval within ±{tolerance:.0%}"]
    row = {"claim": claim, "reported": reported, "ours": text, "verdict": verdict, "why": "; ".join(reasons)}
    return row | ({"how": "reversed"} if verdict == "not reproduced" else {})  # shown to differ


def beats_baselines_claim(claim: str, trained: dict[str, Any], untrained, raw: float, metric: str) -> dict[str, str]:
    """A row for "every trained net beats the untrained network (same seed: same initial weights)
    and raw pixels": per net, the per-seed margin over the better baseline with its 95 % interval.
    *reproduced* when every net's interval is above 0, *not reproduced* when any net's is below 0
    or inside the equivalence margin, *inconclusive* otherwise."""
    untrained = finite_values(untrained, f"the untrained baseline in {claim!r}")
    raw = float(finite_values([raw], f"the raw-pixel baseline in {claim!r}")[0])
    margin, margin_why = _margin(metric)
    parts, verdicts, hows = [], [], []
    for name, values in trained.items():
        v = finite_values(values, f"{name} in {claim!r}")
        if v.shape != untrained.shape:
            raise ValueError(
                f"{name}: one value per seed, as the untrained baseline ({untrained.shape}), got {v.shape}"
            )
        ci = paired_interval(v - np.maximum(untrained, raw))
        verdicts.append(interval_verdict(ci, margin))
        if verdicts[-1] == "not reproduced":
            hows.append(interval_how(ci, margin))
        parts.append(f"{name} {v.mean():.3f}: {format_interval(ci)}")
    verdict = (
        "reproduced"
        if all(v == "reproduced" for v in verdicts)
        else "not reproduced"
        if "not reproduced" in verdicts
        else "inconclusive"
    )
    ours = (
        f"untrained {untrained.mean():.3f}, raw pixels {raw:.3f}; margin over the better baseline, per seed: "
        + "; ".join(parts)
    )
    row = {
        "claim": claim,
        "kind": "ranking",  # trained nets above the baselines, on a proxy
        "reported": "not reported",
        "ours": ours,
        "verdict": verdict,
        "why": f"every net must be above both; equivalence margin ±{margin:g} ({margin_why})",
    }
    return row | ({"how": "reversed" if "reversed" in hows else "equivalent"} if hows else {})


# ---------------------------------------------------------------- the full profile's verdicts beside
FULL_RESULTS = Path("results") / "full"  # kept by scripts/run_notebooks.py --profile full
CHECK_RESULTS = Path("results") / "checks"  # kept by scripts/run_notebooks.py --check NAME


def full_profile_results(cfg: Config, plan_module: str, cost: str = "") -> tuple[dict[str, Any] | None, str]:
    """The results JSON the notebook's ``full`` profile last kept (results/full/<notebook>.json),
    when it was a complete run of this notebook at the committed seeds, made by the code its runs
    execute now (``plan_code``: ``runs.code_digest(plan_module)``, which the study's schema records);
    else None. The second value says which file it is, or why none is used and how to make one."""
    rel = FULL_RESULTS / f"{cfg.notebook}.json"
    make = f"make it with `python scripts/run_notebooks.py --profile full notebooks/{cfg.notebook}.ipynb`{cost}"
    return _kept_results(cfg, plan_module, rel, make, "full", {}, "full profile")


def check_results(
    cfg: Config, plan_module: str, check: str, overrides: dict[str, Any], cost: str = ""
) -> tuple[dict[str, Any] | None, str]:
    """The results JSON of the notebook's second check ``check`` (results/checks/<notebook>.<check>.json,
    kept by ``scripts/run_notebooks.py --check``): the default profile with ``overrides`` (the
    study's ``CHECKS[check]``), at the committed seeds, made by the code its runs execute now; else
    None, with why and how to make one (as :func:`full_profile_results`)."""
    rel = CHECK_RESULTS / f"{cfg.notebook}.{check}.json"
    make = f"make it with `python scripts/run_notebooks.py --check {check} notebooks/{cfg.notebook}.ipynb`{cost}"
    return _kept_results(cfg, plan_module, rel, make, "default", overrides, f"the {check} check")


def _kept_results(cfg, plan_module, rel: Path, make: str, profile: str, overrides: dict[str, Any], what: str):
    """A results JSON another run kept at ``rel``, when it is a run of this notebook at ``profile``
    with ``overrides`` and the committed seeds, made by the code ``plan_module``'s runs execute now."""
    from .runs import code_digest

    path = cfg.root / rel
    if not path.exists():
        return None, f"no {rel}: {make}"
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        return None, f"{rel} cannot be read ({type(err).__name__}: {err}); {make}"
    if doc.get("notebook") != cfg.notebook or doc.get("profile") != profile or doc.get("seed_offset"):
        return None, (
            f"{rel} is not a run of {cfg.notebook} at the {profile} profile and the committed seeds "
            f"(notebook {doc.get('notebook')!r}, profile {doc.get('profile')!r}, seed offset {doc.get('seed_offset')!r}); "
            + make
        )
    ran = doc.get("config", {})
    other = {k: ran.get(k) for k, v in overrides.items() if ran.get(k) != v}
    if other:
        return None, f"{rel} ran with {other}, not {what}'s {overrides}; {make}"
    now = code_digest(plan_module)
    if doc.get("plan_code") != now:
        return None, (
            f"{rel} was made by other code than this checkout's runs execute (code digest of {plan_module}: "
            f"{doc.get('plan_code')} there, {now} here), so its numbers may not be this code's; {make}"
        )
    return doc, f"{rel} ({what}, written {doc.get('written_at')}, commit {doc.get('git_commit')})"


def claim_index(claims: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Claims keyed by their id and by their text (a file written before claims had ids is found by
    text; an id and a text cannot collide: an id has no spaces)."""
    out: dict[str, dict[str, Any]] = {}
    for c in claims:
        out[c["claim"]] = c
        if c.get("id"):
            out[c["id"]] = c
    return out


def find_claim(index: dict[str, dict[str, Any]], claim: dict[str, Any]) -> dict[str, Any] | None:
    """``claim`` (a row or a results file's claim) in ``index`` (``claim_index``): by its id, else by its text."""
    return index.get(claim.get("id") or "") or index.get(claim["claim"])


def verdicts_beside(here, there: list[dict[str, Any]], select=lambda claim: True):
    """Claim by claim (those ``select`` keeps), the verdict of this run's claims table ``here``
    beside the verdict of another design's claims ``there`` (a results JSON's "claims"), with each
    side's numbers and whether the verdict moved. A claim missing on either side is an error: two
    designs of one notebook ask the same questions."""
    import pandas as pd

    theirs = claim_index(there)
    rows = []
    for r in here.itertuples(index=False):
        if not select(r.claim):
            continue
        t = find_claim(theirs, r._asdict())
        if t is None:
            raise KeyError(f"the other design has no claim {r.claim!r}; were both made by this notebook?")
        rows.append(
            {
                "id": getattr(r, "id", None),
                "claim": r.claim,
                "verdict": r.verdict,
                "verdict_other": t["verdict"],
                "moved": r.verdict != t["verdict"],
                "ours": r.ours,
                "ours_other": t["ours"],
            }
        )
    return pd.DataFrame(rows, columns=["id", "claim", "verdict", "verdict_other", "moved", "ours", "ours_other"])


def same_verdicts_claim(claim: str, reported: str, beside, why_here: str, other: str) -> dict[str, str]:
    """A row for "this design gives the verdicts of the bigger one" from :func:`verdicts_beside`
    (``beside`` None: the other design's results are not at hand, ``why_here`` says why).
    *reproduced* when no verdict moves, *not reproduced* when any does: the verdicts are compared
    as they are, each already decided by its own rule at its own n; no second test is stacked on them."""
    if beside is None:
        return {"claim": claim, "reported": reported, "ours": "—", "verdict": "not testable here", "why": why_here}
    if beside.empty:
        raise ValueError(f"{claim!r}: no claim to compare; check the selection")
    moved = beside[beside["moved"]]
    ours = f"{len(beside) - len(moved)} of {len(beside)} verdicts the same"
    if len(moved):
        ours += "; moved: " + "; ".join(
            f"{r.claim} ({r.verdict} here, {r.verdict_other} with {other})" for r in moved.itertuples(index=False)
        )
    return {
        "claim": claim,
        "reported": reported,
        "ours": ours,
        "verdict": "not reproduced" if len(moved) else "reproduced",
        "why": f"every verdict decided by its own rule in both designs and compared as it is; the other: {why_here}",
    } | ({"how": "reversed"} if len(moved) else {})


# ---------------------------------------------------------------- before / after a data fix
FIRST_PATCH_LAYOUT = Path("results") / "before"  # <notebook>.shared_layout.json: the run on the first patch layout


def first_layout_results(cfg: Config) -> tuple[dict[str, Any] | None, str]:
    """The committed results JSON of this notebook's default run on the first patch layout (every
    physical point two labels; issue 47), kept at ``FIRST_PATCH_LAYOUT``: None (with why) at another
    profile or without that file; else the document and where it comes from."""
    return earlier_results(cfg, FIRST_PATCH_LAYOUT / f"{cfg.notebook}.shared_layout.json", "the first layout's run")


def earlier_results(cfg: Config, rel: Path, what: str) -> tuple[dict[str, Any] | None, str]:
    """A committed results JSON of this notebook's default run kept as history at ``rel`` (under
    results/before/; ``what`` names it): None (with why) at another profile or without that file;
    else the document and where it comes from."""
    if cfg.profile != "default":
        return None, f"{what} is the default profile, this is {cfg.profile!r}"
    path = cfg.root / rel
    if not path.exists():
        return None, f"no {rel}"
    doc = json.loads(path.read_text())
    return doc, f"{rel} (commit {str(doc.get('git_commit', '?'))[:7]}, written {str(doc.get('written_at', '?'))[:10]})"


def claim_key(text: str) -> str:
    """A claim's text with its numbers blanked: a claim that names its data's size ("400 unseen
    classes") is the same question on the data's new size."""
    import re

    return re.sub(r"\d+(\.\d+)?", "#", text)


def before_after(
    rows: list[tuple[str, str, Any, Any]],
    claims_before: list[dict[str, Any]],
    claims_now,
    labels: tuple[str, str] = ("first layout (two labels per point)", "now (one label)"),
):
    """A table of this run beside an earlier one: ``rows`` (what, row, before, now) first, then each
    claim of the claims table ``claims_now`` with its verdict before (matched by its id, or, in a run
    written before ids, by its text with the numbers blanked; "—" when the earlier run did not ask
    it) and now, and whether it moved;
    ``labels`` name the two columns."""
    import pandas as pd

    before = {claim_key(c["claim"]): c["verdict"] for c in claims_before}
    by_id = {c["id"]: c["verdict"] for c in claims_before if c.get("id")}  # an earlier run that had ids: by id

    def shown(x):
        return f"{x:.3f}" if isinstance(x, float) else x

    out = [(what, row, shown(a), shown(b)) for what, row, a, b in rows]
    for c in claims_now.itertuples(index=False):
        was = by_id.get(getattr(c, "id", None)) or before.get(claim_key(c.claim), "—")
        out.append(("verdict", c.claim, was, c.verdict))
    table = pd.DataFrame(out, columns=["what", "row", *labels])
    verdicts = table["what"] == "verdict"
    table["moved"] = ""
    table.loc[verdicts, "moved"] = [
        "yes" if a not in (b, "—") else "" for a, b in table.loc[verdicts, table.columns[2:4]].itertuples(index=False)
    ]
    return table
