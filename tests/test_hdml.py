import math

import numpy as np
import pytest
import torch
from training_outcomes import hdml_plain_step_lowers_J_m, min_count

from dml_utils import hdml as H
from dml_utils.config import seed_everything
from dml_utils.data import batch_loader, load_dataset
from dml_utils.sampling import TupleBatchSampler
from dml_utils.train import fit

# Measured over seeds 0-19 natively and under ATEN_CPU_CAPABILITY=default (scripts/training_test_rates.py).
J_M_DROPS = (40, 40)  # 20/20 native, 20/20 ATEN default


# ---------------------------------------------------------------- eq. 1
def test_pull_negatives_by_hand():
    a, p, n = torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, 0.0]]), torch.tensor([[3.0, 0.0]])
    # d+ = 1, d- = 3: λ = 1 keeps n, λ = 0 puts it at the positive distance, λ = 0.5 halfway (d̂ = 2)
    assert torch.allclose(H.pull_negatives(a, p, n, 1.0), n, atol=1e-6)
    assert torch.allclose(H.pull_negatives(a, p, n, 0.0), torch.tensor([[1.0, 0.0]]), atol=1e-6)
    assert torch.allclose(H.pull_negatives(a, p, n, 0.5), torch.tensor([[2.0, 0.0]]), atol=1e-6)
    # off-axis: the direction is kept, the distance becomes d̂
    n2 = torch.tensor([[0.0, 4.0]])
    assert torch.allclose(H.pull_negatives(a, p, n2, 0.25), torch.tensor([[0.0, 1.75]]), atol=1e-6)


def test_pull_keeps_negatives_that_are_already_hard():
    a, p, n = torch.tensor([[0.0, 0.0]]), torch.tensor([[2.0, 0.0]]), torch.tensor([[1.0, 0.0]])
    assert torch.equal(H.pull_negatives(a, p, n, 0.0), n)  # d+ ≥ d-: the official mask keeps z⁻


def test_pull_is_finite_where_the_official_code_divides_by_zero():
    # negative equal to the anchor: the official sqrt has an infinite derivative at 0 and divides 0 by 0
    a = torch.zeros(1, 3, requires_grad=True)
    n = torch.zeros(1, 3, requires_grad=True)
    p = torch.ones(1, 3)
    out = H.pull_negatives(a, p, n, 0.3)
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(a.grad).all() and torch.isfinite(n.grad).all()
    # and the official form really is NaN there (no ε: 0 · (x / 0))
    d = torch.sqrt(((a - n) ** 2).sum(1, keepdim=True))
    assert torch.isnan(a + (n - a) * (1.0 / d)).all()


# ---------------------------------------------------------------- the losses, against the official formulas
def test_triplet_J_is_the_official_sum_of_squared_hinges():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(12, 5, generator=g)
    labels = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3, 1, 2, 3, 0])
    a, p, n = z[:4], z[4:8], z[8:]
    want = torch.relu(((a - p) ** 2).sum(1) - ((a - n) ** 2).sum(1) + 1.0).sum()
    got = H.triplet_J(1.0)(z, labels, H.triplet_indices(4))
    assert torch.allclose(got, want, rtol=1e-5)


def test_npair_J_is_tf_npairs_loss():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(8, 5, generator=g)
    labels = torch.tensor([3, 1, 7, 5, 3, 1, 7, 5])
    a, p = z[:4], z[4:]
    xent = torch.nn.functional.cross_entropy(a @ p.T, torch.arange(4))
    want = xent + 0.25 * 3e-3 * ((a**2).sum(1).mean() + (p**2).sum(1).mean())
    r = torch.arange(4)
    got = H.npair_J(3e-3)(z, labels, (r, r + 4, r[:0], r[:0]))
    assert torch.allclose(got, want, rtol=1e-5)


def test_npair_synthetic_J_scores_each_anchor_against_its_own_candidates():
    g = torch.Generator().manual_seed(2)
    a, c = torch.randn(3, 4, generator=g), torch.randn(9, 4, generator=g)
    terms = []
    for i in range(3):  # the official per-anchor loop
        logits = a[i : i + 1] @ c[3 * i : 3 * i + 3].T
        terms.append(torch.nn.functional.cross_entropy(logits, torch.tensor([i])))
    want = torch.stack(terms).mean() + 0.25 * 1e-2 * ((a**2).sum(1).mean() + (c**2).sum(1).mean())
    assert torch.allclose(H.npair_synthetic_J(a, c, 1e-2), want, rtol=1e-5)
    with pytest.raises(ValueError, match="N² = 9"):
        H.npair_synthetic_J(a, c[:8])


