from pathlib import Path

import pytest

from dml_utils.config import OUTPUT_ENV, ConfigError
from dml_utils.studies import config

NB = "03_yukawa_vs_contrastive_mnist"


def notebook_config(notebook, namespace, root=None):
    """The engine's notebook_config for a notebook given by name (a notebook passes its study's parameters)."""
    from dml_utils.config import notebook_config as by_module
    from dml_utils.studies import study

    return by_module(study(notebook).parameters, namespace, root=root)


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


def _injected(**values) -> dict:
    """The namespace of a notebook whose papermill-injected cell sets ``values`` (as papermill writes them)."""
    from papermill.translators import PythonTranslator

    cell = PythonTranslator.codify({"profile": "smoke", **values})
    return {
        "In": ["", PARAMS_CELL, cell, "import pandas as pd"],
        "profile": "smoke",
        "seeds": None,
        "threads": 2,
        **values,
    }


@pytest.mark.parametrize(
    "notebook,values,match",
    [
        ("02_hdml_triplet_vs_npair", {"alpha": float("nan")}, "alpha must be a finite number, got nan"),
        ("03_yukawa_vs_contrastive_mnist", {"rms_eps": float("nan"), "tsne_points": 50}, "rms_eps must be a finite"),
        (
            "04_sampling_matters",
            {"noise_sigmas": [0.1, float("inf")]},
            r"noise_sigmas must be a finite number, got inf in \[0.1, inf\]",
        ),
        ("01_circle_vs_triplet_margin", {"lr": float("-inf")}, "lr must be a finite number, got -inf"),
        (
            "01_circle_vs_triplet_margin",
            {"circle_margin": float("nan"), "not_a_parameter": 1},
            "unknown parameter 'not_a_parameter'",
        ),
    ],
)
def test_an_injected_non_finite_number_stops_the_run_by_name_and_drops_nothing(tmp_path, notebook, values, match):
    """papermill writes NaN as float('nan'): the injected cell still counts (it once was skipped
    whole, and the run went on at the profile's values), and the value is refused by name."""
    with pytest.raises(ConfigError, match=match):
        notebook_config(notebook, _injected(**values), root=tmp_path)
    cfg = notebook_config("03_yukawa_vs_contrastive_mnist", _injected(rms_eps=1e-6, tsne_points=50), root=tmp_path)
    assert cfg.rms_eps == 1e-6 and cfg.tsne_points == 50  # finite values beside it reach the config


def test_a_parameters_cell_that_computes_stops_the_run_and_names_the_statement(tmp_path):
    from dml_utils.config import parameter_cell_names

    assert parameter_cell_names("profile = 'smoke'\nalpha = float('nan')\nd = [1.0, float('inf')]") == [
        "profile",
        "alpha",
        "d",
    ]
    assert parameter_cell_names("profile = 'smoke'\nalpha = float(x)") is None
    cell = 'profile = "smoke"\nimport numpy as np\nepochs = 2\n'
    with pytest.raises(ConfigError, match="holds 'import numpy as np', which is not a plain value"):
        notebook_config(NB, {"In": ["", cell], "profile": "smoke", "epochs": 2}, root=tmp_path)
    cell = 'profile = "smoke"\nepochs = int("2")\n'
    with pytest.raises(ConfigError, match=r"holds 'epochs = int\(\"2\"\)'"):
        notebook_config(NB, {"In": ["", cell], "profile": "smoke", "epochs": 2}, root=tmp_path)


def test_outside_ipython_the_known_names_of_the_namespace_count(tmp_path):
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


def test_a_papermill_run_writing_over_the_committed_notebook_stops_and_says_how_to_restore(tmp_path):
    """``papermill notebooks/X.ipynb notebooks/X.ipynb`` once replaced the committed notebook with a
    failed partial one: papermill has written its unfinished output there by the time the setup
    cell runs (start time, no end time), and the run stops before any work."""
    import json

    nb = tmp_path / "notebooks" / f"{NB}.ipynb"
    nb.parent.mkdir()
    ns = {"profile": "smoke"}
    for end, fails in (("2026-12-01T14:41:24+00:00", False), (None, True)):
        meta = {"papermill": {"start_time": "2026-12-01T14:36:58+00:00", "end_time": end}}
        nb.write_text(json.dumps({"cells": [], "metadata": meta, "nbformat": 4, "nbformat_minor": 5}))
        if fails:
            with pytest.raises(ConfigError, match=rf"git checkout -- notebooks/{NB}.ipynb"):
                notebook_config(NB, ns, root=tmp_path)
        else:
            assert notebook_config(NB, ns, root=tmp_path).profile == "smoke"
