"""Bad input a user of the notebooks will try, in one table: the input, the exception it must
raise, and a phrase its message must contain (name the parameter, the value, the fix).
Loader- and data-level rows live beside their modules' tests; this table holds what a
parameters cell or ``papermill -p`` can set."""
import pytest

from dml_utils.config import ConfigError, config

NB01, NB03, NB04 = "01_circle_vs_triplet_margin", "03_yukawa_vs_contrastive_mnist", "04_sampling_matters"

BAD_PARAMETERS = [
    (NB03, {"seeds": "abc"}, "seeds must be list[int], got 'abc' (str) (a single string, not a list); e.g. seeds = [0, 1, 2]"),
    (NB03, {"datasets": "mnist"}, "datasets must be list[str], got 'mnist' (str) (a single string, not a list)"),
    (NB03, {"eval_epochs": [2.5]}, "eval_epochs must be list[int], got [2.5]"),
    (NB03, {"epochs": 2.0}, "epochs must be int, got 2.0 (float)"),
    (NB03, {"datasets": ["mnist", "fashion_mnist"]}, "unknown datasets 'fashion_mnist' in ['mnist', 'fashion_mnist']; use some of"),
    (NB03, {"train_per_class": {"mnist": "all"}}, "train_per_class must be dict[str, int] | None"),
    (NB03, {"allow_download": "yes"}, "allow_download must be bool, got 'yes'"),
    (NB01, {"data_root": 123}, "data_root must be path | None, got 123 (int)"),
    (NB01, {"threads": True}, "threads must be int, got True (bool)"),
    (NB01, {"backbone": "vgg"}, "unknown backbone 'vgg'; use one of ['convnet', 'resnet18']"),
    (NB01, {"miner": "multi_similarity"}, "unknown miner 'multi_similarity'; use one of ['multisimilarity', 'none']. Did you mean 'multisimilarity'?"),
    (NB01, {"iterations": "forty"}, "iterations must be int, got 'forty' (str)"),
    (NB01, {"imbalance": 10}, "unknown parameter 'imbalance' for 01_circle_vs_triplet_margin; known: ["),
    (NB04, {"dataset": "cars"}, "unknown dataset 'cars'; use one of ['mnist', 'fashion-mnist', 'digits', 'cub200', 'cars196', 'sop']"),
    (NB04, {"losses": ["margin", "npair"]}, "unknown losses 'npair'"),
    (NB04, {"image_size": "224px"}, "image_size must be int | None, got '224px' (str)"),
    (NB04, {"samples_per_class": 1, "batch_size": 6}, "samples_per_class must be >= 2"),
]


@pytest.mark.parametrize("notebook,overrides,phrase", BAD_PARAMETERS, ids=[str(o) for _, o, _ in BAD_PARAMETERS])
def test_a_bad_parameter_fails_before_any_work_and_says_how_to_fix_it(notebook, overrides, phrase, tmp_path):
    with pytest.raises(ConfigError) as e:
        config(notebook, "smoke", root=tmp_path, **overrides)
    assert phrase in str(e.value)


@pytest.mark.parametrize("overrides,expect", [
    ({"seeds": "[0, 1]"}, {"seeds": [0, 1]}),  # papermill -p passes a list as its text
    ({"iterations": "40"}, {"iterations": 40}),
    ({"lr": 1}, {"lr": 1}),  # an int is a float
    ({"n_max": 500, "imbalance_ratio": 10}, {"n_max": 500, "imbalance_ratio": 10}),  # every profile value can be set
])
def test_literals_given_as_text_are_read_and_every_profile_value_is_settable(overrides, expect, tmp_path):
    cfg = config(NB01, "smoke", root=tmp_path, **overrides)
    assert {k: cfg.values[k] for k in expect} == expect


def test_image_size_on_fixed_size_data_is_refused_not_ignored(tmp_path):
    from dml_utils import class_disjoint

    cfg = config(NB04, "smoke", root=tmp_path, image_size=64)
    with pytest.raises(ValueError, match="image_size=64 applies to the image-folder datasets .* only; fashion-mnist keeps its own size"):
        class_disjoint.prepare(cfg)
