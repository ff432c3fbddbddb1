"""Verdict statistics (dml_utils.stats): intervals, the p they invert, exact tests, power."""

import numpy as np
import pytest

from dml_utils import stats
from dml_utils.claims import (
    interval_verdict,
)
from dml_utils.stats import paired_interval


def _t_power(effect: float, n: int, alpha: float = 0.05) -> float:
    """Two-sided one-sample t-test power from the noncentral t (scipy), independent of statsmodels."""
    from scipy import stats

    crit = stats.t.ppf(1 - alpha / 2, n - 1)
    ncp = effect * np.sqrt(n)
    wrong_side = np.nan_to_num(stats.nct.cdf(-crit, n - 1, ncp))  # NaN where it underflows (far from 0)
    return float(stats.nct.sf(crit, n - 1, ncp) + wrong_side)


def test_paired_interval_is_the_t_interval():
    ci = paired_interval([1.0, 2.0, 3.0])
    assert ci["n"] == 3 and ci["mean"] == 2.0 and ci["sd"] == 1.0
    assert ci["lo"] == pytest.approx(2.0 - 4.302653 / np.sqrt(3)) and ci["hi"] == pytest.approx(
        2.0 + 4.302653 / np.sqrt(3)
    )
    assert ci["seeds_needed"] == 5  # effect size 2: the normal approximation said 2
    same = paired_interval([0.5, 0.5, 0.5])  # no spread: the interval is the mean, no seeds to size
    assert same["lo"] == same["hi"] == 0.5 and np.isnan(same["seeds_needed"])
    one = paired_interval([0.5])
    assert one["n"] == 1 and np.isnan(one["lo"]) and interval_verdict(one) == "inconclusive"


@pytest.mark.parametrize("effect", [0.3, 0.8, 1.0, 1.5, 2.0, 3.0, 20.0])
def test_seeds_needed_is_the_fewest_seeds_with_80_percent_t_power(effect):
    from dml_utils.results import seeds_needed

    n = int(seeds_needed(effect * 0.1, 0.1))
    assert n >= 2 and _t_power(effect, n) >= 0.8
    assert n == 2 or _t_power(effect, n - 1) < 0.8
    assert seeds_needed(-effect * 0.1, 0.1) == n  # the sign of the effect does not matter
    assert np.isnan(seeds_needed(0.0, 0.1)) and np.isnan(seeds_needed(0.1, 0.0))


@pytest.mark.parametrize("n", [2, 3, 5, 10, 30])
def test_the_detectable_effect_is_the_one_n_seeds_find_with_80_percent_t_power(n):
    from dml_utils.results import detectable_effect, seeds_needed

    effect = detectable_effect(n, 0.1) / 0.1
    assert _t_power(effect, n) == pytest.approx(0.8, abs=1e-3)
    assert seeds_needed(effect * 0.1 * 1.01, 0.1) == n  # seeds_needed inverts it (a hair above the edge)
    assert detectable_effect(n, 0.2) == pytest.approx(2 * detectable_effect(n, 0.1))  # in units of the spread
    assert np.isnan(detectable_effect(1, 0.1)) and np.isnan(detectable_effect(n, 0.0))


def test_paired_interval_matches_the_t_formula_to_the_last_digits():
    from scipy import stats

    rng = np.random.default_rng(3)
    for n in (2, 3, 5, 20):
        d = rng.normal(0.1, 0.05, n)
        ci = paired_interval(d)
        half = stats.t.ppf(0.975, n - 1) * d.std(ddof=1) / np.sqrt(n)
        assert ci["lo"] == pytest.approx(d.mean() - half, rel=1e-12, abs=1e-15)
        assert ci["hi"] == pytest.approx(d.mean() + half, rel=1e-12, abs=1e-15)


