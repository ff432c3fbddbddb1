import numpy as np
import pytest
import torch

from dml_utils import circle_vs_triplet as ct
from dml_utils.config import ConfigError, config
from dml_utils.data import long_tailed_counts
from dml_utils.evaluate import retrieval_metrics, similarity_stats
from dml_utils.models import SmallConvNet, resnet18_embedding

NB = "01_circle_vs_triplet_margin"


def test_build_loss_and_miner_errors():
    with pytest.raises(ValueError, match="unknown loss 'arcface'"):
        ct.build_loss("arcface", 0.4)
    with pytest.raises(ValueError, match="margin must be > 0"):
        ct.build_loss("circle", 0.0)
    with pytest.raises(ValueError, match="unknown miner"):
        ct.build_miner("hardest")
    assert ct.build_miner("none") is None


@pytest.mark.parametrize("kwargs,match", [
    ({"batch_size": 30}, "batch_size 30 != classes_per_batch 4 × samples_per_class 8"),
    ({"circle_margin": -0.1}, "circle_margin must be > 0"),
    ({"triplet_margins": [0.1, 0.0]}, "triplet_margins"),
    ({"iterations": 55}, "multiple of eval_every"),
    ({"profile": "gpu"}, "unknown profile"),
])
def test_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        config(NB, **kwargs)


def test_circle_boundary_inverts_above_half():
    assert not ct.circle_boundary(0.4)["inverted"] and ct.circle_boundary(0.6)["inverted"]
    b = ct.circle_boundary(0.7)
    assert b["delta_n"] > b["delta_p"] and b["O_p"] == pytest.approx(1.7) and b["O_n"] == pytest.approx(-0.7)


def test_circle_loss_at_m1_gives_no_gradient_where_m04_does():
    """Why a circle model with m = 1 never trains: with similar embeddings (as at initialization)
    every logit γ·α·(s − Δ) is very negative, softplus ≈ 0 and the gradient vanishes."""
    torch.manual_seed(0)
    base = torch.randn(1, 16)
    emb = (base + 0.3 * torch.randn(24, 16)).requires_grad_()  # cosine similarities ≈ 0.9
    labels = torch.arange(24) // 6
    grads = {}
    for m in (0.4, 1.0):
        loss = ct.build_loss("circle", m)(emb, labels)
        (g,) = torch.autograd.grad(loss, emb)
        grads[m] = (loss.item(), g.abs().max().item())
    assert grads[0.4][0] > 1 and grads[0.4][1] > 1e-3
    assert grads[1.0][0] < 1e-6 and grads[1.0][1] < 1e-6


def test_triplet_loss_with_multisimilarity_miner_equals_all_tuples_at_small_margin():
    """Measured property behind the loss-gap analysis: at margin 0.1 the miner (ε = 0.1) keeps every
    triplet that violates the margin, so with AvgNonZeroReducer mined and unmined losses coincide."""
    torch.manual_seed(1)
    emb = torch.nn.functional.normalize(torch.randn(32, 16) + 2 * torch.randn(1, 16), dim=1)
    y = torch.arange(32) // 8
    loss, miner = ct.build_loss("triplet", 0.1), ct.build_miner("multisimilarity")
    assert loss(emb, y, miner(emb, y)).item() == pytest.approx(loss(emb, y).item(), rel=1e-6)


def test_iterations_to_reach_and_smooth():
    curve = [{"iteration": i * 10, "val_map_at_r": v} for i, v in enumerate([0.1, 0.5, 0.85, 0.95, 1.0], 1)]
    assert ct.iterations_to_reach(curve, 0.9) == 40
    assert ct.iterations_to_reach(curve, 0.5) == 20
    s = ct.smooth(np.arange(10.0), 4)
    assert len(s) == 7 and s[0] == pytest.approx(1.5) and s[-1] == pytest.approx(7.5)
    assert len(ct.smooth([1.0, 2.0], 50)) == 2


def test_long_tailed_counts():
    c = long_tailed_counts(6, 1200, 50)
    assert c[0] == 1200 and c[-1] == 24 and (np.diff(c) < 0).all()
    with pytest.raises(ValueError):
        long_tailed_counts(6, 1200, 0.5)


