import logging

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from dml_utils import sampling as sm
from dml_utils.sampling import ClassBalancedBatchSampler


def _labels():
    # long tail: class 0 has 40, class 5 has 3 samples
    return np.repeat(np.arange(6), [40, 20, 12, 8, 5, 3])


def test_every_batch_has_cpb_distinct_classes_times_spc_distinct_samples():
    y = _labels()
    with pytest.warns(UserWarning, match=r"classes \[5\] have fewer than samples_per_class=4 samples \(counts \[3\]\)"):
        s = ClassBalancedBatchSampler(y, classes_per_batch=3, samples_per_class=4, batches=50, seed=0)
    batches = list(s)
    assert len(batches) == len(s) == 50
    for b in batches:
        assert len(b) == 12 and len(set(b)) == 12
        classes, counts = np.unique(y[b], return_counts=True)
        assert len(classes) == 3 and (counts == 4).all()
    seen = np.unique(y[np.concatenate(batches)])
    assert 5 not in seen and set(seen) <= {0, 1, 2, 3, 4}  # class 5 (3 < spc samples) never appears
    assert s.excluded.tolist() == [5]


def test_deterministic_with_a_seed():
    y = _labels()
    a = list(ClassBalancedBatchSampler(y, 2, 3, 10, seed=7))
    b = list(ClassBalancedBatchSampler(y, 2, 3, 10, seed=7))
    c = list(ClassBalancedBatchSampler(y, 2, 3, 10, seed=8))
    assert a == b and a != c


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"classes_per_batch": 6, "samples_per_class": 4}, "only 5 classes"),
        ({"classes_per_batch": 2, "samples_per_class": 41}, "larger than every class"),
        ({"classes_per_batch": 2, "samples_per_class": 4, "batch_size": 10}, "batch_size 10 != "),
        ({"classes_per_batch": 0, "samples_per_class": 4}, ">= 2"),
    ],
)
def test_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ClassBalancedBatchSampler(_labels(), batches=5, **kwargs)


# ---------------------------------------------------------------- the distance law
@pytest.mark.parametrize("n", [2, 3, 8, 32, 128, 512])
def test_density_integrates_to_one(n):
    total, _ = integrate.quad(lambda d: sm.hypersphere_distance_density(d, n), 0, 2, limit=200, points=[2**0.5])
    assert total == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("n", [3, 8, 128])
def test_density_is_the_papers_formula_up_to_a_constant(n):
    d = np.linspace(0.05, 1.95, 40)
    ratio = sm.hypersphere_distance_density(d, n) / (d ** (n - 2) * (1 - d**2 / 4) ** ((n - 3) / 2))
    assert np.allclose(ratio, ratio[0], rtol=1e-9)


@pytest.mark.parametrize("n", [2, 3, 8, 32, 128, 512])
def test_monte_carlo_distances_follow_the_law(n):
    samples = sm.uniform_sphere_distances(20_000, n, seed=n)
    assert stats.kstest(samples, lambda d: sm.hypersphere_distance_cdf(d, n)).pvalue > 1e-3


def test_goodness_of_fit_rejects_the_wrong_dimension():
    samples = sm.uniform_sphere_distances(20_000, 32, seed=0)
    assert stats.kstest(samples, lambda d: sm.hypersphere_distance_cdf(d, 48)).pvalue < 1e-6


def test_n2_is_the_arcsine_law_unbounded_at_2():
    assert sm.hypersphere_distance_density(2.0, 2) == np.inf
    assert sm.hypersphere_distance_density(0.0, 2) == pytest.approx(1 / np.pi)
    assert sm.hypersphere_distance_density(1.0, 2) == pytest.approx(1 / (np.pi * np.sqrt(1 - 0.25)))


@pytest.mark.parametrize("n", [1, 0, -3, 2.5])
def test_dimension_below_two_or_fractional_is_an_error(n):
    with pytest.raises(ValueError, match="integer >= 2"):
        sm.hypersphere_distance_density(1.0, n)


