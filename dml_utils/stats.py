"""Verdict statistics: paired t-intervals and the p they invert, exact intervals and tests for
counts, the seeds an effect needs and the effect seeds can detect (scipy and statsmodels underneath).
What a claim row says with them is ``claims``'s; results files are ``results``'s."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np


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


def zero_p(diffs) -> float:
    """The two-sided p of "the mean difference is 0" that ``paired_interval``'s interval inverts
    (scipy's one-sample t-test, n − 1 degrees of freedom): below 0.05 exactly when the 95 % interval
    excludes 0. Equal nonzero differences give 0, all-zero ones 1; NaN with fewer than two."""
    from scipy import stats

    d = finite_values(diffs, "the paired differences")
    if len(d) < 2:
        return float("nan")
    if not np.any(d != d[0]):
        return 0.0 if d[0] != 0 else 1.0
    return float(stats.ttest_1samp(d, 0.0).pvalue)


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