def test_weight_decay_skips_batch_norm():
    net = H.HDMLNet(torch.nn.Identity(), 3, 2)
    with torch.no_grad():
        net.bn.weight.fill_(10.0)
        net.fc.weight.fill_(1.0)
        net.fc.bias.fill_(2.0)
    assert float(H.weight_decay(net, 0.1).detach()) == pytest.approx(0.1 * (6 * 1.0 + 2 * 4.0) / 2)


def test_block_mean_is_the_official_collector():
    m = H.BlockMean(init=1e6, block=3)
    for v in (1.0, 2.0):
        m.update(v)
        assert m.value == 1e6  # no block completed yet
    m.update(6.0)
    assert m.value == 3.0
    m.update(100.0)
    assert m.value == 3.0  # the last completed block, not a running mean
    with pytest.raises(FloatingPointError):
        m.update(float("nan"))


# ---------------------------------------------------------------- batches
def test_tuple_batches_layout():
    labels = np.repeat(np.arange(6), 5)
    for kind, rows in (("triplet", 3), ("npair", 2)):
        s = TupleBatchSampler(labels, kind, 4, 20, seed=0)
        for b in s:
            lab = labels[b].reshape(rows, 4)
            assert len(set(lab[0])) == 4 and (lab[0] == lab[1]).all()  # distinct classes, anchor and positive alike
            assert len(set(b)) == len(b)  # no image twice
            if kind == "triplet":
                assert (lab[2] != lab[0]).all()


@pytest.mark.parametrize("n", [2, 3, 5, 6])
def test_npair_batches_of_any_n_the_classes_allow(n):
    labels = np.repeat(np.arange(6), 3)
    assert all(len(b) == 2 * n for b in TupleBatchSampler(labels, "npair", n, 3))


def test_tuple_batches_that_cannot_be_formed_say_why():
    labels = np.array([0, 0, 1, 1, 2, 3])  # two classes with a pair
    with pytest.raises(ValueError, match="only 2 classes here have two: lower the tuples per batch to <= 2"):
        TupleBatchSampler(labels, "npair", 3, 1)
    with pytest.raises(ValueError, match="N >= 2"):
        TupleBatchSampler(labels, "npair", 1, 1)
    with pytest.raises(ValueError, match="unknown tuple kind"):
        TupleBatchSampler(labels, "quadruplet", 2, 1)


def test_unknown_class_id_is_an_error_not_a_nan():
    net = H.hdml_net("convnet", 8, (28, 28))
    h = H.HDML(net, [0, 2, 5])
    assert h.class_index(torch.tensor([5, 0, 2])).tolist() == [2, 0, 1]
    with pytest.raises(ValueError, match=r"labels \[3, 99\] are not among the classifier's 3"):
        h.class_index(torch.tensor([0, 99, 3]))


# ---------------------------------------------------------------- the step on the engine
def _data(n=600):
    ds = load_dataset("fashion-mnist")
    keep = np.flatnonzero(np.isin(ds.y_train, [0, 1, 2, 3, 5, 7]))[:n]
    return ds.x_train[keep], ds.y_train[keep]


def _setup(loss, lrs=None, seed=0):
    seed_everything(seed)
    x, y = _data()
    net = H.hdml_net("convnet", 16, x.shape[1:])
    h = H.HDML(net, np.unique(y), H.HDMLSettings(loss=loss, block=4))
    return x, y, net, h, H.hdml_step(net, h, lrs or H.LearningRates(metric=1e-3))


def _state(m):
    return {k: v.detach().clone() for k, v in m.state_dict().items() if v.is_floating_point()}


def _moved(before, m):
    return any(not torch.equal(before[k], v) for k, v in m.state_dict().items() if k in before and "running" not in k)


@pytest.mark.trains
@pytest.mark.parametrize("loss", H.LOSSES)
@pytest.mark.parametrize("frozen", ["metric", "generator", "softmax"])
def test_each_loss_moves_only_its_own_group(loss, frozen):
    """With one group's learning rate at 0 that group stays put although the other two losses
    reach it in the graph (J_gen and J_cls through the net's features; J_metric through the
    generator; J_soft through the classifier); the other two groups move."""
    lrs = H.LearningRates(**{**{"metric": 1e-3, "generator": 1e-2, "softmax": 1e-3}, frozen: 0.0})
    x, y, net, h, step = _setup(loss, lrs)
    groups = {"metric": net, "generator": h.generator, "softmax": h.classifier}
    before = {k: _state(m) for k, m in groups.items()}
    fit(step, batch_loader(x, y, TupleBatchSampler(y, loss, 4, 2, seed=0)), 1, progress=False)
    for k, m in groups.items():
        assert _moved(before[k], m) == (k != frozen), k


