import numpy as np
import pytest
import torch

from dml_utils.config import ConfigError
from dml_utils.studies import config
from dml_utils.studies.circle_vs_triplet import study as ct

NB = "01_circle_vs_triplet_margin"


def test_build_loss_and_miner_errors():
    with pytest.raises(ValueError, match="unknown loss 'arcface'"):
        ct.build_loss("arcface", 0.4)
    with pytest.raises(ValueError, match="margin must be > 0"):
        ct.build_loss("circle", 0.0)
    with pytest.raises(ValueError, match="unknown miner"):
        ct.build_miner("hardest")
    assert ct.build_miner("none") is None
    with pytest.raises(ValueError, match="semi-hard miner needs the triplet margin"):
        ct.build_miner("semihard")


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"batch_size": 30}, "batch_size 30 != classes_per_batch 4 × samples_per_class 8"),
        ({"circle_margin": -0.1}, "circle_margin must be > 0"),
        ({"triplet_margins": [0.1, 0.0]}, "triplet_margins"),
        ({"iterations": 55}, "multiple of eval_every"),
        ({"long_iterations": 1010}, "long_iterations \\(1010\\) must be a positive multiple of eval_every"),
        ({"long_margins": []}, "long_margins must be a non-empty list"),
        ({"gap_miner": "multisimilarity"}, "gap_miner"),
        ({"profile": "gpu"}, "unknown profile"),
    ],
)
def test_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        config(NB, **kwargs)


def test_circle_boundary_inverts_above_half():
    assert not ct.circle_boundary(0.4)["inverted"] and ct.circle_boundary(0.6)["inverted"]
    b = ct.circle_boundary(0.7)
    assert b["delta_n"] > b["delta_p"] and b["O_p"] == pytest.approx(1.7) and b["O_n"] == pytest.approx(-0.7)


def test_circle_loss_at_m1_gives_no_gradient_where_m04_does():
    """Why a circle model with m = 1 never trains: with similar embeddings (as at initialization)
    every logit γ·α·(s − Δ) is very negative, softplus ≈ 0 and the gradient vanishes."""
    torch.manual_seed(0)
    base = torch.randn(1, 16)
    emb = (base + 0.3 * torch.randn(24, 16)).requires_grad_()  # cosine similarities ≈ 0.9
    labels = torch.arange(24) // 6
    grads = {}
    for m in (0.4, 1.0):
        loss = ct.build_loss("circle", m)(emb, labels)
        (g,) = torch.autograd.grad(loss, emb)
        grads[m] = (loss.item(), g.abs().max().item())
    assert grads[0.4][0] > 1 and grads[0.4][1] > 1e-3
    assert grads[1.0][0] < 1e-6 and grads[1.0][1] < 1e-6


def test_triplet_loss_with_multisimilarity_miner_equals_all_tuples_at_small_margin():
    """Measured property behind the loss-gap analysis: at margin 0.1 the miner (ε = 0.1) keeps every
    triplet that violates the margin, so with AvgNonZeroReducer mined and unmined losses coincide."""
    torch.manual_seed(1)
    emb = torch.nn.functional.normalize(torch.randn(32, 16) + 2 * torch.randn(1, 16), dim=1)
    y = torch.arange(32) // 8
    loss, miner = ct.build_loss("triplet", 0.1), ct.build_miner("multisimilarity")
    assert loss(emb, y, miner(emb, y)).item() == pytest.approx(loss(emb, y).item(), rel=1e-6)


def test_the_semihard_miner_drops_the_hard_triplets_so_its_loss_differs_from_all_tuples():
    """Why the loss-gap test needs it: semi-hard keeps only triplets with 0 < d(a,n) − d(a,p) ≤ margin,
    each contributing at most the margin, so the mined loss is below the all-tuples loss (which also
    averages the hard triplets, whose loss exceeds the margin) whenever both kinds occur."""
    torch.manual_seed(1)
    emb = torch.nn.functional.normalize(torch.randn(32, 16) + 2 * torch.randn(1, 16), dim=1)
    y = torch.arange(32) // 8
    loss, miner = ct.build_loss("triplet", 0.1), ct.build_miner("semihard", 0.1)
    a, p, n = miner(emb, y)
    d = torch.cdist(emb, emb)
    gap = d[a, n] - d[a, p]
    assert len(a) > 0 and (gap > 0).all() and (gap <= 0.1 + 1e-6).all()
    mined, every = loss(emb, y, (a, p, n)).item(), loss(emb, y).item()
    assert mined <= 0.1 < every


