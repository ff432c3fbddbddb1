import numpy as np
import pytest

from dml_utils.evaluate import (best_threshold, distance_stats, pair_distances, pair_verification_accuracy,
                                paired_comparison, retrieval_metrics)


def test_pair_verification_accuracy_and_distances():
    emb = np.array([[0, 0], [0.3, 0.4], [3, 4], [0, 0]], dtype=np.float32)
    d = pair_distances(emb, np.array([[0, 1], [0, 2], [0, 3]]))
    np.testing.assert_allclose(d, [0.5, 5.0, 1e-7**0.5], rtol=1e-6)
    # D < 0.5 means "same": pair 0 (D = 0.5) is called different
    assert pair_verification_accuracy(d, np.array([1, 0, 1])) == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        pair_verification_accuracy(d, np.array([1, 0]))


def test_best_threshold_is_optimal():
    rng = np.random.default_rng(0)
    d = np.concatenate([rng.normal(0.4, 0.2, 300), rng.normal(0.9, 0.2, 300)])
    same = np.r_[np.ones(300), np.zeros(300)].astype(int)
    thr = best_threshold(d, same)
    brute = max(pair_verification_accuracy(d, same, t) for t in np.r_[d - 1e-9, d + 1e-9])
    assert pair_verification_accuracy(d, same, thr) == pytest.approx(brute)


def test_distance_stats_filter_only_positives():
    d = np.array([0.1, 0.3, 0.6, 1.0, 2.0])
    s = distance_stats(d, np.array([1, 1, 1, 0, 0]), pos_below=0.4)
    assert s["pos_mean"] == pytest.approx(0.2) and s["pos_kept"] == pytest.approx(2 / 3)
    assert s["neg_mean"] == pytest.approx(1.5) and s["neg_std"] == pytest.approx(0.5)


def test_retrieval_metrics_perfect_and_random():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 10)
    centres = np.eye(4) * 10
    good = retrieval_metrics(centres[labels] + rng.normal(0, 0.1, (40, 4)), labels)
    assert good["p_at_1"] == 1.0 and good["map_at_r"] == pytest.approx(1.0)
    bad = retrieval_metrics(rng.normal(size=(40, 4)), labels)
    assert bad["map_at_r"] < 0.6


def test_paired_comparison():
    out = paired_comparison([1.0, 2.0, 3.0, 4.0], [0.5, 1.4, 2.6, 3.3])
    assert out["mean_diff"] == pytest.approx(0.55) and out["wins"] == 4 and out["t_p"] < 0.01
