"""Each notebook's profiles: complete, and validated by the notebook's own rules (no KeyError)."""
import pytest

from dml_utils.config import ConfigError, config, known_parameters
from dml_utils.profiles import NOTEBOOKS, PROFILE_NAMES


@pytest.mark.parametrize("notebook", sorted(NOTEBOOKS))
def test_every_profile_resolves_and_sets_only_known_names(notebook):
    profiles = NOTEBOOKS[notebook].PROFILES
    assert set(profiles) == {"common", *PROFILE_NAMES}
    common = set(profiles["common"])
    for name in PROFILE_NAMES:
        cfg = config(notebook, name)
        assert set(cfg.values) == common | set(profiles[name]) <= known_parameters(notebook)
    # every value a profile sets somewhere is resolved in every profile: no KeyError for a missing neighbour
    for name in PROFILE_NAMES:
        assert known_parameters(notebook) == set(config(notebook, name).values), (notebook, name)


@pytest.mark.parametrize("notebook,kwargs,match", [
    ("01_circle_vs_triplet_margin", {"batch_size": 30}, "batch_size 30 != classes_per_batch 4"),
    ("01_circle_vs_triplet_margin", {"circle_margins": []}, "circle_margins must be"),
    ("01_circle_vs_triplet_margin", {"sweep_iterations": 30}, r"sweep_iterations \(30\) must be a positive multiple"),
    ("01_circle_vs_triplet_margin", {"samples_per_class": 1, "batch_size": 4}, "samples_per_class must be >= 2"),
    ("04_sampling_matters", {"val_per_class": 4}, "val_per_class 4 < samples_per_class 8"),
    ("04_sampling_matters", {"nonzero_loss_cutoff": 0.4}, "must exceed cutoff"),
    ("04_sampling_matters", {"sphere_dims": [1, 3]}, "sphere_dims must all be >= 2"),
    ("04_sampling_matters", {"margin_beta": 0}, "margin_beta must be > 0"),
    ("04_sampling_matters", {"threads": 0}, "threads must be"),
    ("03_yukawa_vs_contrastive_mnist", {"seeds": [1, 1]}, "distinct"),
])
def test_each_notebook_checks_its_own_values(notebook, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        config(notebook, "smoke", **kwargs)


@pytest.mark.parametrize("notebook", sorted(NOTEBOOKS))
def test_every_parameter_has_a_type_and_every_profile_value_fits_it(notebook):
    from dml_utils.profiles.common import _fits

    m = NOTEBOOKS[notebook]
    assert set(m.TYPES) == known_parameters(notebook)
    for name, profile in m.PROFILES.items():
        for key, value in profile.items():
            assert _fits(value, m.TYPES[key]), (notebook, name, key, value)
