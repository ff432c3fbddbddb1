import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from dml_utils.results import VERDICTS
from dml_utils.studies import config
from dml_utils.studies.hdml_triplet_vs_npair import study as M

NB = "02_hdml_triplet_vs_npair"


@pytest.fixture
def tiny(hdml_fixture_config):
    """Notebook 02's smoke profile on the Fashion-MNIST fixture, a few steps, two-step blocks."""
    cfg = hdml_fixture_config(
        iterations=8,
        eval_every=4,
        block=4,
        histogram_batches=2,
        official_clusters=20,
    )
    return cfg, M.prepare(cfg)


# ---------------------------------------------------------------- the report's subsets and TF's GPU softmax
def test_out_of_range_probability_counts_the_subsets():
    p = M.out_of_range_probability(99, 196, 10)
    assert p["random half"] == pytest.approx(1 - math.comb(98, 10) / math.comb(196, 10))
    # the 10 lowest of 20 sampled ids are all < 99 iff at least 10 of the 20 are
    all_in = sum(math.comb(98, k) * math.comb(98, 20 - k) for k in range(10, 21)) / math.comb(196, 20)
    assert p["lowest half"] == pytest.approx(1 - all_in)


def test_report_subset_ids_are_a_class_sample_split_in_halves():
    s = M.report_subset_ids(seed=3)
    ids = s["train"] + s["test"]
    assert len(set(ids)) == 20 and min(ids) >= 1 and max(ids) <= 196 and len(s["train"]) == 10
    assert s == M.report_subset_ids(seed=3)


def test_tf_gpu_cross_entropy_is_nan_only_on_rows_without_a_logit():
    logits = torch.randn(3, 5, requires_grad=True)
    ok = torch.tensor([0, 4, 2])
    assert torch.allclose(M.tf_gpu_sparse_softmax_cross_entropy(logits, ok), F.cross_entropy(logits, ok))
    bad = torch.tensor([0, 7, 2])
    loss = M.tf_gpu_sparse_softmax_cross_entropy(logits, bad)
    assert math.isnan(float(loss.detach()))
    (g,) = torch.autograd.grad(loss, [logits])
    assert torch.isnan(g[1]).all()


@pytest.mark.trains  # through the engine (fit); the NaN is arithmetic, the same at every seed
def test_the_official_guard_zeroes_the_loss_but_not_the_nan_gradient():
    """A loss that is NaN in the forward pass (0 · log 0), guarded as nn_Ops.training guards it:
    its value is 0, its gradient still NaN, and one Adam step writes NaN into the weights."""
    from dml_utils.train import Step, Update

    w = torch.nn.Linear(2, 1)
    step = Step(
        {"w": w},
        lambda b: {"loss": (w(b) * torch.log(torch.zeros(1))).sum() * 0},
        [Update("loss", torch.optim.Adam(w.parameters(), lr=1e-3))],
    )
    out = M.official_guarded_steps(step, [torch.ones(1, 2)], 1).iloc[0]
    assert math.isnan(out["loss"]) and out["w weights NaN"]
    fine = torch.nn.Linear(2, 1)
    step = Step(
        {"w": fine}, lambda b: {"loss": fine(b).sum()}, [Update("loss", torch.optim.Adam(fine.parameters(), lr=1e-3))]
    )
    assert not M.official_guarded_steps(step, [torch.ones(1, 2)], 1).iloc[0]["w weights NaN"]


# ---------------------------------------------------------------- the NaN study on data
@pytest.mark.trains  # through the engine (fit); the NaN is arithmetic, the same at every seed
def test_only_the_class_id_candidate_is_nan_at_iteration_one_and_it_gives_the_reports_cascade(tiny):
    cfg, data = tiny
    ids = M.subset_id_map(data, M.report_subset_ids(seed=0))
    assert any(v >= cfg.official_num_class for v in ids.values())  # the subset puts some ids beyond the 99 logits
    cand = M.nan_candidates(cfg, data, ids)
    assert cand["NaN at iteration 1"].tolist() == [False, False, True, False, False]
    cascade = M.nan_cascade(cfg, data, ids, steps=4)
    assert M.cascade_matches_symptom(cascade)
    first = cascade.iloc[0]
    assert first["generator weights NaN"] and first["classifier weights NaN"] and not first["net weights NaN"]
    fixed = M.nan_cascade(cfg, data, None, steps=4, fixed=True)
    assert np.isfinite(fixed[["J_soft", "J_cls", "J_gen", "J_syn", "J_m", "J_metric"]].to_numpy()).all()
    assert not fixed.filter(like="weights NaN").to_numpy().any()


