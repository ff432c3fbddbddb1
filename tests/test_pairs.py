import numpy as np
import pytest

from dml_utils.pairs import (
    alternating_pairs,
    best_threshold,
    distance_stats,
    pair_distances,
    pair_loader,
    pair_verification_accuracy,
)


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


def test_alternating_pairs_follow_the_report():
    y = np.repeat(np.arange(4), [5, 7, 6, 9])
    pairs, same = alternating_pairs(y, seed=3, shuffle=False)
    n = 5 - 1
    assert len(pairs) == 2 * 4 * n
    assert same[::2].all() and not same[1::2].any()  # positive, negative, positive, ...
    assert (y[pairs[same == 1, 0]] == y[pairs[same == 1, 1]]).all()
    assert (y[pairs[same == 0, 0]] != y[pairs[same == 0, 1]]).all()
    first_of_class0 = np.flatnonzero(y == 0)
    assert pairs[0].tolist() == [first_of_class0[0], first_of_class0[1]]
    p2, s2 = alternating_pairs(y, seed=3)
    p3, s3 = alternating_pairs(y, seed=3)
    np.testing.assert_array_equal(p2, p3)
    assert sorted(map(tuple, p2)) == sorted(map(tuple, pairs))
    with pytest.raises(ValueError, match="two samples"):
        alternating_pairs(np.array([0, 1, 1]), seed=0)


def test_pair_loader_covers_every_pair_and_keeps_last_batch():
    import torch

    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    pairs = np.array([[i, (i + 1) % 10] for i in range(10)])
    same = np.arange(10) % 2
    loader = pair_loader(x, pairs, same, 4, torch.Generator().manual_seed(0))
    batches = list(loader)
    assert [len(b[2]) for b in batches] == [4, 4, 2]
    firsts = sorted(int(v) for b in batches for v in b[0][:, 0])
    assert firsts == sorted((x[:, 0]).astype(int).tolist())
    again = list(pair_loader(x, pairs, same, 4, torch.Generator().manual_seed(0)))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(batches, again))
    with pytest.raises(ValueError, match="batch_size"):
        pair_loader(x, pairs, same, 1, torch.Generator())


def test_a_pair_loss_refuses_a_batch_whose_items_and_labels_do_not_pair_up():
    import torch
    from pytorch_metric_learning.losses import ContrastiveLoss

    from dml_utils.pairs import pair_loss

    model = torch.nn.Linear(4, 2)
    of = pair_loss(ContrastiveLoss())
    x = torch.randn(8, 4)
    assert torch.isfinite(of(model, (x, x + 1, torch.ones(8)))).all()
    with pytest.raises(ValueError, match="got 8 first, 8 second and 6 labels"):
        of(model, (x, x + 1, torch.ones(6)))
