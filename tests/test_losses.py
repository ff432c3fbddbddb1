"""Losses and distances written here, against plain loops, hand values and gradient checks."""

import math

import pytest
import torch
from pytorch_metric_learning.distances import CosineSimilarity, LpDistance
from pytorch_metric_learning.losses import ContrastiveLoss
from pytorch_metric_learning.miners import PairMarginMiner
from pytorch_metric_learning.reducers import MeanReducer

from dml_utils.losses import (
    ClampedEuclideanDistance,
    PairwiseOnlyMixin,
    PooledPairMeanReducer,
    SquaredHingeContrastiveLoss,
    YukawaLoss,
)
from dml_utils.pairs import pair_indices_tuple
from dml_utils.studies.yukawa_vs_contrastive import study as yc

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: 1e-5, torch.float64: 1e-12}


def loop_pair_loss(emb, a1, p, a2, n, pos_fn, neg_fn, eps=1e-7):
    """Plain Python: one pair at a time, Keras distance, mean over all pairs."""
    terms = []
    for i, j in zip(a1.tolist(), p.tolist()):
        d = math.sqrt(max(sum((float(x) - float(y)) ** 2 for x, y in zip(emb[i], emb[j])), eps))
        terms.append(pos_fn(d))
    for i, j in zip(a2.tolist(), n.tolist()):
        d = math.sqrt(max(sum((float(x) - float(y)) ** 2 for x, y in zip(emb[i], emb[j])), eps))
        terms.append(neg_fn(d))
    return sum(terms) / len(terms)


def yukawa_pos(d):
    return d**3


def yukawa_neg(d):
    return math.exp(-10 * d) / max(d, 1e-7)


def contrastive_pos(d):
    return d**2