@pytest.mark.trains  # through the engine (fit); the NaN is arithmetic, the same at every seed
def test_in_range_ids_give_no_nan_with_the_official_arithmetic(tiny):
    """The cascade needs the out-of-range ids: the same arithmetic with ids 0 … C − 1 stays finite."""
    cfg, data = tiny
    ids = {c: i for i, c in enumerate(np.unique(data.y_train).tolist())}
    cascade = M.nan_cascade(cfg, data, ids, steps=3)
    assert np.isfinite(cascade[["J_soft", "J_m", "J_metric"]].to_numpy()).all()
    assert not M.cascade_matches_symptom(cascade)


@pytest.mark.trains
def test_npair_batch_table_runs_every_n_the_classes_allow(tiny):
    cfg, data = tiny
    t = M.npair_batch_table(cfg, data)
    assert t["N pairs"].tolist() == [2, 3, 4, 5, 6, 7]
    assert t["here runs"].tolist() == [True] * 5 + [False]
    assert "lower the tuples per batch to <= 6" in t["here"].iloc[-1]
    assert not t["official runs"].any()


def test_official_npair_rule():
    assert M.official_npair_runs(64, 98) == (True, "runs")
    ok, why = M.official_npair_runs(8, 10)
    assert not ok and "64" in why
    ok, why = M.official_npair_runs(64, 20)
    assert not ok and "2 × 20" in why


# ---------------------------------------------------------------- the grid and its read-outs
@pytest.mark.trains
def test_grid_schedules_distances_and_claims(tiny):
    cfg, data = tiny
    grid, runs = M.run_grid(cfg, data, progress=False)
    assert len(grid) == 4 and set(grid["method"]) == set(M.LABELS.values())
    assert (grid["nonfinite_values"] == 0).all() and (grid["iterations"] == 8).all()
    assert grid[["recall_at_1", "map_at_r", "nmi", "f1"]].apply(lambda c: c.between(0, 1)).all().all()
    # same seed, same initial net: with and without HDML the untrained weights agree
    for loss in cfg.losses:
        a, b = (
            runs[(loss, False, 0)]["history"].initial_state["net"],
            runs[(loss, True, 0)]["history"].initial_state["net"],
        )
        assert all(torch.equal(a[k], b[k]) for k in a)
    sched = M.schedule_table(runs, cfg.block)
    assert np.allclose(sched["hardness_start"], math.exp(-cfg.alpha / 1e6))
    for (loss, apply, seed), r in runs.items():
        if apply:  # after the first block, λ = e^{−α / mean of the first block's weighted J_m}
            h = r["history"].losses
            assert h["hardness"][cfg.block] == pytest.approx(
                math.exp(-cfg.alpha / np.mean(h["J_m_weighted"][: cfg.block])), rel=1e-6
            )
    neg = M.negative_distances(cfg, data, runs, 0)
    assert set(neg["kind"]) == {"real negative", "eq. 1 negative ẑ⁻", "synthetic z̃⁻ (after generator)"}
    # eq. 1 never pushes a negative away: its ratio is at most the real one (and ≥ 1 wherever it pulled)
    for loss in cfg.losses:
        real = neg[(neg["loss"] == loss) & (neg["kind"] == "real negative")]["ratio"].to_numpy()
        pulled = neg[(neg["loss"] == loss) & (neg["kind"] == "eq. 1 negative ẑ⁻")]["ratio"].to_numpy()
        assert len(real) == len(pulled) and (pulled <= real + 1e-5).all()
        assert (pulled[real > 1] >= 1 - 1e-5).all()
    curves = M.learning_curves(runs, window=4)
    assert set(curves["step"]) == {4, 8} and curves.loc[curves["hdml"], "hardness"].notna().all()
    base = pd.DataFrame(M.baselines(cfg, data))
    assert list(base["method"]) == ["untrained", "raw pixels"]
    by_k = M.f1_by_k(cfg, data, runs, [4, 8])
    assert set(by_k["k"]) == {4, 8} and len(by_k[by_k["method"] != M.RULER]) == 8
    assert len(by_k[by_k["method"] == M.RULER]) == 2 * grid["seed"].nunique()  # one ruler per seed and k
    diffs = M.paired_differences(grid, {"f1": "F1"})
    assert set(diffs["comparison"]) == {f"{a} − {b}" for a, b in M.COMPARISONS if {a, b} <= set(grid["method"])}
    assert (diffs["n"] == grid["seed"].nunique()).all()
    ids = M.subset_id_map(data, M.report_subset_ids())
    cand, cascade = M.nan_candidates(cfg, data, ids), M.nan_cascade(cfg, data, ids)
    fixed = M.nan_cascade(cfg, data, None, fixed=True)
    claims = M.claims(cfg, grid, base, sched, cand, cascade, fixed, M.npair_batch_table(cfg, data))
    assert claims["verdict"].isin(VERDICTS).all() and len(claims) == 15
    by_claim = dict(zip(claims["claim"], claims["verdict"]))
    cannot = "HDML cannot be trained: J_soft is NaN at the first iteration, then every loss"
    assert by_claim[f"{cannot} (this package's HDML, with the fixes)"] == "not reproduced"
    assert by_claim[f"{cannot} (the official arithmetic, with training ids ≥ the classifier's outputs)"] == "reproduced"
    assert by_claim["Why the report got NaN (ours): a class id the softmax classifier does not have"] == "reproduced"
    assert by_claim["The official guard (a NaN loss replaced by 0) keeps the weights finite"] == "not reproduced"
    assert by_claim["N-pair + HDML needs a batch size dividing 128 and below the class count"] == "not reproduced"