def test_iterations_to_reach_and_smooth():
    curve = [{"iteration": i * 10, "val_map_at_r": v} for i, v in enumerate([0.1, 0.5, 0.85, 0.95, 1.0], 1)]
    assert ct.iterations_to_reach(curve, 0.9) == 40
    assert ct.iterations_to_reach(curve, 0.5) == 20
    s = ct.smooth(np.arange(10.0), 4)
    assert len(s) == 7 and s[0] == pytest.approx(1.5) and s[-1] == pytest.approx(7.5)
    assert len(ct.smooth([1.0, 2.0], 50)) == 2


@pytest.mark.trains
def test_a_short_run_is_deterministic_and_tracked(small_retrieval_cfg):
    cfg = small_retrieval_cfg
    data = ct.prepare(cfg)
    r1 = ct.run(cfg, data, "circle", 0.4, 0, 20, progress=False)
    r2 = ct.run(cfg, data, "circle", 0.4, 0, 20, progress=False)
    assert r1["step_loss"] == r2["step_loss"] and len(r1["curve"]) == 2  # deterministic, evaluated every 10
    assert {"train_loss_with_miner", "val_loss_all_tuples"} <= set(r1["curve"][0])
    assert r1["summary"]["loss"] == "circle" and r1["summary"]["margin"] == 0.4


@pytest.mark.trains
def test_step_time_benchmark_interleaves_both_losses(small_retrieval_cfg):
    cfg = small_retrieval_cfg
    cfg.values.update(timing_repeats=3, timing_steps=2)
    t = ct.step_time_benchmark(cfg, ct.prepare(cfg))
    assert list(t["repeat"]) == [0, 1, 2] and (t[["circle_ms", "triplet_ms"]] > 0).all().all()


def test_sweep_claims_count_each_seed_once():
    """Runs of one sweep seed share initial weights and batches, and frozen margins give identical
    runs: the margin claims reduce them to one value per seed before any interval."""
    import pandas as pd

    rows = [
        {"loss": "circle", "margin": m, "seed": s, "val_map_at_r": (0.70 if m <= 0.5 else 0.46) + 0.01 * s}
        for m in (0.4, 0.5, 0.8, 0.9, 1.0)
        for s in (0, 1, 2)
    ]
    sweep = pd.DataFrame(rows)
    low = ct._per_seed(sweep[sweep["margin"] <= 0.5], "circle", "val_map_at_r", np.mean)
    high = ct._per_seed(sweep[sweep["margin"] > 0.5], "circle", "val_map_at_r", np.mean)
    assert sorted(low) == sorted(high) == [0, 1, 2]
    assert low[1] == pytest.approx(0.71) and high[2] == pytest.approx(0.48)
    spread = ct._per_seed(sweep, "circle", "val_map_at_r", lambda v: v.max() - v.min())
    assert spread == pytest.approx({0: 0.24, 1: 0.24, 2: 0.24})


def test_the_relative_area_uses_every_check_not_only_the_first_over_a_threshold():
    flat = [{"iteration": i, "val_map_at_r": 0.8} for i in (50, 100, 150, 200)]
    assert ct.relative_area(flat) == pytest.approx(1.0)
    fast = [{"iteration": i, "val_map_at_r": v} for i, v in zip((50, 100, 150, 200), (0.76, 0.79, 0.8, 0.8))]
    slow = [{"iteration": i, "val_map_at_r": v} for i, v in zip((50, 100, 150, 200), (0.40, 0.77, 0.8, 0.8))]
    assert ct.iterations_to_reach(fast, 0.9) == 50 and ct.iterations_to_reach(slow, 0.9) == 100
    assert ct.relative_area(fast) > ct.relative_area(slow)
    # trapezoids over 150 iterations: (0.95 + 0.9875) / 2 · 50 + (0.9875 + 1) / 2 · 50 + 1 · 50, over 150
    assert ct.relative_area(fast) == pytest.approx((0.96875 + 0.99375 + 1.0) / 3)


def test_the_long_margin_claim_pairs_the_two_margins_by_sweep_seed():
    import pandas as pd

    cfg = config(NB)
    long = pd.DataFrame(
        [
            {"loss": "circle", "margin": m, "seed": s, "val_map_at_r": v + 0.01 * s, "weight_move": w, "loss_step0": l0}
            for m, v, w, l0 in ((0.4, 0.78, 0.9, 40.0), (0.8, 0.47, 0.002, 2e-11))
            for s in (2, 0, 1)
        ]
    )
    row = ct._long_margin_claim(long, cfg)
    assert "(1000 iterations) m = 0.8 still gives worse embeddings than m = 0.4" in row["claim"]
    assert row["verdict"] == "reproduced" and "m = 0.4 − m = 0.8 = +0.310" in row["ours"]
    assert "weights moved 0.002 (m = 0.8) vs 0.9 (m = 0.4)" in row["ours"]


