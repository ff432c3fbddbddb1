"""Study 05 on tiny patch sequences: patches as classes, descriptors in the benchmark's layout, the
notebook's steps, and the claim rules on hand-made maps (the method: tests/test_batch_hard.py)."""

import numpy as np
import pytest
import torch
import training_outcomes as outcomes

from dml_utils import batch_hard as bh
from dml_utils import hpatches as hp
from dml_utils.studies.batch_hard_collapse import plan as bhc_plan
from dml_utils.studies.batch_hard_collapse import study as bhc


@pytest.fixture(scope="module")
def tiny():
    """24 patches of scikit-image's camera photo, 16 views each (training_outcomes.tiny_patches)."""
    return outcomes.tiny_patches()


def test_patch_arrays_make_one_class_per_patch(tiny):
    seqs, x, y = tiny
    assert x.shape == (2 * 12 * 16, 32, 32) and x.dtype == torch.float32
    assert np.bincount(y).tolist() == [16] * 24  # 16 views of each of 24 patches (12 per sequence)
    assert x[0].mean().abs() < 1e-4 and abs(float(x[0].std()) - 1) < 0.01


def test_descriptors_have_the_benchmark_layout(tiny):
    seqs, x, y = tiny
    torch.manual_seed(0)
    model = bhc.SmallConvNet(embedding_size=8, image_size=32)
    d = bhc.descriptors(model, seqs, normalize=True)
    assert set(d) == set(seqs) and d["v_camera"]["t5"].shape == (12, 8)
    assert np.allclose(np.linalg.norm(d["i_camera"]["ref"], axis=1), 1)
    assert set(hp.matching_map(d)) == {"easy", "hard", "tough", "mean"}


def test_raw_pixel_descriptors_are_the_network_input(tiny):
    seqs, x, y = tiny
    d = bhc.raw_pixel_descriptors(seqs)
    assert d["v_camera"]["ref"].shape == (12, 32 * 32)
    assert np.allclose(d["v_camera"]["ref"][0], x[0].reshape(-1).numpy())  # first view of the first patch is its ref


# ---------------------------------------------------------------- notebook 05's steps
from dml_utils.parameters import ConfigError  # noqa: E402
from dml_utils.results import VERDICTS  # noqa: E402
from dml_utils.studies import config  # noqa: E402

NB05 = "05_batch_hard_collapse"


def test_the_map_holds_the_grid_the_extras_low_lr_and_hermans_once_each(tmp_path):
    cfg = config(NB05, "default", root=tmp_path)
    cells = bhc.map_settings(cfg)
    groups = [g for g, _ in cells]
    # P and K vary separately (8×8 and 32×2 hold 64 images each), lr spans two orders of magnitude
    assert {(s.p, s.k) for g, s in cells if g == "grid"} == {(8, 2), (8, 8), (32, 2), (32, 8)}
    assert max(cfg.lr_grid) / min(cfg.lr_grid) >= 100
    assert (
        groups.count("grid") == 4 * len(cfg.lr_grid) * 2 and groups.count("extra") == 2 and groups.count("low lr") == 0
    )
    assert groups.count("hermans") == 1 and len({s for _, s in cells}) == len(cells)
    assert {(s.p, s.k) for g, s in cells if g == "extra"} == {(32, 8)}
    scored = [(s.p, s.k, s.lr) for g, s in cells if bhc_plan.table_scored(cfg, g, s)]
    assert sorted(scored) == [(32, 4, 3e-4), (32, 8, 5e-4), (32, 8, 5e-4)]  # Hermans, and the lowest lr at 32×8
    smoke = bhc.map_settings(config(NB05, "smoke", root=tmp_path))
    assert {(s.p, s.k) for g, s in smoke if g == "low lr"} == {(16, 4)}
    herm = next(s for g, s in cells if g == "hermans")
    assert (herm.p, herm.k, herm.lr, herm.soft, herm.squared) == (32, 4, 3e-4, True, False)
    for g, s in cells:
        assert bhc.make_setting(cfg, (s.p, s.k), s.lr, bhc.variant_of(s)) == s


def test_triplet_counts_and_the_reports_formula():
    t = bhc.triplet_count_table([(2, 2), (3, 4), (4, 3)])
    assert (t["brute force"] == t["P·K²(K−1)(P−1)"]).all()
    assert (t["P·K²(K−1)(P−1)"] == t["P"] * t["report: K²(K−1)(S−1)"]).all()  # the report's count is P times too small


def test_gradient_study_zero_at_identical_descriptors_for_every_variant(tmp_path):
    g = bhc.gradient_study(config(NB05, "smoke", root=tmp_path))
    assert set(g["at_identical"]) == {"plain", "squared", "soft", "soft-squared", "normalized"}
    assert all(v["gradient_norm"] == 0 for v in g["at_identical"].values())
    assert g["at_identical"]["soft"]["loss"] == pytest.approx(np.log(2)) and g["at_identical"]["plain"]["loss"] == 0.5