@pytest.mark.trains
def test_notebook_02_paper_profile_starts_on_cars196(tmp_path):
    """The official set-up (ResNet18 here, N-pair batch 128 = 64 pairs, Cars196 halves) on a
    fixture tree: data preparation and two HDML-N-pair steps on RGB images."""
    from test_image_folders import make_cars

    make_cars(tmp_path / "cars", per_class=7)
    cfg = config(
        NB,
        "paper",
        root=tmp_path,
        data_root=str(tmp_path / "cars"),
        seeds=[0],
        iterations=2,
        eval_every=2,
        image_size=32,
        losses=["npair"],
    )
    assert (cfg.tuples["npair"], cfg.backbone, cfg.lr, cfg.alpha, cfg.beta) == (64, "resnet18", 7e-5, 90.0, 1e4)
    data = M.prepare(cfg)
    assert len(data.provenance["train_classes"]) == 98 and data.x_train.shape[1:] == (3, 32, 32)
    with pytest.warns(UserWarning, match="RANDOM initialization"):
        r = M.run(cfg, data, "npair", True, seed=0, progress=False)
    s = r["summary"]
    assert s["iterations"] == 2 and s["batch_images"] == 128 and s["nonfinite_values"] == 0
    assert r["hdml"].generator[-1].out_features == 512  # ResNet18's pooled features


def test_notebook_02_paper_profile_without_data_says_where_to_put_it(tmp_path):
    from dml_utils.errors import DataNotFoundError

    cfg = config(NB, "paper", root=tmp_path, data_root=str(tmp_path / "nothing"))
    with pytest.raises(DataNotFoundError, match="does not exist or is not a folder"):
        M.prepare(cfg)
    with pytest.raises(DataNotFoundError, match="cars196"):
        M.prepare(config(NB, "paper", root=tmp_path))


def test_the_f1_ruler_separates_every_class_and_scores_one_at_k_equal_classes():
    from dml_utils.evaluate import clustering_metrics

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 30)
    emb = rng.normal(size=(len(y), 8))  # no class structure at all
    sep = M.separated(emb, y)
    d = np.linalg.norm(sep[:, None] - sep[None], axis=-1)
    same = y[:, None] == y[None]
    assert d[~same].min() > d[same].max()  # every class apart from every other
    assert np.allclose(sep[:, :8], emb)  # each class keeps its own spread
    assert clustering_metrics(sep, y)["f1"] == pytest.approx(1.0)
    assert clustering_metrics(emb, y)["f1"] < 0.5
    many = clustering_metrics(sep, y, n_clusters=24)["f1"]  # k above the classes: precision 1, recall about 1/6
    assert 0.1 < many < 0.5


