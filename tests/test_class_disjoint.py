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