@pytest.fixture(scope="module")
def tiny_notebook(tmp_path_factory):
    """Every step of notebook 05 on a tiny profile: the smoke profile's 2 training and 2 test photos, 10 steps a run."""
    cfg = config(
        NB05,
        "smoke",
        root=tmp_path_factory.mktemp("nb05"),
        seeds=[0, 1],
        iterations=10,
        monitor_every=5,
        pinned_window=5,
        growth_window=3,
        pk_grid=[[4, 2], [8, 4]],
        schedule=[[4, 2], [8, 4]],
        lr=1e-2,
        n_patches=24,
        map_patches=10,
        table_patches=24,
        retrieval_queries=5,
        retrieval_pools=[10, 15],
        verification_pairs=100,
        mc_trials=500,
        extra_variants=["soft"],
    )
    data = bhc.prepare(cfg)
    grid, traces = bhc.run_collapse_map(cfg, data, progress=False)
    prog, prog_traces = bhc.run_progressive(cfg, data, progress=False)
    base = bhc.baselines(cfg, data)
    return cfg, data, grid, traces, prog, prog_traces, base


@pytest.mark.trains
def test_the_steps_give_a_row_per_run_with_the_benchmarks_scores(tiny_notebook):
    cfg, data, grid, traces, prog, prog_traces, base = tiny_notebook
    assert data.provenance["n_train_sequences"] == 4 and data.provenance["n_test_sequences"] == 4
    assert all(s.n <= 10 for s in data.map_seqs.values())  # map_patches caps each test sequence
    assert data.provenance["n_map_patches"] == sum(s.n for s in data.map_seqs.values())
    assert len(data.y) == 16 * data.provenance["n_train_patches"]
    assert len(grid) == len(bhc.map_settings(cfg)) * 2 and len(traces) == len(grid)
    assert grid["map_mean"].between(0, 1).all()
    assert grid[grid["group"] == "low lr"]["table_matching_mean"].notna().all()
    assert grid[grid["pk"] == "4×2"]["table_matching_mean"].isna().all()
    assert (
        sorted(prog["group"]) == ["large start"] * 2 + ["progressive"] * 2 and prog["table_matching_mean"].notna().all()
    )
    assert prog[prog["group"] == "progressive"]["growth"].str.startswith("4×2 at step 0").all()
    assert (prog[prog["group"] == "large start"]["growth"] == "8×4 at step 0").all()
    assert {len(t["loss"]) for t in prog_traces.values()} == {cfg.progressive_iterations}
    assert set(base["model"]) == {"untrained", "raw pixels"} and base["table_retrieval_15"].between(0, 1).all()
    # the untrained row of a seed is the network every run of that seed starts from: its map score is the same everywhere
    table = bhc.retrieval_table(grid, prog, base, cfg)
    assert {"untrained", "raw pixels"} <= set(table.index) and "matching_mean" in table.columns
    t = next(iter(traces.values()))
    assert len(t["loss"]) == 10 and t["steps"] == [0, 5, 10]


@pytest.mark.trains
def test_claims_come_from_the_runs_and_use_the_verdict_vocabulary(tiny_notebook):
    cfg, data, grid, traces, prog, prog_traces, base = tiny_notebook
    claims = bhc.claims(
        cfg, bhc.triplet_count_table(), bhc.no_valid_triplet_curves(cfg), bhc.gradient_study(cfg), grid, prog, base
    )
    assert claims["verdict"].isin(VERDICTS).all() and len(claims) >= 10
    assert claims.iloc[0]["verdict"] == "not reproduced"  # the report's triplet count is a factor P short


def _grid(large_collapses: bool, squared_more: bool, soft_loss: float | None):
    """A hand-made collapse map: P4×K2 never collapses; P16×K4 collapses as told."""
    import pandas as pd

    rows = []
    for seed in (0, 1, 2):
        for pk, (p, k) in (("4×2", (4, 2)), ("16×4", (16, 4))):
            for lr in (1e-2, 5e-2):
                for v in ("plain", "squared"):
                    c = pk == "16×4" and large_collapses and (v == "squared" or not squared_more)
                    rows.append(
                        {
                            "group": "grid",
                            "pk": pk,
                            "p": p,
                            "k": k,
                            "lr": lr,
                            "variant": v,
                            "seed": seed,
                            "collapsed": c,
                            "collapsed_at_end": c,
                            "final_loss": 0.5 if c else 0.1,
                            "final_spread": 0.0 if c else 1.0,
                        }
                    )
        for v in ("plain", "squared", "soft"):
            rows.append(
                {
                    "group": "low lr",
                    "pk": "16×4",
                    "p": 16,
                    "k": 4,
                    "lr": 1e-3,
                    "variant": v,
                    "seed": seed,
                    "collapsed": False,
                    "collapsed_at_end": False,
                    "final_loss": 0.2,
                    "final_spread": 1.0,
                }
            )
        c = soft_loss is not None
        rows.append(
            {
                "group": "extra",
                "pk": "16×4",
                "p": 16,
                "k": 4,
                "lr": 5e-2,
                "variant": "soft",
                "seed": seed,
                "collapsed": c,
                "collapsed_at_end": c,
                "final_loss": soft_loss if c else 0.3,
                "final_spread": 0.0 if c else 1.0,
            }
        )
    return pd.DataFrame(rows)


