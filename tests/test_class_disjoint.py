import numpy as np
import pytest

from dml_utils import class_disjoint
from dml_utils.data import long_tailed_counts


def test_long_tailed_training_classes_held_out_images_and_unseen_classes(small_retrieval_cfg):
    cfg = small_retrieval_cfg
    data = class_disjoint.prepare(cfg)
    assert data.provenance["unseen_classes"] == [4, 6, 8, 9]
    assert list(data.provenance["train_counts"].values()) == long_tailed_counts(6, 40, 5).tolist()
    assert set(np.unique(data.y_test)) == {4, 6, 8, 9} and set(np.unique(data.y_val)) == {0, 1, 2, 3, 5, 7}
    assert len(data.y_val) == 6 * 10 and len(data.y_test) == 4 * 10


@pytest.mark.parametrize(
    "update,match",
    [
        ({"train_classes": [0, 1, 2, 3, 4, 5, 6, 7, 8]}, "at least two classes"),
        ({"train_classes": [0, 42]}, r"train_classes \[42\] are not classes of fashion-mnist"),
        ({"n_max": None}, "needs imbalance_ratio=1"),
    ],
)
def test_impossible_splits_are_explained(small_retrieval_cfg, update, match):
    small_retrieval_cfg.values.update(update)
    with pytest.raises(ValueError, match=match):
        class_disjoint.prepare(small_retrieval_cfg)


def test_patch_retrieval_data_keeps_unseen_photos_apart_and_refuses_a_bad_size():
    from dml_utils.class_disjoint import patch_retrieval_data

    with pytest.raises(ValueError, match="patch_per_sequence must be a whole number >= 2, got 1"):
        patch_retrieval_data(1)
    d = patch_retrieval_data(2)
    p = d.provenance
    assert d.x_train.shape[1:] == (32, 32) and d.x_train.dtype == np.float32
    assert len(d.y_train) == p["n_train_used"] == 14 * p["train_classes"]  # 16 views, t4 and t5 held out
    assert len(d.y_val) == p["n_val"] == 2 * p["train_classes"]
    assert len(d.y_test) == p["n_unseen_test"] == 16 * p["unseen_classes"]
    assert set(np.unique(d.y_val)) == set(np.unique(d.y_train))  # held-out views of the training classes
    assert abs(float(d.x_test[0].mean())) < 1e-4  # each patch standardized by its own mean
