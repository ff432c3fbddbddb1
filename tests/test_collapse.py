import math

import numpy as np
import pytest
import torch
from pytorch_metric_learning.distances import LpDistance
from pytorch_metric_learning.losses import TripletMarginLoss
from pytorch_metric_learning.miners import BatchHardMiner

from dml_utils.collapse import LN2, CollapseMonitor, embedding_spread
from dml_utils.train import fit, labelled_loss, single_loss_step


def _run(final_relu: bool, lr: float, monitor_every: int = 10):
    """Batch-hard triplet (margin 0.5, plain distances) on 8 Gaussian classes. With a ReLU output
    and SGD at lr 0.3 the units die and every embedding becomes 0: the loss is pinned at the margin."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(8), 16)
    x = torch.tensor((rng.normal(size=(8, 32))[y] * 0.3 + rng.normal(size=(len(y), 32))).astype(np.float32))
    layers = [torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 16)] + ([torch.nn.ReLU()] if final_relu else [])
    model = torch.nn.Sequential(*layers)
    loss = TripletMarginLoss(margin=0.5, distance=LpDistance(normalize_embeddings=False))
    step = single_loss_step(model, labelled_loss(loss, BatchHardMiner()), torch.optim.SGD(model.parameters(), lr=lr))
    monitor = CollapseMonitor(model, x, every=monitor_every, pinned={"margin": 0.5, "ln 2": LN2}, window=20)
    return fit(step, [(x, torch.tensor(y))] * 10, passes=10, monitor=monitor, progress=False)


def test_a_run_made_to_collapse_is_caught_with_its_step_and_pinned_loss():
    h = _run(final_relu=True, lr=0.3)
    assert h.collapsed_at is not None and h.collapsed_at["step"] <= 20 and h.collapsed_at["spread"] < 0.05
    assert h.collapse[0]["step"] == 0 and h.collapse[0]["spread"] == 1.0 and not h.collapse[0]["collapsed"]
    later = [r for r in h.collapse if r["step"] >= 40]
    assert later and all(r["pinned_to"] == "margin" and r["collapsed"] for r in later)
    assert h.step_loss[-1] == pytest.approx(0.5, abs=1e-6)


def test_a_training_run_is_not_called_collapsed():
    h = _run(final_relu=False, lr=0.01)
    assert h.collapsed_at is None and len(h.collapse) == 1 + 100 // 10
    assert all(r["spread"] > 0.5 for r in h.collapse)


def test_monitoring_does_not_change_training():
    a = _run(final_relu=False, lr=0.01, monitor_every=1).step_loss
    b = _run(final_relu=False, lr=0.01, monitor_every=1000).step_loss
    assert a == b


def test_spread_measures():
    e = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    s = embedding_spread(e)
    assert s["mean_distance"] == pytest.approx((2 ** 0.5 + 2 + 2 ** 0.5) / 3)
    assert s["mean_cosine"] == pytest.approx((0 + -1 + 0) / 3)
    assert embedding_spread(torch.ones(4, 3) * 5, normalized=True) == {"mean_distance": 0.0, "mean_cosine": pytest.approx(1.0)}
    with pytest.raises(ValueError, match="at least two"):
        embedding_spread(torch.ones(1, 3))


def test_pinned_needs_a_full_window():
    m = CollapseMonitor(torch.nn.Linear(2, 2), torch.zeros(3, 2), pinned={"ln 2": LN2}, window=3, atol=1e-3)
    assert m.pinned_to([LN2, LN2]) is None
    assert m.pinned_to([1.0, LN2, LN2 + 1e-4, LN2]) == "ln 2"
    assert m.pinned_to([LN2, 0.7, LN2]) is None
    assert math.isclose(LN2, 0.6931471805599453)