def _verdicts(grid, prog=None):
    import pandas as pd

    cfg = config(
        NB05,
        "smoke",
        pk_grid=[[4, 2], [16, 4]],
        lr_grid=[1e-2, 5e-2],
        extra_variants=["soft"],
        progressive_variants=["plain"],
        schedule=[[4, 2], [16, 4]],
        lr=5e-2,
    )
    prog = pd.DataFrame(
        prog or [],
        columns=[
            "group",
            "pk",
            "variant",
            "seed",
            "lr",
            "collapsed",
            "collapsed_at",
            "collapsed_at_end",
            "final_pk",
            "growth",
            "table_matching_mean",
            "final_loss",
            "final_spread",
        ],
    )
    base = pd.DataFrame(
        [{"model": "untrained", "seed": s, "table_matching_mean": 0.1} for s in (0, 1, 2)]
        + [{"model": "raw pixels", "seed": None, "table_matching_mean": 0.2}]
    )
    grads = {
        "near_collapse": {"scale": [1.0, 1e-3], "plain": [1.0, 1.0], "squared": [1.0, 1e-3]},
        "at_identical": {"plain": {"loss": 0.5, "gradient_norm": 0.0}},
    }
    novalid = {32: {"classes": [10, 10_000], "closed_form": [0.0, 0.95], "monte_carlo": [0.0, 0.95]}}
    claims = bhc.claims(cfg, bhc.triplet_count_table([(2, 2)]), novalid, grads, grid, prog, base)
    return dict(zip(claims["claim"].str.split(" \\(").str[0], claims["verdict"]))


def test_claim_rules_on_hand_made_maps():
    v = _verdicts(_grid(large_collapses=True, squared_more=False, soft_loss=0.6935))
    assert v["large batches with large K collapse, small batches do not"] == "reproduced"  # 12 of 12 pairs one way
    assert v["a low learning rate avoids collapse"] == "reproduced"
    # both always: no seed tells them apart, and an exact test cannot call that a difference, nor its absence
    assert v["squared Euclidean distance collapses more than plain Euclidean"] == "inconclusive"
    assert v["the soft-margin loss collapses at ≈ 0.693"] == "reproduced"
    assert v["a collapsed hard-margin run has its loss stuck at the margin, all descriptors equal"] == "reproduced"
    assert v["uniformly random batches hold no valid triplet when the classes are many"] == "reproduced"
    assert v["(ours) collapse is a stationary point, and the squared distance stops pushing before it"] == "reproduced"
    v = _verdicts(_grid(large_collapses=True, squared_more=True, soft_loss=None))
    assert v["squared Euclidean distance collapses more than plain Euclidean"] == "reproduced"  # 6 of 12 pairs differ
    assert v["the soft-margin loss collapses at ≈ 0.693"] == "inconclusive"  # nothing soft collapsed: nothing to read
    v = _verdicts(_grid(large_collapses=False, squared_more=False, soft_loss=None))
    assert v["large batches with large K collapse, small batches do not"] == "inconclusive"  # 0 vs 0: nothing to test
    assert v["(ours) at a fixed K, more classes per batch collapse more"] == "inconclusive"  # no two P at one K
    one_p = _grid(large_collapses=True, squared_more=False, soft_loss=None)
    one_p = one_p[one_p["p"] == 16]
    assert _verdicts(one_p)["(ours) at a fixed P, more views per class collapse more"] == "inconclusive"  # one K
    v = _verdicts(_grid(large_collapses=True, squared_more=False, soft_loss=0.9))
    assert v["the soft-margin loss collapses at ≈ 0.693"] == "not reproduced"


def _prog(seed, group, collapsed, growth, collapsed_at=None, final_pk="16×4"):
    return {
        "group": group,
        "pk": "4×2 → 16×4" if group == "progressive" else "16×4",
        "variant": "plain",
        "seed": seed,
        "lr": 5e-2,
        "collapsed": collapsed,
        "collapsed_at": collapsed_at,
        "collapsed_at_end": collapsed,
        "final_pk": final_pk,
        "growth": growth,
        "table_matching_mean": 0.01 if collapsed else 0.3,
        "final_loss": 0.5,
        "final_spread": 0.0,
    }