def test_recall_at_k_nmi_and_similarities_against_brute_force():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(5), 12)
    emb = rng.normal(size=(60, 8)) + 1.5 * np.eye(8)[labels]
    out = retrieval_metrics(emb, labels, recall_ks=(1, 2, 4), nmi=True)
    d = ((emb[:, None] - emb[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    order = np.argsort(d, axis=1)
    for k in (1, 2, 4):
        expect = np.mean([(labels[order[i, :k]] == labels[i]).any() for i in range(60)])
        assert out[f"recall_at_{k}"] == pytest.approx(expect)
    assert out["p_at_1"] == pytest.approx(out["recall_at_1"]) and 0 < out["nmi"] <= 1
    tight = retrieval_metrics(np.eye(5)[labels] * 10 + rng.normal(0, 0.01, (60, 5)), labels, nmi=True)
    assert tight["nmi"] == pytest.approx(1.0)
    s = similarity_stats(np.array([[1.0, 0], [1, 0], [0, 1]]), np.array([0, 0, 1]))
    assert s["sim_same"] == pytest.approx(1.0) and s["sim_diff"] == pytest.approx(0.0) and s["sim_all"] == pytest.approx(1 / 3)


def test_backbones_give_128d_embeddings():
    x = torch.rand(3, 28, 28)
    assert SmallConvNet()(x).shape == (3, 128)
    with pytest.warns(UserWarning, match="RANDOM initialization"):
        net = resnet18_embedding(128, in_channels=1, pretrained=True)
    assert net(x).shape == (3, 128) and net.imagenet_weights is False


def test_prepare_and_a_short_run_on_a_fixture(fashion_fixture):
    cfg = config(NB, "smoke", data_root=str(fashion_fixture), root=fashion_fixture, seeds=[0], iterations=20, eval_every=10)
    cfg.values.update(n_max=40, imbalance_ratio=5, val_per_class=10, test_per_class=10, umap_points=50)
    data = ct.prepare(cfg)
    assert data.provenance["unseen_classes"] == [4, 6, 8, 9]
    assert list(data.provenance["train_counts"].values()) == long_tailed_counts(6, 40, 5).tolist()
    assert set(np.unique(data.y_test)) == {4, 6, 8, 9} and set(np.unique(data.y_val)) == {0, 1, 2, 3, 5, 7}
    r1 = ct.run(cfg, data, "circle", 0.4, 0, 20, progress=False)
    r2 = ct.run(cfg, data, "circle", 0.4, 0, 20, progress=False)
    assert r1["step_loss"] == r2["step_loss"] and len(r1["curve"]) == 2  # deterministic, evaluated every 10
    assert {"train_loss_with_miner", "val_loss_all_tuples"} <= set(r1["curve"][0])
    with pytest.raises(ValueError, match="multiple of eval_every"):
        ct.run(cfg, data, "circle", 0.4, 0, 15, progress=False)
    cfg.values["train_classes"] = [0, 1, 2, 3, 4, 5, 6, 7, 8]
    with pytest.raises(ValueError, match="at least two classes"):
        ct.prepare(cfg)


def test_step_time_benchmark_interleaves_both_losses(fashion_fixture):
    cfg = config(NB, "smoke", data_root=str(fashion_fixture), root=fashion_fixture, seeds=[0], iterations=20, eval_every=10)
    cfg.values.update(n_max=40, imbalance_ratio=5, val_per_class=10, test_per_class=10, timing_repeats=3, timing_steps=2)
    t = ct.step_time_benchmark(cfg, ct.prepare(cfg))
    assert list(t["repeat"]) == [0, 1, 2] and (t[["circle_ms", "triplet_ms"]] > 0).all().all()


def test_sweep_claims_count_each_seed_once():
    """Runs of one sweep seed share initial weights and batches, and frozen margins give identical
    runs: the margin claims reduce them to one value per seed before any interval."""
    import pandas as pd

    rows = [{"loss": "circle", "margin": m, "seed": s, "val_map_at_r": (0.70 if m <= 0.5 else 0.46) + 0.01 * s}
            for m in (0.4, 0.5, 0.8, 0.9, 1.0) for s in (0, 1, 2)]
    sweep = pd.DataFrame(rows)
    low = ct._per_seed(sweep[sweep["margin"] <= 0.5], "circle", "val_map_at_r", np.mean)
    high = ct._per_seed(sweep[sweep["margin"] > 0.5], "circle", "val_map_at_r", np.mean)
    assert sorted(low) == sorted(high) == [0, 1, 2]
    assert low[1] == pytest.approx(0.71) and high[2] == pytest.approx(0.48)
    spread = ct._per_seed(sweep, "circle", "val_map_at_r", lambda v: v.max() - v.min())
    assert spread == pytest.approx({0: 0.24, 1: 0.24, 2: 0.24})


def test_recall_at_k_uses_k_neighbours_when_classes_are_smaller_than_k():
    """Classes of 3 give MAP@R's max_bin_count k = 2 neighbours; Recall@4 and @8 still need 4 and 8."""
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(6), 3)
    emb = rng.normal(size=(18, 4)) + 0.8 * np.eye(4)[labels % 4]
    out = retrieval_metrics(emb, labels, recall_ks=(1, 4, 8))
    d = ((emb[:, None] - emb[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    order = np.argsort(d, axis=1)
    for k in (1, 4, 8):
        assert out[f"recall_at_{k}"] == pytest.approx(np.mean([(labels[order[i, :k]] == labels[i]).any() for i in range(18)]))
    assert out["map_at_r"] == pytest.approx(retrieval_metrics(emb, labels)["map_at_r"])  # MAP@R unchanged by the larger k
    with pytest.raises(ValueError, match="Recall@32 needs more than 32 items"):
        retrieval_metrics(emb, labels, recall_ks=(32,))
