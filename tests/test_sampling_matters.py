import numpy as np
import pytest
from test_sampling import _batch  # the labelled unit-sphere batch the miner tests use


def test_loss_shapes_match_the_closed_forms():
    from dml_utils.studies import config
    from dml_utils.studies.sampling_matters.study import loss_shapes

    cfg = config("04_sampling_matters", "smoke")
    ds = np.array([0.0, 0.3, 0.9, 1.3, 1.7])
    df = loss_shapes(cfg, ds)

    def get(loss, pair):
        return df[(df["loss"] == loss) & (df["pair"] == pair)]["value"].to_numpy()

    relu = lambda x: np.maximum(x, 0)  # noqa: E731
    a, b = cfg.margin_alpha, cfg.margin_beta
    assert np.allclose(get("contrastive", "positive"), ds**2, atol=1e-6)
    assert np.allclose(get("contrastive", "negative"), relu(cfg.contrastive_margin - ds) ** 2, atol=1e-6)
    assert np.allclose(get("triplet ℓ2 (D)", "positive"), relu(ds - 1.0 + cfg.triplet_margin), atol=1e-6)
    assert np.allclose(get("triplet ℓ2 (D)", "negative"), relu(1.0 - ds + cfg.triplet_margin), atol=1e-6)
    assert np.allclose(get("triplet (D²)", "negative"), relu(1.0 - ds**2 + cfg.triplet_margin), atol=1e-6)
    assert np.allclose(get("margin", "positive"), relu(a + ds - b), atol=1e-6)
    assert np.allclose(get("margin", "negative"), relu(a - (ds - b)), atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"cutoff": 0}, "cutoff must be > 0"),
        ({"nonzero_loss_cutoff": 0.4}, "must exceed cutoff"),
        ({"sphere_dims": [1, 8]}, "n >= 2"),
        ({"batch_size": 50}, "classes_per_batch"),
        ({"margin_beta": -1.0}, "margin_beta must be > 0"),
    ],
)
def test_config_errors(kwargs, match):
    from dml_utils.config import ConfigError
    from dml_utils.studies import config

    with pytest.raises(ConfigError, match=match):
        config("04_sampling_matters", "smoke", **kwargs)


@pytest.mark.trains
def test_unknown_sampler_or_loss_names():
    from dml_utils.config import ConfigError
    from dml_utils.studies import config
    from dml_utils.studies.sampling_matters import study as sampling_matters

    with pytest.raises(
        ConfigError, match=r"unknown samplers 'hardest' in \['uniform', 'hardest'\]; use some of .*Did you mean 'hard'"
    ):
        config("04_sampling_matters", "smoke", samplers=["uniform", "hardest"])
    cfg = config("04_sampling_matters", "smoke")
    cfg.values["samplers"] = ["uniform", "hardest"]  # past the config: the grid checks again
    with pytest.raises(ValueError, match="unknown sampler 'hardest'"):
        sampling_matters.run_grid(cfg, data=None)
    with pytest.raises(ValueError, match="unknown loss 'npair'"):
        sampling_matters.build_loss("npair", cfg, 8)


@pytest.mark.trains
def test_a_short_grid_cell_on_a_fixture(fashion_fixture):
    from dml_utils.studies import config
    from dml_utils.studies.sampling_matters import study as sampling_matters

    cfg = config(
        "04_sampling_matters",
        "smoke",
        data_root=str(fashion_fixture),
        root=fashion_fixture,
        seeds=[0],
        iterations=10,
        eval_every=5,
    )
    cfg.values.update(n_max=30, val_per_class=10, test_per_class=10)
    data = sampling_matters.prepare(cfg)
    r1 = sampling_matters.run(cfg, data, "distance", "margin", 0)
    r2 = sampling_matters.run(cfg, data, "distance", "margin", 0)
    assert r1["step_loss"] == r2["step_loss"] and len(r1["curve"]) == 2  # deterministic
    s = r1["summary"]
    assert np.isfinite(r1["step_loss"]).all() and s["beta_mean"] != pytest.approx(cfg.margin_beta)  # β is learned
    assert {"val_map_at_r", "map_at_r", "collapsed", "pairs_dropped"} <= set(s)