def test_progressive_claims_on_hand_made_runs():
    grid = _grid(large_collapses=True, squared_more=False, soft_loss=None)
    seeds = range(6)  # an exact test decides at 6 discordant seeds, all one way
    large = [_prog(s, "large start", True, "16×4 at step 0", collapsed_at=10) for s in seeds]
    avoid = "progressive growth avoids the collapse of a large start"
    safe = "once the loss is below the collapse value, growing the batch does not bring collapse"
    never = [_prog(s, "progressive", False, "4×2 at step 0", final_pk="4×2") for s in seeds]
    v = _verdicts(grid, large + never)
    assert v[avoid] == "reproduced" and v[safe] == "inconclusive"  # nothing grew: the rule was never tried
    assert v["progressive growth gives better descriptors than the large start"] == "reproduced"
    assert _verdicts(grid, large[:3] + never[:3])[avoid] == "inconclusive"  # 3 of 3 seeds: p = 0.25
    grown = [_prog(s, "progressive", False, "4×2 at step 0; 16×4 at step 20") for s in seeds]
    v = _verdicts(grid, large + grown)
    assert v[avoid] == "reproduced" and v[safe] == "inconclusive"  # 0 of 6: the exact upper bound is 0.46
    many = [_prog(s, "progressive", False, "4×2 at step 0; 16×4 at step 20") for s in range(36)]
    assert _verdicts(grid, large + many)[safe] == "reproduced"  # 0 of 36: the upper bound falls below 0.1
    broke = [_prog(s, "progressive", True, "4×2 at step 0; 16×4 at step 20", collapsed_at=30) for s in seeds]
    v = _verdicts(grid, large + broke)
    assert v[avoid] == "inconclusive" and v[safe] == "not reproduced"  # a rule without exception, broken
    one = grown[:5] + broke[5:]
    assert _verdicts(grid, large + one)[safe] == "not reproduced"  # one grown run collapsed refutes it
    before = [_prog(s, "progressive", True, "4×2 at step 0; 16×4 at step 20", collapsed_at=10) for s in seeds]
    assert _verdicts(grid, large + before)[safe] == "inconclusive"  # collapsed before growing: not the rule's failure


def test_batch_size_k_and_p_are_told_apart_on_a_hand_made_map():
    """A map where K alone decides collapse: the K claims are reproduced, the P claim finds no seed that
    differs, and the same-size pair (4×4 vs 8×2, 16 images each) sides with K."""
    import pandas as pd

    rows = [
        {
            "group": "grid",
            "pk": f"{p}×{k}",
            "p": p,
            "k": k,
            "lr": 5e-2,
            "variant": v,
            "seed": seed,
            "collapsed": k == 4,
            "collapsed_at_end": k == 4,
            "final_loss": 0.5 if k == 4 else 0.1,
            "final_spread": 0.0 if k == 4 else 1.0,
        }
        for seed in range(6)
        for p, k in ((4, 2), (4, 4), (8, 2), (8, 4))
        for v in ("plain", "squared")
    ]
    cfg = config(NB05, "smoke", pk_grid=[[4, 2], [4, 4], [8, 2], [8, 4]], lr_grid=[5e-2], extra_variants=[])
    novalid = {32: {"classes": [10], "closed_form": [0.0], "monte_carlo": [0.0]}}
    grads = {
        "near_collapse": {"scale": [1.0, 1e-3], "plain": [1.0, 1.0], "squared": [1.0, 1e-3]},
        "at_identical": {"plain": {"loss": 0.5, "gradient_norm": 0.0}},
    }
    base = pd.DataFrame([{"model": "raw pixels", "seed": None, "table_matching_mean": 0.2}])
    claims = bhc.claims(
        cfg, bhc.triplet_count_table([(2, 2)]), novalid, grads, pd.DataFrame(rows), pd.DataFrame(), base
    )
    v = dict(zip(claims["claim"].str.split(" \\(").str[0], claims["verdict"]))
    assert v["(ours) at a fixed P, more views per class collapse more"] == "reproduced"
    assert v["(ours) at a fixed K, more classes per batch collapse more"] == "inconclusive"
    assert v["(ours) at one batch size"] == "reproduced"
    row = claims[claims["claim"].str.startswith("(ours) at one batch size")].iloc[0]
    assert "4×4 vs 8×2" in row["claim"] and "only 4×4: 12, only 8×2: 0" in row["ours"]
    assert "(2 cells)" in row["why"]  # lr × variant: the cells are blocks, the 6 seeds the replicates


def test_first_growth_is_read_from_the_record():
    assert bhc._first_growth("8×2 at step 0; 16×4 at step 17; 32×8 at step 51") == 17
    assert bhc._first_growth("8×2 at step 0") is None