@pytest.mark.trains
def test_the_engine_gives_each_group_only_its_own_loss_gradient():
    x, y, net, h, step = _setup("triplet")
    b = next(iter(TupleBatchSampler(y, "triplet", 4, 1, seed=0)))
    batch = (torch.as_tensor(x[b]), torch.as_tensor(y[b]))
    torch.manual_seed(0)
    want = torch.autograd.grad(h.losses(net, batch)["J_gen"], list(h.generator.parameters()))
    h.j_avg, h.j_gen = H.BlockMean(1e6, 4), H.BlockMean(1e6, 4)
    captured = {}
    gen_opt = step.updates[1].optimizer
    orig = gen_opt.step
    gen_opt.step = lambda *a, **k: (
        captured.setdefault("g", [p.grad.clone() for p in h.generator.parameters()]) and orig()
    )
    torch.manual_seed(0)
    fit(step, [batch], 1, progress=False)
    for g_engine, g_alone in zip(captured["g"], want):
        assert torch.allclose(g_engine, g_alone, rtol=1e-4, atol=1e-6)


@pytest.mark.trains
@pytest.mark.parametrize("loss", H.LOSSES)
def test_500_steps_on_fashion_mnist_stay_finite_and_follow_the_official_schedule(loss):
    seed_everything(0)
    x, y = _data(3000)
    net = H.hdml_net("convnet", 32, x.shape[1:])
    h = H.HDML(net, np.unique(y), H.HDMLSettings(loss=loss))  # the official settings, block 64
    step = H.hdml_step(net, h, H.LearningRates(metric=1e-3))
    hist = fit(step, batch_loader(x, y, TupleBatchSampler(y, loss, 6, 500, seed=0)), 1, progress=False)
    assert hist.steps == 500
    for k, v in hist.losses.items():
        assert np.isfinite(v).all(), k
    for m in (net, h.generator, h.classifier):
        assert all(torch.isfinite(p).all() for p in m.parameters())
    lam = np.asarray(hist.losses["hardness"])
    # 64 steps at J_avg = 10⁶, then e^{−α / mean of the first 64 weighted J_m}
    assert np.allclose(lam[:64], math.exp(-90 / 1e6))
    assert lam[64] == pytest.approx(math.exp(-90 / np.mean(hist.losses["J_m_weighted"][:64])), rel=1e-6)
    w = np.asarray(hist.losses["balance"])
    assert np.allclose(w[:64], math.exp(-1e4 / 1e6))
    assert w[64] == pytest.approx(math.exp(-1e4 / np.mean(hist.losses["J_gen"][:64])), rel=1e-6)
    assert hist.losses["J_metric"][0] == pytest.approx(
        w[0] * hist.losses["J_m"][0] + (1 - w[0]) * hist.losses["J_syn"][0], rel=1e-5
    )


@pytest.mark.trains
def test_plain_step_trains_the_same_J_m():
    x, y, net, h, _ = _setup("npair")
    step = H.hdml_step(net, h, H.LearningRates(metric=1e-3), apply=False)
    hist = fit(step, batch_loader(x, y, TupleBatchSampler(y, "npair", 6, 2, seed=0)), 1, progress=False)
    assert list(hist.losses) == ["J_m"] and np.isfinite(hist.step_loss).all()
    # that 100 such steps lower J_m is an outcome of training: a count over seeds (training_outcomes)
    assert sum(hdml_plain_step_lowers_J_m(s) for s in range(4)) >= min_count(J_M_DROPS, 4)


def test_settings_refuse_impossible_values():
    with pytest.raises(ValueError, match="unknown loss"):
        H.HDMLSettings(loss="contrastive")
    with pytest.raises(ValueError, match="lam must be in"):
        H.HDMLSettings(lam=2)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        H.HDMLSettings(alpha=0)


def test_split_is_the_same_network_and_weights():
    from dml_utils.models import SmallConvNet

    torch.manual_seed(0)
    net = SmallConvNet(8, image_size=12)
    x = torch.randn(5, 12, 12)
    before = net(x)
    split = H.split(net, (12, 12))
    assert torch.equal(split(x), before) and split.fc is net.head and isinstance(split.bn, torch.nn.Identity)
    with pytest.raises(TypeError, match="cannot split Linear"):
        H.split(torch.nn.Linear(3, 2), (3,))