# ---------------------------------------------------------------- the schedules at the official scale
def test_the_official_head_is_bn_and_a_glorot_fc_and_its_weight_decay_is_fc1s_alone():
    from dml_utils import hdml as H
    from dml_utils.studies.hdml_triplet_vs_npair import plan_scale as scale

    torch.manual_seed(0)
    net = scale.official_head(128)
    bound = math.sqrt(6 / (1024 + 128))  # Glorot-uniform: U(−b, b), b = √(6 / (fan_in + fan_out))
    w = net.fc.weight
    assert w.shape == (128, 1024) and float(w.abs().max()) <= bound and float(w.abs().max()) > 0.95 * bound
    assert float(net.fc.bias.abs().max()) == 0.0
    assert not [p for p in net.features.parameters()]  # no trainable backbone: the features are the input
    wd = float(H.weight_decay(net, 5e-3))
    assert wd == pytest.approx(5e-3 * float((w**2).sum()) / 2)  # BN's γ, β are left out
    assert wd == pytest.approx(5e-3 * 1024 * 128 * (2 / (1024 + 128)) / 2, rel=0.02)  # ≈ 0.57 at the start


def test_the_scale_plan_runs_each_loss_at_its_official_batch():
    from dml_utils.studies.hdml_triplet_vs_npair import plan_scale as scale

    cfg = config(NB, "smoke", seeds=[0, 1, 2], scale_seed_count=2, scale_losses=["triplet", "npair"])
    plan = scale.scale_plan(cfg)
    assert [(s["loss"], s.seed, s["tuples"], s["iterations"]) for s in plan] == [
        ("triplet", 0, 5, cfg.scale_iterations),
        ("triplet", 1, 5, cfg.scale_iterations),
        ("npair", 0, 64, cfg.scale_iterations),
        ("npair", 1, 64, cfg.scale_iterations),
    ]


@pytest.mark.trains
@pytest.mark.parametrize("loss", ["triplet", "npair"])
def test_after_the_first_block_lambda_reads_the_block_mean_of_the_weighted_jm(loss):
    """The schedule's arithmetic, not an outcome: any seed gives it."""
    from dml_utils.seeds import run_rng, seed_everything
    from dml_utils.studies.hdml_triplet_vs_npair import plan_scale as scale

    cfg = config(NB, "smoke", block=4, scale_iterations=8, scale_losses=[loss])
    rng = run_rng(0)
    labels = np.repeat(np.arange(64), 3)
    features = rng.normal(size=(len(labels), 32)).astype(np.float32)
    (spec,) = [s for s in scale.scale_plan(cfg) if s.seed == cfg.seeds[0]]
    seed_everything(spec.seed)
    r = scale.scale_run(cfg, (features, labels), spec, progress=False)
    h = r["history"]
    assert all(len(h[k]) == 8 for k in scale.SCALE_KEYS) and r["batch_images"] == (15 if loss == "triplet" else 128)
    assert np.allclose(h["hardness"][:4], math.exp(-cfg.alpha / 1e6))  # before the first block: J_avg = 10⁶
    j_avg = float(np.mean(h["J_m_weighted"][:4]))
    assert np.allclose(h["hardness"][4:], math.exp(-cfg.alpha / j_avg), rtol=1e-6)
    assert np.allclose(h["balance"][4:], math.exp(-cfg.beta / float(np.mean(h["J_gen"][:4]))), rtol=1e-6)
    assert np.all(np.isfinite(np.concatenate(list(h.values()))))


def _schedule(lam_blocks, block=4, j=5.0):
    lam = np.repeat(lam_blocks, block).astype(float)
    n = len(lam)
    return {
        "hardness": lam,
        "balance": np.full(n, 0.5),
        "J_m_weighted": np.full(n, j),
        "J_m": np.full(n, 2 * j),
        "wd": np.full(n, 0.1),
    }


