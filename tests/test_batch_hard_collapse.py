"""Report 002's runs on tiny patch sequences: shapes, the collapse a hot setting shows, and why
squared distances collapse more (the gradient near collapse)."""
import numpy as np
import pytest
import torch

from dml_utils import batch_hard_collapse as bhc
from dml_utils import hpatches as hp


@pytest.fixture(scope="module")
def tiny():
    img = hp.skimage_photo("camera", max_side=384)
    seqs = {f"{k}_camera": hp.synthetic_sequence(img, f"{k}_camera", k, 24, seed=i) for i, k in enumerate("vi")}
    return seqs, *bhc.patch_arrays(seqs, list(seqs))


def test_patch_arrays_make_one_class_per_patch(tiny):
    seqs, x, y = tiny
    assert x.shape == (2 * 24 * 16, 32, 32) and x.dtype == torch.float32
    assert np.bincount(y).tolist() == [16] * 48  # 16 views of each of 48 patches
    assert x[0].mean().abs() < 1e-4 and abs(float(x[0].std()) - 1) < 0.01


def test_descriptors_have_the_benchmark_layout(tiny):
    seqs, x, y = tiny
    torch.manual_seed(0)
    model = bhc.SmallConvNet(embedding_size=8, image_size=32)
    d = bhc.descriptors(model, seqs, normalize=True)
    assert set(d) == set(seqs) and d["v_camera"]["t5"].shape == (24, 8)
    assert np.allclose(np.linalg.norm(d["i_camera"]["ref"], axis=1), 1)
    assert set(hp.matching_map(d)) == {"easy", "hard", "tough", "mean"}


def test_a_hot_squared_setting_collapses_and_a_cool_plain_one_trains(tiny):
    _, x, y = tiny
    hot = bhc.run(x, y, bhc.Setting(p=16, k=4, lr=1e-2, squared=True), seed=0, iterations=60, every=10, window=20)
    assert hot["collapsed"] and hot["collapsed_at"] <= 60 and hot["final_loss"] == pytest.approx(0.5, abs=1e-3)
    cool = bhc.run(x, y, bhc.Setting(p=8, k=2, lr=1e-4), seed=0, iterations=60, every=10, window=20)
    assert not cool["collapsed"] and cool["final_spread"] > 0.5
    again = bhc.run(x, y, bhc.Setting(p=8, k=2, lr=1e-4), seed=0, iterations=60, every=10, window=20)
    assert again["step_loss"] == cool["step_loss"]  # a seed repeats


def test_squared_gradients_vanish_near_collapse_and_plain_ones_do_not():
    g = bhc.gradient_norms_near_collapse([1.0, 1e-1, 1e-3, 0.0])
    plain, squared = g["plain"], g["squared"]
    assert plain[1] == pytest.approx(plain[0], rel=1e-9) and plain[2] == pytest.approx(plain[0], rel=1e-5)
    assert squared[1] == pytest.approx(squared[0] * 1e-1, rel=1e-9) and squared[2] == pytest.approx(squared[0] * 1e-3, rel=1e-9)
    assert plain[3] == 0.0 and squared[3] == 0.0  # identical descriptors: the stationary point


@pytest.mark.parametrize("kwargs,match", [
    ({"p": 1, "k": 4, "lr": 1e-3}, "needs P >= 2 patches and K >= 2 views"),
    ({"p": 8, "k": 1, "lr": 1e-3}, "got P = 8, K = 1"),
    ({"p": 8, "k": 17, "lr": 1e-3}, "a patch has 16"),
    ({"p": 8, "k": 2, "lr": 0.0}, "lr must be > 0"),
])
def test_impossible_batches_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        bhc.Setting(**kwargs)


def test_more_patches_per_batch_than_the_data_has(tiny):
    _, x, y = tiny
    with pytest.raises(ValueError, match="P = 64 patches per batch, but the training set has 48; lower P"):
        bhc.run(x, y, bhc.Setting(p=64, k=2, lr=1e-3), seed=0, iterations=5)


def test_growing_batches_grow_only_after_the_loss_stayed_below_the_collapse_value(tiny):
    _, x, y = tiny
    out = bhc.progressive_run(x, y, [(4, 2), (8, 4), (16, 4)], lr=1e-3, seed=0, iterations=80, window=10, every=10)
    steps = [s for s, _ in out["growth"]]
    assert out["growth"][0] == (0, (4, 2)) and steps == sorted(steps)
    losses = out["step_loss"]
    for (step, _), (prev, _) in zip(out["growth"][1:], out["growth"][:-1]):
        assert step - prev >= 10 and max(losses[step - 10:step]) < 0.5  # the window before each growth
    assert len(out["growth"]) >= 2 and out["setting"]["schedule"] == [[4, 2], [8, 4], [16, 4]]


def test_growing_batches_never_grow_while_the_loss_sits_at_the_margin(tiny):
    _, x, y = tiny
    losses = [0.5] * 100
    b = bhc.GrowingPKBatches(x, y, [(4, 2), (8, 2)], iterations=20, below=0.5, window=5, seed=0, losses=losses)
    sizes = {len(xb) for xb, _ in b}
    assert sizes == {8} and b.growth == [(0, (4, 2))]


def test_the_collapse_map_has_a_row_per_setting_and_seed(tiny):
    seqs, x, y = tiny
    settings = [bhc.Setting(4, 2, 1e-4), bhc.Setting(16, 4, 1e-2, squared=True)]
    table, curves = bhc.collapse_map(x, y, settings, [0, 1], iterations=30, every=10, window=20, progress=False,
                                     evaluate=lambda model, s: {"matching_map": hp.matching_map(bhc.descriptors(model, seqs))["mean"]})
    assert len(table) == 4 and set(curves) == {(s.label(), seed) for s in settings for seed in (0, 1)}
    assert {"p", "k", "lr", "squared", "collapsed", "collapsed_at", "final_spread", "matching_map"} <= set(table.columns)
    assert table["matching_map"].between(0, 1).all()


def test_raw_pixel_descriptors_are_the_network_input(tiny):
    seqs, x, y = tiny
    d = bhc.raw_pixel_descriptors(seqs)
    assert d["v_camera"]["ref"].shape == (24, 32 * 32)
    assert np.allclose(d["v_camera"]["ref"][0], x[0].reshape(-1).numpy())  # first view of the first patch is its ref