@pytest.mark.trains
def test_the_paper_profile_reads_an_hpatches_release(tmp_path, tiny):
    """Where HPatches is present, the paper profile trains on its split's train part and tests on the test part."""
    seqs, _, _ = tiny
    hp.write_release(seqs, {"a": {"train": ["v_camera"], "test": ["i_camera"]}}, tmp_path / "hpatches-release")
    cfg = config(
        NB05,
        "paper",
        root=tmp_path,
        data_root=str(tmp_path),
        n_patches=None,
        map_patches=10,
        table_patches=24,
        retrieval_queries=2,
        retrieval_pools=[10],
        verification_pairs=50,
    )
    data = bhc.prepare(cfg)
    assert data.provenance["name"] == "hpatches" and data.provenance["n_train_sequences"] == 1
    assert data.provenance["n_train_patches"] == 12 and data.provenance["n_map_patches"] == 10
    r = bh.run(data.x, data.y, bhc.make_setting(cfg, (4, 2), 1e-3, "soft"), seed=0, iterations=2, every=1, window=1)
    assert len(r["step_loss"]) == 2 and np.isfinite(r["step_loss"]).all()


def test_every_run_is_classed_and_the_classes_are_checked_against_retrieval():
    import pandas as pd

    def row(variant, collapsed, spread, loss, m, seed=0):
        return {
            "variant": variant,
            "seed": seed,
            "collapsed": collapsed,
            "final_spread": spread,
            "final_loss": loss,
            "map_mean": m,
        }

    base = pd.DataFrame([{"model": "untrained", "seed": 0, "map_mean": 0.7}, {"model": "raw pixels", "seed": None}])
    runs = pd.DataFrame(
        [
            row("plain", True, 0.0, 0.5, 0.001),  # the monitor caught it
            row("squared", False, 0.06, 0.49, 0.003),  # shrank between checks: no check caught it
            row("plain", False, 40.0, 12.0, 0.3),  # the loss ended above m: worse than collapse
            row("soft", False, 2.0, 0.6, 0.65),  # below ln 2, yet below the untrained net
            row("plain", False, 2.0, 0.2, 0.8),
        ]
    )
    assert bhc.classify_runs(runs, base, margin=0.5) == ["collapsed", "collapsed", "diverged", "failed", "trained"]
    table_runs, table = bhc.outcome_table(runs, base, margin=0.5)
    assert table.loc["collapsed", "at the collapsed level"] == 2 and table.loc["(monitor flagged)"].sum() == 1
    claim = bhc._outcome_claim(table_runs)
    assert (
        claim["verdict"] == "reproduced" and "the classes miss 0 of them, the collapse monitor alone 1" in claim["ours"]
    )
    quiet = pd.concat([runs, pd.DataFrame([row("plain", False, 1.0, 0.3, 0.01)])], ignore_index=True)
    claim = bhc._outcome_claim(bhc.outcome_table(quiet, base, margin=0.5)[0])
    assert claim["verdict"] == "not reproduced"  # useless descriptors, no training signal said so


def test_a_collapse_claim_shows_the_retrieval_criterion_beside_the_spread_one():
    import pandas as pd

    cell = pd.DataFrame(
        {
            "variant": ["plain"] * 3 + ["normalized"] * 3,
            "map_mean": [0.001, 0.001, 0.3, 0.8, 0.02, 0.9],
            "seed": [0, 1, 2] * 2,
        }
    )
    row = bhc._by_both_criteria({"ours": "spread", "why": "rule"}, cell, {"raw": "plain", "normalized": "normalized"})
    assert row["ours"].startswith("spread; by retrieval (matching mAP < 0.05")
    assert "raw 2/3 (matching mAP 0.101), normalized 1/3 (matching mAP 0.573)" in row["ours"]
    assert "the verdict is the spread criterion's" in row["why"]
    assert bhc._by_both_criteria({"ours": "x", "why": "y"}, cell.drop(columns="map_mean"), {"raw": "plain"}) == {
        "ours": "x",
        "why": "y",
    }


def test_the_longer_runs_are_cells_of_the_map_and_continue_its_runs(tmp_path):
    cfg = config(NB05, "default", root=tmp_path)
    plan = bhc.settle_plan(cfg)
    assert len(plan) == len(cfg.settle_cells) * len(cfg.distance_variants) * len(cfg.seeds)
    assert {s["iterations"] for s in plan} == {cfg.iterations * cfg.settle_factor}
    grid = {(s["p"], s["k"], s["lr"], s["squared"], s.seed) for s in bhc.map_plan(cfg)}
    assert all((s["p"], s["k"], s["lr"], s["squared"], s.seed) in grid for s in plan)
    with pytest.raises(ConfigError, match="not a cell of the map"):
        config(NB05, "default", root=tmp_path, settle_cells=[[16, 4, 5e-2]])
    with pytest.raises(ConfigError, match="settle_factor must be >= 2"):
        config(NB05, "default", root=tmp_path, settle_factor=1)


