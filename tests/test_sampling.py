import numpy as np
import pytest

from dml_utils.sampling import ClassBalancedBatchSampler


def _labels():
    # long tail: class 0 has 40, class 5 has 3 samples
    return np.repeat(np.arange(6), [40, 20, 12, 8, 5, 3])


def test_every_batch_has_cpb_distinct_classes_times_spc_distinct_samples():
    y = _labels()
    s = ClassBalancedBatchSampler(y, classes_per_batch=3, samples_per_class=4, batches=50, seed=0)
    batches = list(s)
    assert len(batches) == len(s) == 50
    for b in batches:
        assert len(b) == 12 and len(set(b)) == 12
        classes, counts = np.unique(y[b], return_counts=True)
        assert len(classes) == 3 and (counts == 4).all()
    seen = np.unique(y[np.concatenate(batches)])
    assert 5 not in seen and set(seen) <= {0, 1, 2, 3, 4}  # class 5 (3 < spc samples) never appears
    assert s.excluded.tolist() == [5]


def test_deterministic_with_a_seed():
    y = _labels()
    a = list(ClassBalancedBatchSampler(y, 2, 3, 10, seed=7))
    b = list(ClassBalancedBatchSampler(y, 2, 3, 10, seed=7))
    c = list(ClassBalancedBatchSampler(y, 2, 3, 10, seed=8))
    assert a == b and a != c


@pytest.mark.parametrize("kwargs,match", [
    ({"classes_per_batch": 6, "samples_per_class": 4}, "only 5 classes"),
    ({"classes_per_batch": 2, "samples_per_class": 41}, "larger than every class"),
    ({"classes_per_batch": 2, "samples_per_class": 4, "batch_size": 10}, "batch_size 10 != "),
    ({"classes_per_batch": 0, "samples_per_class": 4}, ">= 1"),
])
def test_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ClassBalancedBatchSampler(_labels(), batches=5, **kwargs)