def test_concentration_near_sqrt2():
    mode = {
        n: np.linspace(0.01, 1.99, 2000)[np.argmax(sm.hypersphere_distance_density(np.linspace(0.01, 1.99, 2000), n))]
        for n in (8, 128, 512)
    }
    assert abs(mode[512] - 2**0.5) < abs(mode[8] - 2**0.5)
    assert abs(mode[512] - 2**0.5) < 0.01


# ---------------------------------------------------------------- the miner
def _batch(seed=0, classes=4, per_class=5, dim=16):
    g = torch.Generator().manual_seed(seed)
    emb = torch.nn.functional.normalize(torch.randn(classes * per_class, dim, generator=g), dim=1)
    return emb, torch.arange(classes).repeat_interleave(per_class)


def _loop_reference(emb, labels, strategy):
    """Plain loop: for each ordered positive pair, the expected negative (hard / semihard) or None."""
    d = torch.cdist(emb, emb)
    out = {}
    for a in range(len(labels)):
        for p in range(len(labels)):
            if a == p or labels[a] != labels[p]:
                continue
            negs = [n for n in range(len(labels)) if labels[n] != labels[a]]
            if strategy == "semihard":
                negs = [n for n in negs if d[a, n] > d[a, p]]
            out[(a, p)] = min(negs, key=lambda n: d[a, n].item()) if negs else None
    return out


@pytest.mark.parametrize("strategy", ["hard", "semihard"])
def test_hard_and_semihard_match_a_plain_loop(strategy):
    emb, y = _batch()
    ref = _loop_reference(emb, y, strategy)
    miner = sm.NegativeSamplingMiner(strategy)
    a, p, n = miner(emb, y)
    got = {(int(i), int(j)): int(k) for i, j, k in zip(a, p, n)}
    assert got == {k: v for k, v in ref.items() if v is not None}
    assert miner.pairs_dropped == sum(v is None for v in ref.values())


def test_uniform_picks_every_negative_equally_often():
    emb, y = _batch(classes=3, per_class=4)
    miner = sm.NegativeSamplingMiner("uniform")
    torch.manual_seed(0)
    counts = np.zeros(len(y))
    for _ in range(300):
        a, _, n = miner(emb, y)
        assert (y[a] != y[n]).all()
        np.add.at(counts, n[a == 0].numpy(), 1)  # anchor 0's negatives: indices 4..11
    assert counts[:4].sum() == 0
    assert stats.chisquare(counts[4:]).pvalue > 1e-3


def test_distance_weighted_probabilities_match_the_formula():
    emb, y = _batch(classes=3, per_class=4, dim=8)
    d = torch.cdist(emb, emb)
    neg = y[:, None] != y[None]
    logp = sm.distance_weighted_log_probs(d, neg, n_dim=8, cutoff=0.5, nonzero_loss_cutoff=1.4)
    for a in range(len(y)):  # plain loop: w_n = min(λ, 1/q(D)) with λ = 1/q(cutoff), D < 1.4
        w = np.array(
            [
                1 / sm.hypersphere_distance_density(max(d[a, n].item(), 0.5), 8) if neg[a, n] and d[a, n] < 1.4 else 0.0
                for n in range(len(y))
            ]
        )
        if w.sum() == 0:
            assert torch.isinf(logp[a]).all()
        else:
            assert np.allclose(np.exp(logp[a].numpy()), w / w.sum(), atol=1e-10)


