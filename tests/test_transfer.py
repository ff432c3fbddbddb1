import numpy as np
import pytest
import torch

from dml_utils import transfer
from dml_utils.evaluate import CLASS_DISJOINT, embed
from dml_utils.models import MLPEmbedding, SmallConvNet


def test_the_participation_ratio_counts_the_dimensions_points_spread_over():
    rng = np.random.default_rng(0)
    line = np.outer(rng.choice([-1.0, 1.0], 200) * rng.uniform(1, 2, 200), rng.normal(size=16))
    assert transfer.participation_ratio(line + 1e-9 * rng.normal(size=line.shape)) == pytest.approx(1.0, abs=1e-3)
    flat = np.zeros((4000, 32))
    flat[:, :8] = rng.normal(size=(4000, 8))  # isotropic in 8 of 32 dimensions
    assert transfer.participation_ratio(flat) == pytest.approx(8.0, rel=0.05)
    with pytest.raises(ValueError, match="at least 2 points"):
        transfer.participation_ratio(np.ones((1, 4)))


def test_per_class_map_at_r_is_one_for_a_perfect_embedding_and_averages_to_the_protocols():
    y = np.repeat(np.arange(3), 10)
    perfect = np.eye(3)[y] + 1e-3 * np.random.default_rng(0).normal(size=(30, 3))
    assert transfer.per_class_map_at_r(perfect, y) == pytest.approx({0: 1.0, 1: 1.0, 2: 1.0})
    e = np.random.default_rng(1).normal(size=(30, 8))
    per = transfer.per_class_map_at_r(e, y)
    assert sorted(per) == [0, 1, 2] and len(set(per.values())) > 1
    assert np.mean(list(per.values())) == pytest.approx(CLASS_DISJOINT.map_at_r(e, y))  # equal class sizes


def test_features_are_the_trunk_before_the_head_or_none():
    net = SmallConvNet(embedding_size=8, image_size=28)
    x = np.random.default_rng(0).normal(size=(5, 28, 28)).astype(np.float32)
    f = transfer.features(net, x)
    assert f.shape == (5, 64 * 7 * 7)
    assert np.allclose(net.head(torch.as_tensor(f)).detach().numpy(), embed(net, x), atol=1e-5)
    assert transfer.features(MLPEmbedding(784, (8,)), x) is None


@pytest.mark.trains
def test_a_transfer_run_starts_at_the_untrained_net_and_ends_as_the_main_run(small_retrieval_cfg):
    """Step 0 is the untrained net of the run's seed; the training is the main run's (same seed, same
    batches), so the last check's unseen MAP@R equals the main run's, bit for bit."""
    from dml_utils.config import seed_everything
    from dml_utils.retrieval_run import build_backbone
    from dml_utils.studies.circle_vs_triplet import study as ct
    from dml_utils.studies.circle_vs_triplet.plan_transfer import transfer_plan, transfer_task

    cfg = small_retrieval_cfg
    data = ct.prepare(cfg)
    spec = next(s for s in transfer_plan(cfg) if s["variant"] == ct.MAIN_VARIANT)
    out = transfer_task(cfg, data, spec)
    seed_everything(spec.seed)
    untrained = build_backbone(cfg, data)
    assert out["curve"][0]["iteration"] == 0
    assert out["curve"][0]["unseen_map_at_r"] == CLASS_DISJOINT.map_at_r(embed(untrained, data.x_test), data.y_test)
    main = ct.run(cfg, data, spec["loss"], spec["margin"], spec.seed, spec["iterations"], progress=False)
    assert out["summary"]["unseen_map_at_r_last"] == main["summary"]["map_at_r"]
    assert [r["iteration"] for r in out["curve"]] == [0, 10, 20]
    s = out["summary"]
    assert s["unseen_map_at_r_plateau"] == pytest.approx(np.mean([r["unseen_map_at_r"] for r in out["curve"][1:]]))
    assert sorted(s["unseen_per_class_step0"]) == s["unseen_classes"] == [4, 6, 8, 9]


def test_a_variant_that_changes_the_data_is_run_on_its_own_prepared_data(small_retrieval_cfg):
    from dml_utils.studies.circle_vs_triplet import study as ct
    from dml_utils.studies.circle_vs_triplet.plan_transfer import data_overrides, transfer_data, transfer_plan

    cfg = small_retrieval_cfg
    data = ct.prepare(cfg)
    by = {s["variant"]: s for s in transfer_plan(cfg)}
    assert data_overrides(by[ct.MAIN_VARIANT]) == ()
    assert transfer_data(cfg, data, ()) is data
    split = by["unseen 2, 4, 6, 8"]
    assert data_overrides(split) == (("train_classes", (0, 1, 3, 5, 7, 9)),)
    other = transfer_data(cfg, data, data_overrides(split))
    assert sorted(set(other.y_test.tolist())) == [2, 4, 6, 8] and sorted(set(other.y_train.tolist())) == [
        0,
        1,
        3,
        5,
        7,
        9,
    ]
