import pytest

from dml_utils.config import ConfigError, config

NB = "03_yukawa_vs_contrastive_mnist"


def test_profiles_resolve_and_overrides_apply(tmp_path):
    c = config(NB, "default", root=tmp_path, seeds=[7], epochs=None)
    assert c.seeds == [7] and c.epochs == 40 and c.batch_size == 128
    assert c.figures_dir == tmp_path / "figures" and c.results_dir == tmp_path / "results"


@pytest.mark.parametrize("profile", ["smoke", "paper"])
def test_smoke_and_paper_write_under_build(tmp_path, profile):
    c = config(NB, profile, root=tmp_path)
    assert c.figures_dir == tmp_path / "build" / profile / "figures"
    assert c.results_dir == tmp_path / "build" / profile / "results"


@pytest.mark.parametrize("kwargs,match", [
    ({"profile": "fast"}, "unknown profile 'fast'"),
    ({"epochs": 0}, "epochs must be"),
    ({"batch_size": 1}, "batch_size must be"),
    ({"eval_epochs": [50]}, "eval_epochs"),
    ({"seeds": []}, "seeds"),
    ({"lr": -1.0}, "lr must be"),
    ({"epoch": 3}, "unknown parameter 'epoch'.*Did you mean 'epochs'"),
])
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