def test_distance_weighted_sampling_frequencies():
    emb, y = _batch(classes=3, per_class=4, dim=8, seed=3)
    miner = sm.NegativeSamplingMiner("distance", nonzero_loss_cutoff=2.0)
    probs = torch.exp(sm.distance_weighted_log_probs(torch.cdist(emb, emb), y[:, None] != y[None], 8, 0.5, 2.0))[
        0
    ].numpy()
    torch.manual_seed(0)
    counts = np.zeros(len(y))
    for _ in range(400):
        a, _, n = miner(emb, y)
        np.add.at(counts, n[a == 0].numpy(), 1)
    keep = probs > 0
    assert counts[~keep].sum() == 0
    assert stats.chisquare(counts[keep], probs[keep] / probs[keep].sum() * counts.sum()).pvalue > 1e-3


def _far_and_near_batch(dim=512, seed=0):
    """Class 0/1 hold a negative pair at D = 0.5; classes 2, 3 have their negatives at D ≈ 1.38."""
    rng = np.random.default_rng(seed)
    base = np.linalg.qr(rng.standard_normal((dim, 12)))[0].T  # 12 orthonormal directions

    def at(u, v, d):  # unit vector at distance d from unit u, in the plane of u and v (v ⟂ u)
        c = 1 - d**2 / 2
        return c * u + np.sqrt(1 - c**2) * v

    x0 = base[0]
    pts = [x0, at(x0, base[1], 0.1), at(x0, base[2], 0.5), at(at(x0, base[2], 0.5), base[3], 0.1)]
    z = at(base[4], base[5], 0.1)
    far = [base[4], z, at(base[6], base[7], 0.1), base[6]]
    emb = torch.tensor(np.array(pts + far), dtype=torch.float32)
    # pull the far group to ~1.38 from everything else
    emb[4:] = torch.nn.functional.normalize(emb[4:] + 0.05 * emb[0], dim=1)
    return emb, torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])


def test_pml_distance_weighted_miner_loses_far_anchors_and_ours_does_not():
    emb, y = _far_and_near_batch()
    d = torch.cdist(emb, emb)
    assert (d[4:, :4] < 1.4).all() and (d[4:, :4] > 1.3).all()
    lost = sm.pml_distance_weighted_lost_anchors(emb, y)
    assert lost["anchors_expected"] == 8 and lost["anchors_lost"] >= 4  # the far anchors underflow to zero weight
    torch.manual_seed(0)
    a, p, n = sm.NegativeSamplingMiner("distance")(emb, y)
    assert set(a.tolist()) == set(range(8))
    assert (y[a] != y[n]).all() and (y[a] == y[p]).all()


def test_single_class_batch_gives_no_triplets_and_is_logged(caplog):
    emb, _ = _batch(classes=1, per_class=6)
    miner = sm.NegativeSamplingMiner("distance")
    with caplog.at_level(logging.WARNING, logger="dml_utils.sampling"):
        a, p, n = miner(emb, torch.zeros(6, dtype=torch.long))
    assert len(a) == len(p) == len(n) == 0 and miner.batches_without_negatives == 1
    assert "no negatives" in caplog.text


def test_all_negatives_beyond_the_cutoff_drop_the_pairs_without_nan():
    miner = sm.NegativeSamplingMiner("distance", nonzero_loss_cutoff=0.51)
    emb = torch.tensor([[1.0, 0], [1, 0.01], [1, -0.01], [-1, 0], [-1, 0.01], [-1, -0.01]])
    a, _, _ = miner(emb, torch.tensor([0, 0, 0, 1, 1, 1]))
    assert len(a) == 0 and miner.pairs_dropped == 12