def test_batch_tuples_cut_a_class_balanced_batch_into_hdml_layouts():
    labels = torch.tensor([5, 5, 5, 2, 2, 2, 9, 9, 9])
    a, p = H.BatchTuples("npair", 0)(labels).chunk(2)
    assert a.tolist() == [3, 0, 6] and p.tolist() == [4, 1, 7]  # first and second image of each class, ascending
    rows = H.BatchTuples("triplet", 0)(labels)
    a, p, n = rows.chunk(3)
    assert sorted(a.tolist()) == list(range(9))  # every image once an anchor
    assert (labels[a] == labels[p]).all() and (a != p).all() and (labels[a] != labels[n]).all()
    again = H.BatchTuples("triplet", 0)(labels)
    assert torch.equal(rows, again)  # the same seed, the same negatives
    negatives = {tuple(H.BatchTuples("triplet", s)(labels)[18:].tolist()) for s in range(5)}
    assert len(negatives) > 1  # other seeds, other negatives


def test_batch_tuples_that_cannot_be_formed_say_why():
    with pytest.raises(ValueError, match="need >= 2 classes with >= 2 images each.*samples_per_class >= 2"):
        H.BatchTuples("npair", 0)(torch.tensor([0, 0, 1]))
    with pytest.raises(ValueError, match="need >= 2 classes"):
        H.BatchTuples("triplet", 0)(torch.tensor([4, 4, 4]))
    with pytest.raises(ValueError, match="unknown loss 'lifted'"):
        H.BatchTuples("lifted", 0)


@pytest.mark.parametrize("loss", H.LOSSES)
def test_losses_on_rows_equal_losses_on_the_batch_cut_into_tuples(loss):
    from dml_utils.models import SmallConvNet

    torch.manual_seed(0)
    net = H.split(SmallConvNet(8, image_size=12), (12, 12)).double()
    parts = H.HDML(net, range(3), H.HDMLSettings(loss=loss, weight_decay=0.0)).double()
    parts.j_avg.value = parts.j_gen.value = 50.0  # eq. 1 and eq. 2 at work
    x = torch.randn(9, 12, 12, dtype=torch.float64)
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2])
    rows = H.BatchTuples(loss, 0)(labels)
    parts.eval()  # the generator's batch norm on running statistics: the two calls see the same rows anyway
    by_rows = parts.losses(net, (x, labels), rows)
    by_batch = parts.losses(net, (x[rows], labels[rows]))
    for k in ("J_metric", "J_gen", "J_cls", "J_syn"):
        assert torch.allclose(by_rows[k], by_batch[k]), k
    plain = H.plain_losses(parts, net, (x, labels), rows)["J_m"]
    assert torch.allclose(plain, H.plain_losses(parts, net, (x[rows], labels[rows]))["J_m"])


def test_repeated_rows_give_the_same_gradients_run_after_run():
    """A triplet layout repeats images; y[rows]'s backward accumulates them in a nondeterministic
    order on CPU (measured: 2 different gradients in 20 passes), index_select's does not."""
    from dml_utils.models import SmallConvNet

    torch.manual_seed(0)
    net = H.split(SmallConvNet(8, image_size=12), (12, 12))
    parts = H.HDML(net, range(4), H.HDMLSettings(loss="triplet", weight_decay=0.0))
    parts.j_avg.value = parts.j_gen.value = 50.0
    x, labels = torch.randn(16, 12, 12), torch.arange(4).repeat_interleave(4)
    rows = H.BatchTuples("triplet", 0)(labels)
    seen = set()
    for _ in range(10):
        net.zero_grad()
        parts.losses(net, (x, labels), rows)["J_metric"].backward()
        seen.add(b"".join(p.grad.numpy().tobytes() for p in net.parameters()))
    assert len(seen) == 1


def test_npair_rows_are_the_pairs_pml_takes_from_the_same_batch():
    """06 compares HDML + N-pair with the registry's N-pair (PML's NPairsLoss on the whole P × K
    batch): without the embedding penalty both give the same J on the same batch."""
    g = torch.Generator().manual_seed(0)
    labels = torch.tensor([3, 1, 3, 7, 1, 7, 3, 1, 7, 3, 1, 7])
    emb = torch.randn(12, 6, generator=g, dtype=torch.float64)
    whole = H.npair_J(l2_reg=0.0)(emb, labels)
    rows = H.BatchTuples("npair", 0)(labels)
    n = len(rows) // 2
    r = torch.arange(n)
    empty = r[:0]
    cut = H.npair_J(l2_reg=0.0)(emb[rows], labels[rows], (r, r + n, empty, empty))
    assert torch.allclose(whole, cut)
