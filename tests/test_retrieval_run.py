import numpy as np
import pytest
import torch
from pytorch_metric_learning.losses import MarginLoss, TripletMarginLoss

from dml_utils import class_disjoint, retrieval_run
from dml_utils.seeds import seed_everything


@pytest.mark.trains
def test_train_and_evaluate_records_step0_movement_and_curve(small_retrieval_cfg):
    cfg = small_retrieval_cfg
    data = class_disjoint.prepare(cfg)
    r = retrieval_run.train_and_evaluate(
        cfg, data, TripletMarginLoss(margin=0.1), None, seed=0, iterations=20, desc="t", progress=False
    )
    s = r["summary"]
    # the step-0 loss is the loss of the first training batch at the initial weights (eval mode)
    first = retrieval_run.fixed_batches(data.y_train, cfg, 1, 0)[0]
    seed_everything(0)  # the run's seed, as the run draws it (shifted under DML_SEED_OFFSET)
    net = retrieval_run.build_backbone(cfg, data).eval()
    with torch.no_grad():
        expect = float(
            TripletMarginLoss(margin=0.1)(
                net(torch.as_tensor(data.x_train[first])), torch.as_tensor(data.y_train[first])
            )
        )
    assert s["loss_step0"] == pytest.approx(expect, rel=1e-6)
    assert s["weight_move"] > 0 and len(r["step_loss"]) == 20 and [c["iteration"] for c in r["curve"]] == [10, 20]
    assert 0 <= s["map_at_r"] <= 1 and np.isfinite(s["ms_per_iteration"])
    with pytest.raises(ValueError, match="multiple of eval_every"):
        retrieval_run.train_and_evaluate(cfg, data, TripletMarginLoss(), None, 0, 15, desc="t", progress=False)


@pytest.mark.trains
def test_loss_parameters_train_at_their_own_rate(small_retrieval_cfg):
    cfg = small_retrieval_cfg
    data = class_disjoint.prepare(cfg)
    loss = MarginLoss(margin=0.2, beta=1.2, learn_beta=True, num_classes=10)
    retrieval_run.train_and_evaluate(cfg, data, loss, None, 0, 10, desc="t", track=False, progress=False, loss_lr=0.0)
    assert torch.all(loss.beta == 1.2)  # lr 0 for β: only the backbone moved
    retrieval_run.train_and_evaluate(cfg, data, loss, None, 0, 10, desc="t", track=False, progress=False, loss_lr=0.1)
    assert not torch.all(loss.beta == 1.2)


def test_baselines_one_untrained_row_per_seed_and_raw_pixels(small_retrieval_cfg):
    cfg = small_retrieval_cfg
    rows = retrieval_run.baselines(cfg, class_disjoint.prepare(cfg))
    assert [r["loss"] for r in rows] == ["untrained", "raw pixels"] and rows[0]["seed"] == 0
    assert all(0 <= r["map_at_r"] <= 1 and 0 <= r["val_map_at_r"] <= 1 for r in rows)