def test_the_transfer_plan_runs_every_variant_at_every_main_seed_and_the_smoke_two():
    from dml_utils.studies.circle_vs_triplet.parameters import TRANSFER_SMOKE, TRANSFER_VARIANTS
    from dml_utils.studies.circle_vs_triplet.plan_transfer import transfer_plan

    cfg = config(NB, "default")
    plan = transfer_plan(cfg)
    assert len(plan) == len(TRANSFER_VARIANTS) * len(cfg.seeds) == len({s.key() for s in plan})
    assert {s["variant"] for s in transfer_plan(config(NB, "smoke"))} == set(TRANSFER_SMOKE)
    balanced = next(s for s in plan if s["variant"] == "balanced classes")
    assert balanced["imbalance_ratio"] == 1 and balanced["loss"] == ct.RULER.control_loss


@pytest.mark.parametrize(
    "lifts,verdict",
    [
        ({"a": [0.10, 0.11, 0.12, 0.10, 0.11], "b": [-0.02, 0.0, 0.01, -0.01, 0.0]}, "reproduced"),
        ({"a": [0.00, 0.01, 0.02, 0.00, 0.01], "b": [-0.02, 0.0, 0.01, -0.01, 0.0]}, "not reproduced"),
        ({"a": [0.00, 0.10, 0.02, 0.08, 0.01], "b": [-0.02, 0.0, 0.01, -0.01, 0.0]}, "inconclusive"),
    ],
)
def test_fix_verdict_reads_each_outcome(lifts, verdict):
    got, text = ct.fix_verdict({k: np.array(v) for k, v in lifts.items()}, 0.05)
    assert got == verdict and "97.5 %" in text  # Bonferroni over 2 variants


def test_the_transfer_claims_read_a_lift_and_a_squeeze():
    import pandas as pd

    rows = []
    for variant, lift in ((ct.MAIN_VARIANT, -0.01), ("balanced classes", 0.2)):
        for seed in range(5):
            rows.append(
                {
                    "variant": variant,
                    "seed": seed,
                    "unseen_classes": [4, 6, 8, 9],
                    "unseen_map_at_r_step0": 0.45,
                    "unseen_map_at_r_plateau": 0.45 + lift + 0.002 * seed,
                    "unseen_participation_ratio_step0": 7.0 + seed,
                    "unseen_participation_ratio_plateau": 2.5,
                    "val_map_at_r_step0": 0.46,
                    "val_map_at_r_plateau": 0.8,
                }
            )
    df = pd.DataFrame(rows)
    lift, squeeze, fix = ct.transfer_claims(df, config(NB, "smoke"))
    assert lift["verdict"] == "not reproduced" and squeeze["verdict"] == "reproduced" and fix["verdict"] == "reproduced"
    table = ct.transfer_table(df)
    assert list(table["variant"]) == [ct.MAIN_VARIANT, "balanced classes"]
    assert table["Δ"].iloc[1] == pytest.approx(0.204)


def test_the_transfer_figure_and_record_hold_every_run_from_step_0():
    import matplotlib.pyplot as plt
    import pandas as pd

    from dml_utils.studies.circle_vs_triplet import figures, schema

    def row(it, v):
        return {
            "iteration": it,
            "unseen_map_at_r": v,
            "unseen_features_map_at_r": v + 0.01,
            "unseen_participation_ratio": 8 - it / 50,
            "unseen_per_class": {4: v},
        }

    curves = {
        (variant, s): [row(it, 0.4 + 0.001 * it * (k - 0.5)) for it in (0, 50, 100)]
        for k, variant in enumerate("ab")
        for s in (0, 1)
    }
    fig = figures.transfer_panels(curves, 0.01, "lift?")
    first = fig.axes[0]
    assert [t.get_text() for t in first.get_legend().get_texts()][:2] == ["a", "b"]
    assert first.lines[0].get_ydata()[0] == 0 and first.lines[1].get_ydata()[-1] == pytest.approx(0.05)  # minus step 0
    plt.close(fig)
    doc = schema.transfer_record(pd.DataFrame([{"variant": "a", "seed": 0}]), curves)["transfer"]
    assert len(doc["curves"]) == 4 and doc["curves"][0]["curve"][0]["iteration"] == 0