@pytest.mark.trains
def test_a_longer_run_repeats_the_shorter_ones_steps(tiny):
    _, x, y = tiny
    setting = bh.Setting(4, 2, 5e-2, False, False, False, 0.5)
    short = bh.run(x, y, setting, seed=3, iterations=4, every=2, window=2)
    long = bh.run(x, y, setting, seed=3, iterations=8, every=2, window=2)
    assert long["step_loss"][:4] == short["step_loss"]


def _settle_frames(changes: int, n: int):
    import pandas as pd

    def rows(group, flip):
        return [
            {
                "group": group,
                "pk": "8×8",
                "lr": 0.05,
                "variant": "plain",
                "seed": s,
                "collapsed": flip and s < changes,
                "final_spread": 0.0 if flip and s < changes else 2.0,
                "final_loss": 0.5 if flip and s < changes else 0.2,
                "map_mean": 0.001 if flip and s < changes else 0.8,
            }
            for s in range(n)
        ]

    base = pd.DataFrame([{"model": "untrained", "seed": s, "map_mean": 0.5} for s in range(n)])
    return pd.DataFrame(rows("grid", False)), pd.DataFrame(rows("settled", True)), base


@pytest.mark.parametrize(
    "changes, n, verdict", [(0, 36, "reproduced"), (0, 10, "inconclusive"), (1, 40, "not reproduced")]
)
def test_settled_outcomes_by_the_exact_share_of_changed_runs(changes, n, verdict):
    grid, settled, base = _settle_frames(changes, n)
    pairs, moves = bhc.settle_table(grid, settled, base, margin=0.5)
    assert len(pairs) == n and int((pairs["short"] != pairs["long"]).sum()) == changes
    if changes:
        assert moves.loc[("8×8", 0.05, "plain"), "trained → collapsed"] == changes
    row = bhc._settled_claim(pairs, 50, 200)
    assert row["verdict"] == verdict and f"{changes}/{n} runs changed class between step 50 and step 200" in row["ours"]
    with pytest.raises(ValueError, match="no run of the map with the same cell and seed"):
        bhc.settle_table(grid.iloc[1:], settled, base, margin=0.5)