def contrastive_neg(d):
    return max(1 - d, 0) ** 2


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "name,pos_fn,neg_fn", [("yukawa", yukawa_pos, yukawa_neg), ("contrastive", contrastive_pos, contrastive_neg)]
)
def test_pair_losses_match_plain_loop(dtype, name, pos_fn, neg_fn):
    torch.manual_seed(0)
    b = 16
    emb = (torch.randn(2 * b, 8, dtype=dtype) * 0.3).requires_grad_()
    same = torch.tensor([1, 0] * (b // 2))
    loss = yc.build_loss(name)(emb, None, pair_indices_tuple(same))
    expected = loop_pair_loss(emb.detach(), *pair_indices_tuple(same), pos_fn, neg_fn)
    assert loss.dtype == dtype
    assert loss.item() == pytest.approx(expected, rel=TOL[dtype])


def test_yukawa_hand_values():
    # one positive pair at D = 0.5, one negative pair at D = 0.2 (3-4-5 triangles scaled)
    emb = torch.tensor([[0.0, 0.0], [0.3, 0.4], [0.0, 0.0], [0.12, 0.16]], dtype=torch.float64)
    loss = YukawaLoss(distance=ClampedEuclideanDistance(), reducer=PooledPairMeanReducer())
    value = loss(emb, None, (torch.tensor([0]), torch.tensor([1]), torch.tensor([2]), torch.tensor([3])))
    assert value.item() == pytest.approx((0.5**3 + math.exp(-2.0) / 0.2) / 2, rel=1e-12)


def test_contrastive_equals_squared_hinge_formula_and_unsquared_pml():
    torch.manual_seed(1)
    emb = torch.randn(20, 4, dtype=torch.float64) * 0.4
    labels = torch.randint(0, 3, (20,))
    ours = SquaredHingeContrastiveLoss(distance=LpDistance(normalize_embeddings=False), reducer=MeanReducer())
    pml = ContrastiveLoss(distance=LpDistance(normalize_embeddings=False), reducer=MeanReducer())
    d = torch.cdist(emb, emb)
    same = labels[:, None] == labels[None, :]
    off = ~torch.eye(20, dtype=torch.bool)
    pos, neg = d[same & off], d[~same]
    assert ours(emb, labels).item() == pytest.approx(
        (pos**2).mean().item() + ((1 - neg).clamp_min(0) ** 2).mean().item(), rel=1e-10
    )
    # squaring is the only change from PML's own ContrastiveLoss
    assert pml(emb, labels).item() == pytest.approx(pos.mean().item() + (1 - neg).clamp_min(0).mean().item(), rel=1e-10)


@pytest.mark.parametrize(
    "distance", [LpDistance(), LpDistance(normalize_embeddings=False, power=2), CosineSimilarity()]
)
def test_pairwise_only_mixin_equals_pml_matrix_path(distance):
    class PairwiseContrastive(PairwiseOnlyMixin, ContrastiveLoss):
        pass

    torch.manual_seed(2)
    emb = torch.randn(24, 6, dtype=torch.float64)
    labels = torch.randint(0, 4, (24,))
    kw = dict(
        pos_margin=0.1 if not distance.is_inverted else 0.9,
        neg_margin=0.8 if not distance.is_inverted else 0.2,
        distance=distance,
        reducer=MeanReducer(),
    )
    assert PairwiseContrastive(**kw)(emb, labels).item() == pytest.approx(
        ContrastiveLoss(**kw)(emb, labels).item(), rel=1e-10
    )


def test_yukawa_finite_at_zero_distance():
    emb = torch.zeros(4, 3, requires_grad=True)  # every distance is 0
    idx = (torch.tensor([0]), torch.tensor([1]), torch.tensor([2]), torch.tensor([3]))
    for distance in (ClampedEuclideanDistance(), LpDistance(normalize_embeddings=False)):
        loss = YukawaLoss(distance=distance)(emb, None, idx)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(emb.grad).all()
        emb.grad = None


def test_gradcheck_float64():
    torch.manual_seed(3)
    emb = (torch.randn(8, 5, dtype=torch.float64) * 0.3).requires_grad_()
    idx = pair_indices_tuple(torch.tensor([1, 0, 1, 0]))
    for name in ("yukawa", "contrastive"):
        f = yc.build_loss(name)
        assert torch.autograd.gradcheck(lambda e: f(e, None, idx), (emb,))


def test_yukawa_composes_with_pml_miner_and_labels():
    torch.manual_seed(4)
    emb = torch.randn(32, 8, requires_grad=True)
    labels = torch.randint(0, 4, (32,))
    miner = PairMarginMiner(pos_margin=0.0, neg_margin=10.0, distance=ClampedEuclideanDistance())
    loss = YukawaLoss(distance=ClampedEuclideanDistance())(emb, labels, miner(emb, labels))
    loss.backward()
    assert torch.isfinite(loss) and loss.item() > 0 and emb.grad.abs().sum() > 0


def test_pooled_reducer_weights_pairs_not_kinds():
    # 3 positives with loss 0, 1 negative: pooled mean = neg/4; PML's MeanReducer would give 0 + neg
    emb = torch.tensor([[0.0], [0.0]] * 3 + [[0.0], [0.5]], dtype=torch.float64)
    idx = (torch.tensor([0, 2, 4]), torch.tensor([1, 3, 5]), torch.tensor([6]), torch.tensor([7]))
    dist = ClampedEuclideanDistance()
    pooled = SquaredHingeContrastiveLoss(distance=dist, reducer=PooledPairMeanReducer())(emb, None, idx)
    separate = SquaredHingeContrastiveLoss(distance=dist, reducer=MeanReducer())(emb, None, idx)
    neg = 0.5**2
    assert separate.item() == pytest.approx(3 * 1e-7 / 3 + neg, rel=1e-6)
    assert pooled.item() == pytest.approx((3 * 1e-7 + neg) / 4, rel=1e-6)


def test_clamped_distance_matrix_and_pairwise_agree():
    torch.manual_seed(5)
    x = torch.randn(10, 4, dtype=torch.float64)
    x[3] = x[2]
    dist = ClampedEuclideanDistance()
    mat = dist(x)
    pw = dist.pairwise_distance(
        x[:, None, :].expand(10, 10, 4).reshape(-1, 4), x[None].expand(10, 10, 4).reshape(-1, 4)
    )
    assert torch.allclose(mat.reshape(-1), pw, rtol=1e-10)
    assert mat[2, 3].item() == pytest.approx(1e-7**0.5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="similarity"):
        YukawaLoss(distance=CosineSimilarity())
    with pytest.raises(ValueError, match="decay"):
        YukawaLoss(decay=-1)
    with pytest.raises(ValueError, match="eps"):
        ClampedEuclideanDistance(eps=0)
    with pytest.raises(ValueError, match="unknown pair loss"):
        yc.build_loss("triplet")


# ---------------------------------------------------------------- batch-hard triplet (Hermans et al. 2017)
def _batch_hard_loop(emb, labels, margin, soft, squared, normalize, eps):
    """Hermans et al.'s batch-hard loss, one anchor at a time, in plain Python over the batch."""
    import math

    x = [list(map(float, row)) for row in emb]
    if normalize:
        x = [[v / math.sqrt(sum(u * u for u in row)) for v in row] for row in x]

    def dist(a, b):
        s = sum((u - v) ** 2 for u, v in zip(a, b))
        return s if squared else math.sqrt(s + eps)

    total = 0.0
    for a in range(len(x)):
        hardest_pos = max(dist(x[a], x[p]) for p in range(len(x)) if p != a and labels[p] == labels[a])
        hardest_neg = min(dist(x[a], x[n]) for n in range(len(x)) if labels[n] != labels[a])
        v = hardest_pos - hardest_neg
        total += math.log1p(math.exp(v)) if soft else max(margin + v, 0.0)
    return total / len(x)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "soft,squared,normalize",
    [
        (False, False, False),
        (True, False, False),
        (False, True, False),
        (True, True, False),
        (False, False, True),
        (True, False, True),
    ],
)
def test_batch_hard_is_hermans_loss(dtype, soft, squared, normalize):
    from dml_utils.losses import batch_hard_triplet

    g = torch.Generator().manual_seed(0)
    labels = torch.arange(4).repeat_interleave(3)  # P = 4 classes × K = 3
    emb = torch.randn(12, 5, generator=g, dtype=dtype) * 0.6
    miner, loss = batch_hard_triplet(margin=0.5, soft=soft, squared=squared, normalize=normalize)
    got = loss(emb, labels, miner(emb, labels))
    want = _batch_hard_loop(emb, labels.tolist(), 0.5, soft, squared, normalize, 1e-12)
    assert got.dtype == dtype
    assert got.item() == pytest.approx(want, rel=1e-5 if dtype == torch.float32 else 1e-12)
    assert len(miner(emb, labels)[0]) == 12  # one triplet per anchor: the mean is over all P·K anchors


def test_batch_hard_gradient_matches_finite_differences():
    from dml_utils.losses import batch_hard_triplet

    g = torch.Generator().manual_seed(1)
    labels = torch.arange(3).repeat_interleave(4)
    emb = torch.randn(12, 4, generator=g, dtype=torch.float64, requires_grad=True)
    for soft in (False, True):
        miner, loss = batch_hard_triplet(margin=2.0, soft=soft)
        triplets = miner(emb.detach(), labels)  # the choice of p*, n* is piecewise constant
        assert torch.autograd.gradcheck(lambda e: loss(e, labels, triplets), (emb,))


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("soft,value", [(False, 0.5), (True, math.log(2))])
def test_identical_descriptors_are_a_stationary_point_at_the_collapse_value(soft, value, normalize):
    """Collapse: every descriptor equal gives D(a, p*) = D(a, n*), so the loss sits at m (or
    ln 2) and its gradient with respect to every descriptor is exactly zero."""
    from dml_utils.losses import batch_hard_triplet

    labels = torch.arange(4).repeat_interleave(2)
    emb = torch.full((8, 6), 0.3, dtype=torch.float64, requires_grad=True)
    miner, loss = batch_hard_triplet(margin=0.5, soft=soft, normalize=normalize)
    out = loss(emb, labels, miner(emb, labels))
    out.backward()
    assert out.item() == pytest.approx(value, abs=1e-12)
    assert emb.grad.abs().max().item() == 0.0


def test_pml_defaults_are_not_hermans():
    """Why batch_hard_triplet sets its parts: PML's TripletMarginLoss defaults (margin 0.05,
    normalized embeddings, mean over non-zero losses only) give another number."""
    from pytorch_metric_learning.losses import TripletMarginLoss
    from pytorch_metric_learning.miners import BatchHardMiner

    from dml_utils.losses import batch_hard_triplet

    g = torch.Generator().manual_seed(2)
    labels = torch.arange(4).repeat_interleave(3)
    emb = torch.randn(12, 5, generator=g) * 3
    miner, loss = batch_hard_triplet(margin=0.05)
    default_miner = BatchHardMiner()
    assert TripletMarginLoss()(emb, labels, default_miner(emb, labels)).item() != pytest.approx(
        loss(emb, labels, miner(emb, labels)).item(), rel=1e-3
    )


@pytest.mark.parametrize("kwargs,match", [({"margin": 0.0}, "needs margin > 0"), ({"eps": -1.0}, "eps must be >= 0")])
def test_batch_hard_bad_settings(kwargs, match):
    from dml_utils.losses import batch_hard_triplet

    with pytest.raises(ValueError, match=match):
        batch_hard_triplet(**kwargs)
