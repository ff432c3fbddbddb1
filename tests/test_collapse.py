import math

import pytest
import torch
from training_outcomes import dying_relu_collapse_is_caught, gaussian_blobs_run, linear_run_is_not_collapsed, min_count

from dml_utils.collapse import LN2, CollapseMonitor, embedding_spread

# Measured over seeds 0-19 natively and under ATEN_CPU_CAPABILITY=default (scripts/training_test_rates.py).
CAUGHT = (40, 40)  # 20/20 native, 20/20 ATEN default
NOT_CALLED = (40, 40)  # 20/20 on both


@pytest.mark.trains
def test_a_run_made_to_collapse_is_caught_with_its_step_and_pinned_loss():
    """A ReLU output layer at SGD lr 0.3 kills its units: the loss sticks at the margin. The monitor
    catches it by step 20 and names the margin, over 8 seeds (as a count: see training_outcomes)."""
    h = gaussian_blobs_run(0, final_relu=True, lr=0.3)
    assert h.collapse[0]["step"] == 0 and h.collapse[0]["spread"] == 1.0 and not h.collapse[0]["collapsed"]
    assert sum(dying_relu_collapse_is_caught(s) for s in range(8)) >= min_count(CAUGHT, 8)


@pytest.mark.trains
def test_a_training_run_is_not_called_collapsed():
    h = gaussian_blobs_run(0, final_relu=False, lr=0.01)
    assert len(h.collapse) == 1 + 100 // 10
    assert sum(linear_run_is_not_collapsed(s) for s in range(8)) >= min_count(NOT_CALLED, 8)


@pytest.mark.trains
def test_monitoring_does_not_change_training():
    a = gaussian_blobs_run(0, final_relu=False, lr=0.01, monitor_every=1).step_loss
    b = gaussian_blobs_run(0, final_relu=False, lr=0.01, monitor_every=1000).step_loss
    assert a == b


def test_spread_measures():
    e = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    s = embedding_spread(e)
    assert s["mean_distance"] == pytest.approx((2**0.5 + 2 + 2**0.5) / 3)
    assert s["mean_cosine"] == pytest.approx((0 + -1 + 0) / 3)
    assert embedding_spread(torch.ones(4, 3) * 5, normalized=True) == {
        "mean_distance": 0.0,
        "mean_cosine": pytest.approx(1.0),
    }
    with pytest.raises(ValueError, match="at least two"):
        embedding_spread(torch.ones(1, 3))


def test_pinned_needs_a_full_window():
    m = CollapseMonitor(torch.nn.Linear(2, 2), torch.zeros(3, 2), pinned={"ln 2": LN2}, window=3, atol=1e-3)
    assert m.pinned_to([LN2, LN2]) is None
    assert m.pinned_to([1.0, LN2, LN2 + 1e-4, LN2]) == "ln 2"
    assert m.pinned_to([LN2, 0.7, LN2]) is None
    assert math.isclose(LN2, 0.6931471805599453)


def test_one_collapse_rule_read_by_the_monitor_the_plots_and_the_studies():
    import inspect

    from dml_utils import collapse
    from dml_utils.studies.batch_hard_collapse import figures

    assert inspect.signature(collapse.CollapseMonitor).parameters["spread_below"].default == collapse.SPREAD_BELOW
    assert inspect.signature(collapse.CollapseMonitor).parameters["cosine_above"].default == collapse.COSINE_ABOVE
    assert inspect.signature(figures.collapse_traces).parameters["spread_below"].default == collapse.SPREAD_BELOW
    assert collapse.spread_collapsed(0.049) and not collapse.spread_collapsed(0.05)
    assert collapse.cone_collapsed(0.91) and not collapse.cone_collapsed(0.9)
