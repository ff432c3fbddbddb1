import os

import numpy as np
import pytest

from dml_utils.data import IDX_FILES, write_idx

# The nbval replay and the notebooks run from tests: text progress bars (as scripts/run_notebooks.py),
# and never the run script's staging folder.
os.environ["DML_PROGRESS"] = "text"
os.environ.pop("DML_UTILS_OUTPUT_DIR", None)


# Random images with the mean pixel of the dataset they stand for (data.IDX_MEAN_PIXEL: the
# loaders tell MNIST's files from Fashion-MNIST's by it): a pixel is 255 with this probability.
MNIST_INK, FASHION_INK = 0.13, 0.29


def ink(rng, shape, p):
    return np.where(rng.random(shape) < p, 255, 0)


@pytest.fixture
def idx_tree(tmp_path):
    """A tiny MNIST-shaped IDX tree in torchvision's layout: root/MNIST/raw/*.gz (3 classes), MNIST's mean pixel."""

    def make(folder, n_train=30, n_test=12, gz=True, p=MNIST_INK):
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(0)
        arrays = {
            "x_train": ink(rng, (n_train, 28, 28), p),
            "y_train": np.arange(n_train) % 3,
            "x_test": ink(rng, (n_test, 28, 28), p),
            "y_test": np.arange(n_test) % 3,
        }
        for key, stem in IDX_FILES.items():
            write_idx(folder / (stem + (".gz" if gz else "")), arrays[key])
        return arrays

    return make


@pytest.fixture
def fashion_fixture(tmp_path):
    """A tiny Fashion-MNIST-shaped IDX folder: 10 classes of random images (400 train, 200 test), Fashion-MNIST's mean pixel."""
    rng = np.random.default_rng(0)
    for split, n in (("train", 400), ("t10k", 200)):
        y = np.arange(n) % 10
        x = ink(rng, (n, 28, 28), FASHION_INK)
        write_idx(tmp_path / f"{split}-images-idx3-ubyte.gz", x)
        write_idx(tmp_path / f"{split}-labels-idx1-ubyte.gz", y)
    assert {p.name.removesuffix(".gz") for p in tmp_path.iterdir()} == set(IDX_FILES.values())
    return tmp_path


@pytest.fixture
def hdml_fixture_config(fashion_fixture, tmp_path):
    """Notebook 02's smoke config on the fixture (30 training images a class, 8 held out, 15 unseen
    test images a class), with ``overrides``: a function, so a test can also ask for a config its
    data refuses."""
    from dml_utils.studies import config

    def make(**overrides):
        return config(
            "02_hdml_triplet_vs_npair",
            "smoke",
            root=tmp_path,
            data_root=str(fashion_fixture),
            **{"n_max": 30, "val_per_class": 8, "test_per_class": 15, **overrides},
        )

    return make


@pytest.fixture
def small_retrieval_cfg(fashion_fixture):
    """Notebook 01's smoke config on the fixture: 6 long-tailed training classes (40 → 8), 4 unseen."""
    from dml_utils.studies import config

    cfg = config(
        "01_circle_vs_triplet_margin",
        "smoke",
        data_root=str(fashion_fixture),
        root=fashion_fixture,
        seeds=[0],
        iterations=20,
        eval_every=10,
    )
    cfg.values.update(n_max=40, imbalance_ratio=5, val_per_class=10, test_per_class=10, umap_points=50)
    return cfg
