from pathlib import Path

import pytest

from dml_utils.config import OUTPUT_ENV, ConfigError, config

NB = "03_yukawa_vs_contrastive_mnist"


def test_profiles_resolve_and_overrides_apply(tmp_path):
    c = config(NB, "default", root=tmp_path, seeds=[7], epochs=None)
    assert c.seeds == [7] and c.epochs == 40 and c.batch_size == 128
    assert c.figures_dir == tmp_path / "build" / "default" / "figures"


@pytest.mark.parametrize("profile", ["smoke", "default", "paper"])
def test_every_profile_writes_under_build(tmp_path, profile, monkeypatch):
    """Only scripts/run_notebooks.py publishes: a config never points at figures/ or results/."""
    monkeypatch.delenv(OUTPUT_ENV, raising=False)
    c = config(NB, profile, root=tmp_path)
    assert c.figures_dir == tmp_path / "build" / profile / "figures"
    assert c.results_dir == tmp_path / "build" / profile / "results"
    assert "build/" + profile + "/figures/" in c.outputs_note() and "make reproduce" in c.outputs_note()


def test_the_run_scripts_staging_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(OUTPUT_ENV, str(tmp_path / "build" / "stage" / NB))
    c = config(NB, "default", root=tmp_path)
    assert c.figures_dir == tmp_path / "build" / "stage" / NB / "figures"
    assert "staged in build/stage/" in c.outputs_note()
    for committed in (tmp_path / "figures", tmp_path):
        monkeypatch.setenv(OUTPUT_ENV, str(committed))
        with pytest.raises(ConfigError, match="straight into committed files"):
            config(NB, "default", root=tmp_path)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"profile": "fast"}, "unknown profile 'fast'"),
        ({"epochs": 0}, "epochs must be"),
        ({"batch_size": 1}, "batch_size must be"),
        ({"eval_epochs": [50]}, "eval_epochs"),
        ({"seeds": []}, "seeds"),
        ({"lr": -1.0}, "lr must be"),
        ({"epoch": 3}, "unknown parameter 'epoch'.*Did you mean 'epochs'"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        config(NB, **kwargs)


def test_unknown_notebook():
    with pytest.raises(ConfigError, match="unknown notebook"):
        config("99_nothing")


def test_devices():
    import torch

    from dml_utils.config import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="unknown device 'tpu'"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            config("04_sampling_matters", device="cuda")


# ---------------------------------------------------------------- notebook_config: what a parameters cell sets reaches the config
PARAMS_CELL = (
    'profile: str = "default"  # smoke | default\nseeds: list[int] = None  # None: the profile\'s\nthreads: int = 2\n'
)


def test_parameter_cell_names():
    from dml_utils.config import parameter_cell_names

    assert parameter_cell_names(PARAMS_CELL) == ["profile", "seeds", "threads"]
    assert parameter_cell_names('# Parameters\nprofile = "smoke"\nimbalance_ratio = 10\n') == [
        "profile",
        "imbalance_ratio",
    ]
    assert parameter_cell_names("import numpy as np\nx = 1") is None
    assert parameter_cell_names("first = cfg.seeds[0]") is None
    assert parameter_cell_names("x = (") is None


def test_papermill_injected_names_reach_the_config(tmp_path):
    from dml_utils.config import notebook_config

    ns = {
        "In": ["", PARAMS_CELL, '# Parameters\nprofile = "smoke"\nimbalance_ratio = 10\n', "import pandas as pd"],
        "profile": "smoke",
        "seeds": None,
        "threads": 2,
        "imbalance_ratio": 10,
        "pd": object(),
    }
    c = notebook_config("01_circle_vs_triplet_margin", ns, root=tmp_path)
    assert c.profile == "smoke" and c.imbalance_ratio == 10 and c.seeds == [0]


def test_a_value_typed_into_the_parameters_cell_takes_effect(tmp_path):
    from dml_utils.config import notebook_config

    edited = PARAMS_CELL.replace('"default"', '"smoke"') + "n_max: int = 500\n"
    ns = {
        "In": ["", PARAMS_CELL, edited, "first = cfg.seeds[0]"],
        "profile": "smoke",
        "seeds": None,
        "threads": 2,
        "n_max": 500,
        "first": 3,
    }
    c = notebook_config("04_sampling_matters", ns, root=tmp_path)
    assert c.n_max == 500 and c.profile == "smoke" and c.seeds == [0]


def test_an_unknown_parameter_fails_with_the_known_ones(tmp_path):
    from dml_utils.config import notebook_config

    ns = {
        "In": ["", PARAMS_CELL, '# Parameters\nprofile = "smoke"\nimbalance_ratio = 10\n'],
        "profile": "smoke",
        "seeds": None,
        "threads": 2,
        "imbalance_ratio": 10,
    }
    with pytest.raises(
        ConfigError,
        match=r"unknown parameter 'imbalance_ratio' for 03_yukawa_vs_contrastive_mnist; known: \['allow_download'",
    ):
        notebook_config(NB, ns, root=tmp_path)


def test_outside_ipython_the_known_names_of_the_namespace_count(tmp_path):
    from dml_utils.config import notebook_config

    c = notebook_config(NB, {"profile": "smoke", "epochs": 2, "eval_epochs": [2], "unrelated": 1}, root=tmp_path)
    assert c.epochs == 2 and c.eval_epochs == [2]
    with pytest.raises(ConfigError, match="run the parameters cell first"):
        notebook_config(NB, {"In": []}, root=tmp_path)


def test_a_kernel_running_another_copy_of_dml_utils_is_told(tmp_path):
    from dml_utils.config import _check_kernel

    (tmp_path / "dml_utils").mkdir()
    (tmp_path / "dml_utils" / "config.py").write_text("")
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "notebooks").mkdir()
    with pytest.raises(ConfigError, match="choose the kernel of that repository's .venv"):
        _check_kernel(tmp_path / "notebooks")
    _check_kernel(Path(__file__).resolve().parents[1] / "notebooks")  # this clone's own: fine
    _check_kernel(tmp_path / "notebooks" / "elsewhere" / "deep" / "down")  # not inside a clone: nothing to say