def test_adams_closed_form_hold_matches_torch_adam_step_by_step():
    from dml_utils.losses import batch_hard_triplet

    lr, descent, steps = 1e-2, 4, (1, 3, 5, 9, 30)
    out = bhc.adam_updates_near_collapse(lr, descent=descent, steps=steps)
    z = torch.randn(32, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    labels = torch.arange(8).repeat_interleave(4)
    for squared in (False, True):
        miner, loss = batch_hard_triplet(margin=0.5, squared=squared)
        p = torch.zeros_like(z, requires_grad=True)
        opt = torch.optim.Adam([p], lr=lr)
        seen = {}
        for t in range(1, max(steps) + 1):
            e = (z * 10 ** (-3 * min(t - 1, descent) / descent)).requires_grad_(True)
            (p.grad,) = torch.autograd.grad(loss(e, labels, miner(e, labels)), e)
            before = p.detach().clone()
            opt.step()
            seen[t] = float((p.detach() - before).norm())
        name = "squared" if squared else "plain"
        assert out[f"{name}_update"] == pytest.approx([seen[t] for t in steps], rel=1e-9)
    assert out["scale"] == pytest.approx([1.0, 10**-1.5, 1e-3, 1e-3, 1e-3])


def test_the_adam_claim_reads_the_update_ratio_at_the_runs_length():
    adam = {
        "step": [1, 16, 50],
        "plain_update": [1.0, 1.0, 1.0],
        "squared_update": [1.0, 0.3, 0.02],
        "plain_gradient": [1.0, 1.0, 1.0],
        "squared_gradient": [10.0, 0.01, 0.01],
    }
    assert bhc._adam_claim(adam, 50)["verdict"] == "reproduced"
    assert bhc._adam_claim(adam, 30)["verdict"] == "not reproduced"  # at step 16 Adam still pushes 0.3 as hard
    assert "1.00 at step 1 (scale 1), 0.3 at step 16, 0.02 at step 50" in bhc._adam_claim(adam, 50)["ours"]


@pytest.mark.trains
def test_the_ruler_runs_both_controls_on_the_progressive_path_and_gates_the_ranking(tiny_notebook):
    """The positive control's full side is the progressive run itself (the same spec's path gives
    the same score); the ruler reads the progressive table, and a proxy that cannot rank turns the
    progressive-vs-large-start ranking into *no resolution*."""
    from dml_utils.runs import RunSpec
    from dml_utils.studies.batch_hard_collapse.plan_controls import control_plan, control_run

    cfg, data, grid, traces, prog, prog_traces, base = tiny_notebook
    plan = control_plan(cfg)
    n = cfg.progressive_iterations
    assert [(s["control"], s["iterations"]) for s in plan] == [("short", n // 10)] * 2 + [("shuffled", n)] * 2
    full_short = RunSpec.of(cfg.notebook, "control", 0, dict(plan[0].setting), iterations=cfg.progressive_iterations)
    again = control_run(cfg, data, full_short)["summary"]
    ours = prog[(prog["group"] == "progressive") & (prog["variant"] == "plain") & (prog["seed"] == 0)].iloc[0]
    assert again["table_matching_mean"] == ours["table_matching_mean"]
    ctrl = bhc.controls(cfg, data, progress=False)
    assert sorted(ctrl["control"]) == ["short"] * 2 + ["shuffled"] * 2
    found = bhc.ruler(cfg, prog, base, ctrl, data)
    assert found["ceiling"] == 1.0 and found["metric"] == "table_matching_mean"
    assert "matching mAP" in bhc.format_ruler(found)
    args = (cfg, bhc.triplet_count_table(), bhc.no_valid_triplet_curves(cfg), bhc.gradient_study(cfg), grid, prog, base)
    cannot = {**found, "resolves": False, "problems": ["a made-up failure"]}
    row = (
        bhc.claims(*args, ruler=cannot)
        .set_index("claim")
        .loc["progressive growth gives better descriptors than the large start (matching mAP)"]
    )
    assert row["verdict"] == "no resolution" and "a made-up failure" in row["why"]


def test_the_map_at_its_horizon_beside_the_map_at_50_steps(tmp_path):
    """``before_horizon``: the share of each class per learning rate before and now, and every
    verdict with whether it moved (claims matched by their text with the numbers blanked)."""
    import json

    import pandas as pd

    def grid(classes_at_lr):
        rows = []
        for lr, classes in classes_at_lr.items():
            for s, c in enumerate(classes):
                rows.append(
                    {
                        "group": "grid",
                        "lr": lr,
                        "variant": "plain",
                        "seed": s,
                        "collapsed": c == "collapsed",
                        "final_spread": 0.0 if c == "collapsed" else 2.0,
                        "final_loss": 3.0 if c == "diverged" else 0.2,
                        "map_mean": 0.8,
                    }
                )
        return pd.DataFrame(rows)

    base = pd.DataFrame([{"model": "untrained", "seed": s, "map_mean": 0.5} for s in range(4)])
    old = grid({0.05: ["diverged", "diverged", "collapsed", "trained"], 5e-4: ["trained"] * 4})
    now = grid({0.05: ["collapsed", "collapsed", "collapsed", "trained"], 5e-4: ["trained"] * 4})
    claim = {
        "claim": "(ours) the map's outcomes are settled at 50 steps (4× longer changes none)",
        "kind": "replication",
    }
    doc = {
        "config": {"iterations": 50},
        "collapse_map": old.to_dict("records"),
        "baselines": base.to_dict("records"),
        "claims": [{**claim, "verdict": "not reproduced"}],
        "git_commit": "abcdef0123",
    }
    cfg = config(NB05, "default", root=tmp_path)
    claims_now = pd.DataFrame([{**claim, "claim": claim["claim"].replace("50", "200"), "verdict": "reproduced"}])
    assert bhc.before_horizon(cfg, now, base, claims_now) == (None, f"no {bhc.SHORT_HORIZON}")
    (tmp_path / bhc.SHORT_HORIZON).parent.mkdir(parents=True)
    (tmp_path / bhc.SHORT_HORIZON).write_text(json.dumps(doc))
    table, why = bhc.before_horizon(cfg, now, base, claims_now)
    assert why.startswith(f"{bhc.SHORT_HORIZON} (commit abcdef0")
    assert list(table.columns) == ["what", "row", "map at 50 steps", f"now (map at {cfg.iterations} steps)", "moved"]
    at = table.set_index(["what", "row"])
    assert at.loc[("map, lr 0.05: share of runs", "diverged")].iloc[:2].tolist() == ["0.500", "0.000"]
    assert at.loc[("map, lr 0.05: share of runs", "collapsed")].iloc[:2].tolist() == ["0.250", "0.750"]
    verdict = table[table["what"] == "verdict"].iloc[0]
    assert verdict.iloc[2:].tolist() == ["not reproduced", "reproduced", "yes"]
    assert bhc.before_horizon(config(NB05, "smoke", root=tmp_path), now, base, claims_now)[0] is None


def test_a_runs_class_along_its_trace_and_the_horizon_where_classes_settle():
    """``class_along`` reads a class at each step from the trace alone; ``horizon_table`` counts the
    runs not yet in their end class, which must reach 0 at the step every run has settled."""
    loss = [3.0] * 20 + [0.2] * 10 + [0.7, 0.2] * 5  # diverged, then below m with one noisy step at the end
    late = {"loss": [3.0] * 40, "steps": [0, 10, 20, 30, 39], "spread": [1.0, 1.2, 1.1, 0.05, 0.0], "collapsed_at": 39}
    noisy = {"loss": loss, "steps": [0, 10, 20, 30, 39], "spread": [1.0] * 5, "collapsed_at": None}
    steps = [10, 20, 30, 39, 40, 41]
    assert bhc.class_along(late, steps, 0.5) == ["diverged", "diverged", "collapsed", "collapsed", "collapsed"]
    assert bhc.class_along(noisy, steps, 0.5) == ["diverged", "diverged", "below", "diverged", "below"]
    assert bhc.class_along(noisy, steps, 0.5, window=4) == ["diverged", "diverged", "below", "below", "below"]
    assert bhc.class_along({**noisy, "loss": [0.6] * 40}, [40], 0.5, soft=True) == ["below"]  # 0.6 < ln 2
    classes, moved = bhc.horizon_table({"a/plain": late, "b/plain": noisy}, [10, 20, 30, 40], 0.5, window=4)
    assert classes.loc["a/plain"].tolist() == ["diverged", "diverged", "collapsed", "collapsed"]
    assert moved.tolist() == [2, 2, 0, 0]


def test_the_horizon_pilot_records_its_runs_classes_and_refuses_an_odd_length(tmp_path, monkeypatch):
    import importlib.util
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "pilot_05_horizon.py"
    spec = importlib.util.spec_from_file_location("pilot_05_horizon", path)
    pilot = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pilot)
    monkeypatch.setattr(pilot, "OUT", tmp_path / "horizon.json")
    trace = {"loss": [3.0] * 60 + [0.2] * 40, "steps": list(range(0, 100, 10)), "spread": [1.0] * 10}
    (tmp_path / "t.json").write_text(json.dumps({"x/plain/0": {**trace, "collapsed_at": None}}))
    assert pilot.main(["--traces", str(tmp_path / "t.json"), "--steps", "100", "--seconds", "7"]) == 0
    record = json.loads((tmp_path / "horizon.json").read_text())
    assert record["ladder"] == [25, 50, 100] and record["seconds"] == 7
    assert record["classes"]["window 1"]["x/plain/0"] == ["diverged", "diverged", "below"]
    assert record["not_in_end_class"]["window 20"] == {"25": 1, "50": 1, "100": 0}
    with pytest.raises(SystemExit, match="multiple of 50"):
        pilot.main(["--steps", "120"])


def test_a_run_is_classed_by_the_mean_of_its_last_losses_not_by_its_last_step(tmp_path):
    """On small batches the last step's loss flickers across m: ``_with_end_loss`` records the mean of
    the last ``pinned_window`` losses, and ``classify_runs`` reads it (the last loss without it)."""
    import pandas as pd

    base = pd.DataFrame([{"model": "untrained", "seed": 0, "map_mean": 0.5}])
    done = {
        "row": {
            "variant": "plain",
            "seed": 0,
            "collapsed": False,
            "final_spread": 2.0,
            "final_loss": 0.9,
            "map_mean": 0.8,
        },
        "trace": {"loss": [0.2] * 19 + [0.9]},
    }
    row = bhc._with_end_loss(done, 20)
    assert row["end_loss"] == pytest.approx(0.235) and row["final_loss"] == 0.9
    assert bhc.classify_runs(pd.DataFrame([row]), base, margin=0.5) == ["trained"]
    assert bhc.classify_runs(pd.DataFrame([done["row"]]), base, margin=0.5) == ["diverged"]  # recorded without it
    assert bhc.classify_runs(pd.DataFrame([bhc._with_end_loss(done, 1)]), base, margin=0.5) == ["diverged"]


def test_the_horizon_pilot_is_read_as_a_table_by_step_and_window(tmp_path):
    import json

    assert bhc.horizon_pilot(tmp_path)[0] is None and "pilot_05_horizon.py" in bhc.horizon_pilot(tmp_path)[1]
    doc = {
        "seeds": [90],
        "steps": 100,
        "not_in_end_class": {"window 1": {"50": 2, "100": 0}, "window 20": {"50": 1, "100": 0}},
        "classes": {"window 1": {"a": ["diverged", "below"], "b": ["below", "below"]}},
    }
    (tmp_path / bhc.HORIZON_PILOT).parent.mkdir(parents=True)
    (tmp_path / bhc.HORIZON_PILOT).write_text(json.dumps(doc))
    table, why = bhc.horizon_pilot(tmp_path)
    assert table.loc["50"].tolist() == [2, 1] and list(table.columns) == ["window 1", "window 20"]
    assert why.endswith("2 runs of seeds [90], 100 steps each")