def test_the_summary_interval_is_the_interval_of_the_differences():
    from dml_utils.results import summary_interval

    rng = np.random.default_rng(5)
    for n in (2, 3, 5, 20):
        d = rng.normal(0.1, 0.05, n)
        ci = paired_interval(d)
        lo, hi = summary_interval(d.mean(), d.std(ddof=1), n)
        assert lo == pytest.approx(ci["lo"], rel=1e-12) and hi == pytest.approx(ci["hi"], rel=1e-12)
    assert summary_interval(0.5, 0.0, 3) == (0.5, 0.5)  # no spread: the mean
    assert all(np.isnan(summary_interval(0.5, float("nan"), 1)))  # one seed: no interval


# ---------------------------------------------------------------- binary outcomes: exact rules
def test_exact_shares_on_hand_made_counts_including_all_or_nothing():
    from dml_utils.results import share_interval

    all_three, none = share_interval(3, 3), share_interval(0, 3)
    assert all_three["lo"] == pytest.approx(0.025 ** (1 / 3), abs=1e-9) and all_three["hi"] == 1.0  # 0.292
    assert none["lo"] == 0.0 and none["hi"] == pytest.approx(1 - 0.025 ** (1 / 3), abs=1e-9)  # 0.708
    half = share_interval(5, 10)
    assert half["lo"] == pytest.approx(0.187086, abs=1e-6) and half["hi"] == pytest.approx(0.812914, abs=1e-6)
    with pytest.raises(ValueError, match="0 ≤ successes ≤ n"):
        share_interval(4, 3)


def test_paired_binary_outcomes_are_decided_by_the_discordant_seeds():
    from dml_utils.results import binary_claim, binary_verdict, discordant_needed, paired_binary

    assert discordant_needed() == 6  # 2 · 0.5^5 = 0.0625, 2 · 0.5^6 = 0.031
    three = paired_binary([1, 1, 1], [0, 0, 0])  # 3 of 3 vs 0 of 3: the collapse claim of notebook 05
    assert (three["only_a"], three["only_b"], three["p"]) == (3, 0, 0.25) and binary_verdict(three) == "inconclusive"
    six = paired_binary([1] * 6, [0] * 6)
    assert six["p"] == pytest.approx(0.03125) and binary_verdict(six) == "reproduced"
    assert binary_verdict(paired_binary([0] * 6, [1] * 6)) == "not reproduced"
    agree = paired_binary([1, 1, 0, 0], [1, 1, 0, 0])  # no discordant seed: nothing to test
    assert agree["p"] == 1.0 and binary_verdict(agree) == "inconclusive"
    mixed = paired_binary([1, 1, 1, 1, 1, 1, 1, 0], [0, 0, 0, 0, 0, 0, 0, 1])  # 7 vs 1 discordant
    assert mixed["p"] == pytest.approx(0.0703125) and binary_verdict(mixed) == "inconclusive"
    row = binary_claim("raw collapses more", "yes", "raw", [1, 1, 1], "normalized", [0, 0, 0], "collapsed")
    assert row["verdict"] == "inconclusive" and "raw 3/3 (95 % CI [0.29, 1.00])" in row["ours"]
    assert "exact McNemar p = 0.25" in row["ours"] and "3 pairs cannot decide at 95 % whatever they show" in row["why"]
    eight = binary_claim(
        "raw collapses more", "yes", "raw", [1, 1, 1, 1, 1, 1, 1, 0], "normalized", [0] * 7 + [1], "collapsed"
    )
    assert "8 pairs can decide a difference in share of 6/8 or more" in eight["why"]
    assert eight["verdict"] == "inconclusive" and "at least 6 discordant pairs, all one way (here 8)" in eight["why"]
    with pytest.raises(ValueError, match="one per seed on each side"):
        paired_binary([1, 0], [1])


def test_zero_p_is_the_test_the_interval_inverts():
    rng = np.random.default_rng(0)
    for _ in range(20):
        d = rng.normal(0.3, 1.0, size=6)
        ci = stats.paired_interval(d)
        assert (stats.zero_p(d) < 0.05) == (ci["lo"] > 0 or ci["hi"] < 0)
    assert stats.zero_p([0.1, 0.1, 0.1]) == 0.0 and stats.zero_p([0.0, 0.0]) == 1.0
    assert np.isnan(stats.zero_p([0.2]))