def test_same_pick_as_hard():
    from dml_utils.studies import config
    from dml_utils.studies.sampling_matters import study as sampling_matters

    cfg = config("04_sampling_matters", "smoke")
    emb, y = _batch(classes=4, per_class=6, dim=3, seed=1)
    assert sampling_matters.same_pick_as_hard(cfg, emb, y, "hard") == 1.0
    low = sampling_matters.same_pick_as_hard(cfg, emb, y, "uniform")
    assert 0 < low < 0.6  # uniform over ~18 negatives agrees with the hardest only by chance


def test_factor_spread_on_a_synthetic_grid():
    import pandas as pd

    from dml_utils.studies.sampling_matters.study import factor_spread

    rows = [
        {"sampler": s, "loss": loss, "seed": seed, "m": 0.1 * i + 0.01 * j + 0.001 * seed}
        for i, s in enumerate(["uniform", "hard", "distance"])
        for j, loss in enumerate(["triplet", "margin"])
        for seed in range(3)
    ]
    f = factor_spread(pd.DataFrame(rows), "m")
    assert f["sampler_range"] == pytest.approx(0.2) and f["loss_range"] == pytest.approx(0.01)
    assert f["sampler_share"] + f["loss_share"] == pytest.approx(1.0)  # additive effects, no interaction
    assert f["sampler_share"] > 0.99 and f["best_sampler"] == "distance" and f["best_loss"] == "margin"
    assert f["cell_standard_error"] == pytest.approx(0.001 / np.sqrt(3))
    assert 0 < f["share_gap_lo"] <= f["share_gap"] <= f["share_gap_hi"]  # the sampler's lead survives every resample


def test_the_share_gap_interval_resamples_seeds_and_spans_zero_when_seeds_disagree():
    import pandas as pd

    from dml_utils.studies.sampling_matters.study import factor_spread

    rng = np.random.default_rng(1)
    effects = rng.normal(size=(5, 2, 2))  # per seed a different sampler × loss pattern: no factor leads
    rows = [
        {"sampler": s, "loss": loss, "seed": seed, "m": effects[seed, i, j]}
        for i, s in enumerate(["uniform", "hard"])
        for j, loss in enumerate(["triplet", "margin"])
        for seed in range(5)
    ]
    f = factor_spread(pd.DataFrame(rows), "m")
    assert f["seeds"] == 5 and f["share_gap_lo"] < 0 < f["share_gap_hi"]
    assert factor_spread(pd.DataFrame(rows), "m") == f  # seeded: the same interval every time
    one = factor_spread(pd.DataFrame([r for r in rows if r["seed"] == 0]), "m")
    assert np.isnan(one["share_gap_lo"]) and np.isfinite(one["share_gap"])  # one seed: no interval


@pytest.mark.parametrize(
    "hard,uniform,hard_d,verdict",
    [
        (3.0, 1.0, 0.5, "reproduced"),  # hard's variance over 2× uniform's, its negatives closer
        (1.5, 1.0, 0.5, "inconclusive"),  # above uniform, not by 2×
        (0.8, 1.0, 0.5, "not reproduced"),  # not above uniform at all
        (3.0, 1.0, 1.5, "inconclusive"),  # hard's negatives are not the closer ones: no test of closeness
    ],
)
def test_the_variance_rule_can_come_out_each_way(hard, uniform, hard_d, verdict):
    import pandas as pd

    gvar = pd.DataFrame(
        [
            {"sampler": "hard", "sigma": 0.05, "gradient_variance": hard, "mean_d_an": hard_d},
            {"sampler": "uniform", "sigma": 0.05, "gradient_variance": uniform, "mean_d_an": 1.4},
            {"sampler": "distance", "sigma": 0.05, "gradient_variance": hard, "mean_d_an": hard_d},
        ]
    )
    from dml_utils.studies.sampling_matters import study as sm

    row = sm.variance_claim(gvar, 0.05)
    assert row["verdict"] == verdict
    assert "hard / uniform" in row["ours"]
    assert sm.variance_claim(gvar[gvar["sampler"] != "uniform"], 0.05) is None