@pytest.mark.parametrize(
    "blocks, verdict, curriculum",
    [
        ([[1.0, 0.6, 0.5, 0.4]] * 3, "reproduced", 3),  # graded and falling on every run: a curriculum
        ([[1.0, 0.0, 0.0, 0.0]] * 3, "not reproduced", 0),  # a switch on every run
        ([[1.0, 0.6, 0.5, 0.4], [1.0, 0.0, 0.0, 0.0], [1.0, 0.6, 0.5, 0.4]], "inconclusive", 2),
        ([[1.0, 0.4, 0.5, 0.6]] * 3, "inconclusive", 0),  # graded but rising: not "harder and harder"
    ],
)
def test_the_schedule_claim_is_decided_per_run_at_one_scale(blocks, verdict, curriculum):
    from dml_utils.studies.hdml_triplet_vs_npair import plan_scale as scale

    cfg = config(NB, "smoke", block=4)
    runs = {("triplet", s): {"history": _schedule(b), "tuples": 5, "batch_images": 15} for s, b in enumerate(blocks)}
    table = M.scale_table(cfg, runs, {})
    assert set(table["scale"]) == {"official"} and len(table) == len(blocks)
    (row,) = M.schedule_claims(cfg, table)
    assert row["verdict"] == verdict
    assert row["claim"].startswith(
        "[official scale, triplet: batch 15, J summed over 5 triplets, frozen 1024-d features]"
    )
    assert f"graded and falling on {curriculum}/{len(blocks)} runs" in row["ours"]
    assert table["J_avg_block1"].eq(5.0).all() and table["wd_share_block1"].eq(0.01).all()
    assert scale.OFFICIAL_TUPLES == {"triplet": 5, "npair": 64}


@pytest.mark.parametrize(
    "over, message",
    [
        ({"scale_classes": 40, "scale_losses": ["npair"]}, "64 pairs needs 64 classes"),
        ({"scale_iterations": 100}, "multiple of block"),
        ({"scale_seed_count": 0}, "scale_seed_count must be >= 1"),
        ({"scale_losses": ["contrastive"]}, "scale_losses"),
    ],
)
def test_impossible_scale_settings_say_what_to_use(over, message):
    from dml_utils.parameters import ConfigError

    with pytest.raises(ConfigError, match=message):
        config(NB, "smoke", **over)


# ---------------------------------------------------------------- many unseen classes
def test_the_patch_data_is_class_disjoint_with_two_views_of_each_training_class_held_out():
    cfg = config(NB, "smoke", patch_per_sequence=2)
    data = M.prepare_patches(cfg)
    # class ids are numbered within each split; the unseen classes are other photos' patches (the release's split "a")
    assert set(np.unique(data.y_val)) == set(np.unique(data.y_train))  # every training class keeps 14 views, 2 held out
    per_class = pd.Series(data.y_train).value_counts()
    assert (per_class == 14).all() and (pd.Series(data.y_val).value_counts() == 2).all()
    assert (pd.Series(data.y_test).value_counts() == 16).all()
    assert data.x_train.shape[1:] == (32, 32) and data.provenance["unseen_classes"] == len(np.unique(data.y_test))
    M.check_fits(cfg, data)


def test_ranking_claims_name_their_data_and_the_figure_table_keeps_each_datas_comparisons():
    rows = []
    for seed in range(3):
        for method, loss, hdml, r1 in (
            ("triplet", "triplet", False, 0.50),
            ("triplet + HDML", "triplet", True, 0.52),
            ("N-pair", "npair", False, 0.60 + 0.01 * seed),
            ("N-pair + HDML", "npair", True, 0.61 + 0.01 * seed),
        ):
            rows.append(
                {
                    "method": method,
                    "loss": loss,
                    "hdml": hdml,
                    "seed": seed,
                    "recall_at_1": r1 + 0.001 * seed,
                    "f1": 0.5,
                    "map_at_r": r1 - 0.2,
                }
            )
    grid = pd.DataFrame(rows)
    claims = M.ranking_claims(grid, "[patches: 400 unseen classes] ")
    assert len(claims) == 6 and all(c["claim"].startswith("[patches: 400 unseen classes] ") for c in claims)
    by = {c["claim"].split("] ", 1)[1]: c["verdict"] for c in claims}
    assert by["N-pair beats triplet on Recall@1 (without HDML)"] == "reproduced"
    both = M.diffs_by_data({"A": grid, "B": grid}, {"recall_at_1": "Recall@1"})
    assert len(both) == 6 and both["comparison"].str.endswith("\n(A)").sum() == 3
    base = pd.DataFrame(
        [{"method": "untrained", "seed": s, "map_at_r": 0.1} for s in range(3)]
        + [{"method": "raw pixels", "seed": 0, "map_at_r": 0.2}]
    )
    row = M._baselines_claim(grid, base, "[patches] ")
    assert row["claim"].startswith("[patches] Every trained net") and row["verdict"] == "reproduced"