def test_bad_inputs():
    with pytest.raises(ValueError, match="cutoff must be > 0"):
        sm.NegativeSamplingMiner("distance", cutoff=0)
    with pytest.raises(ValueError, match="unknown sampling strategy"):
        sm.NegativeSamplingMiner("hardest")
    emb, y = _batch()
    emb[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        sm.NegativeSamplingMiner("uniform")(emb, y)


# ---------------------------------------------------------------- gradient variance
def test_gradient_variance_is_zero_without_noise_and_larger_for_close_negatives():
    a = torch.tensor([[1.0, 0, 0, 0]])
    p = torch.tensor([[0.9, 0.1, 0, 0]])
    close = torch.tensor([[0.98, 0.2, 0, 0]])  # D_an ≈ 0.2
    far = torch.tensor([[0.0, 1.0, 0, 0]])  # D_an ≈ 1.41
    assert sm.gradient_variance(a, p, close, 0.0) == pytest.approx(0.0, abs=1e-12)
    v_close = [sm.gradient_variance(a, p, close, s) for s in (0.05, 0.2)]
    v_far = [sm.gradient_variance(a, p, far, s) for s in (0.05, 0.2)]
    assert v_close[0] < v_close[1] and v_far[0] < v_far[1]
    assert v_close[0] > 5 * v_far[0]
    # ∂ℓ/∂f_n is a unit vector (h + z)/‖h + z‖ for an active triplet: total variance ≤ 1
    assert 0 < v_close[1] <= 1


def test_gradient_variance_tends_to_that_of_a_random_unit_vector_under_large_noise():
    a, p, n = torch.tensor([[1.0, 0, 0, 0]]), torch.tensor([[0.9, 0.1, 0, 0]]), torch.tensor([[0.0, 1.0, 0, 0]])
    assert sm.gradient_variance(a, p, n, 5.0, draws=4000) == pytest.approx(1.0, abs=0.05)


# ---------------------------------------------------------------- valid triplets per batch (report 002)
@pytest.mark.parametrize("p,k", [(2, 2), (3, 2), (2, 4), (5, 3), (8, 4)])
def test_pk_triplet_count_is_the_brute_force_count(p, k):
    from dml_utils.sampling import pk_triplet_count, valid_triplet_count

    labels = np.repeat(np.arange(p), k)
    assert valid_triplet_count(labels) == pk_triplet_count(p, k)
    # report 002's K²(K − 1)(S − 1) counts the triplets of one class's anchors only: a factor P short
    assert pk_triplet_count(p, k) == p * (k**2 * (k - 1) * (p - 1))


def test_valid_triplet_count_by_hand():
    from dml_utils.sampling import valid_triplet_count

    assert valid_triplet_count([0, 0, 1]) == 2  # (0,1,2), (1,0,2)
    assert valid_triplet_count([0, 1, 2]) == 0 and valid_triplet_count([4, 4, 4]) == 0


@pytest.mark.parametrize("batch,classes", [(2, 10), (8, 10), (32, 100), (64, 1000), (128, 10_000), (12, 12), (20, 5)])
def test_no_valid_triplet_closed_form_matches_monte_carlo(batch, classes):
    from dml_utils.sampling import no_valid_triplet_monte_carlo, no_valid_triplet_probability

    p = no_valid_triplet_probability(batch, classes)
    mc = no_valid_triplet_monte_carlo(batch, classes, trials=40_000, seed=1)
    assert abs(p - mc) <= 4 * np.sqrt(max(p * (1 - p), 1e-6) / 40_000) + 1e-4


def test_no_valid_triplet_by_hand():
    from dml_utils.sampling import no_valid_triplet_probability

    assert no_valid_triplet_probability(2, 10) == pytest.approx(0.9 + 0.1)  # two samples never form a triplet
    assert no_valid_triplet_probability(3, 2) == pytest.approx(0.0 + 0.25)  # 3 of 2 classes: only all-same fails
    with pytest.raises(ValueError, match="batch >= 2"):
        no_valid_triplet_probability(1, 10)


def test_the_distance_law_refuses_a_nan_distance_by_name():
    for f in (sm.hypersphere_distance_density, sm.hypersphere_distance_log_density, sm.hypersphere_distance_cdf):
        with pytest.raises(ValueError, match=r"d, the distances, holds NaN \(first at index \[1\]\)"):
            f(np.array([0.5, np.nan]), 8)
    assert sm.hypersphere_distance_density(np.array([0.0, 2.5]), 8).tolist() == [0.0, 0.0]  # outside (0, 2): 0
