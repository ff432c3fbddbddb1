import numpy as np
import pytest

from dml_utils.studies import config
from dml_utils.studies.yukawa_vs_contrastive import study as yc


@pytest.fixture(scope="module")
def digits_run():
    """One seed, two epochs on scikit-learn's 8×8 digits (ships with the package): both losses."""
    cfg = config(
        "03_yukawa_vs_contrastive_mnist", "smoke", datasets=["digits"], seeds=[0], epochs=2, eval_epochs=[1, 2]
    )
    data = yc.prepare(cfg, "digits")
    return cfg, data, yc.run_seed(data, 0, cfg, progress=False)


@pytest.mark.trains
def test_both_losses_start_from_the_same_weights_and_are_evaluated_on_schedule(digits_run):
    cfg, data, out = digits_run
    rec = out["records"]
    assert [(r["loss"], r["epoch"]) for r in rec] == [
        ("untrained", 0),
        ("contrastive", 1),
        ("contrastive", 2),
        ("yukawa", 1),
        ("yukawa", 2),
    ]
    # same initial weights and first batch: the two step-0 losses are those of one network on one batch
    contrastive, yukawa = rec[1]["loss_step0"], rec[3]["loss_step0"]
    assert np.isfinite(contrastive) and np.isfinite(yukawa) and contrastive != yukawa
    assert (
        0 < rec[1]["weight_move"] != rec[2]["weight_move"] > 0
        and 0 < rec[3]["weight_move"] != rec[4]["weight_move"] > 0
    )
    assert set(out["curves"]) == set(yc.LOSSES) and all(len(c) == 2 for c in out["curves"].values())
    assert out["embeddings"]["yukawa"].shape == (len(data.y_test), 128)


@pytest.mark.trains
def test_a_rerun_repeats_and_the_untrained_row_matches_the_baseline_rule(digits_run):
    cfg, data, out = digits_run
    again = yc.run_seed(data, 0, cfg, progress=False)
    assert [r["accuracy"] for r in again["records"]] == [r["accuracy"] for r in out["records"]]
    assert 0 <= out["records"][0]["accuracy"] <= 1 and 0 <= out["records"][0]["map_at_r"] <= 1


def test_build_loss_names():
    assert {type(yc.build_loss(n)).__name__ for n in yc.LOSSES} == {"SquaredHingeContrastiveLoss", "YukawaLoss"}
    with pytest.raises(ValueError, match="unknown pair loss 'triplet'"):
        yc.build_loss("triplet")


def test_the_subsample_is_set_beside_a_full_run_made_by_this_code(tmp_path):
    import json
    from types import SimpleNamespace

    import pandas as pd

    from dml_utils.results import claims_table, paired_interval, paired_tests
    from dml_utils.runs import code_digest

    cfg = config("03_yukawa_vs_contrastive_mnist", "default", root=tmp_path)
    data = {"mnist": None, "fashion-mnist": SimpleNamespace(provenance={"n_train_used": 4000})}
    row = {"reported": "r", "ours": "o", "why": "", "kind": "ranking"}
    here = claims_table(
        [
            {"id": "a/mnist", "claim": "[mnist, epoch 20] a", "verdict": "reproduced", **row},
            {"id": "a/fashion-mnist", "claim": "[fashion-mnist, epoch 20] a", "verdict": "inconclusive", **row},
        ]
    )
    beside, doc, why = yc.full_size(cfg, data, here)
    assert beside is None and "no results/full/" in why
    claim = yc.full_size_claim(cfg, data, beside, why)
    assert claim["verdict"] == "not testable here" and "(4,000 training images)" in claim["claim"]

    a, b = np.array([0.80, 0.82, 0.81]), np.array([0.83, 0.84, 0.85])
    tests = pd.DataFrame([{"dataset": "fashion-mnist", "epoch": 20, "metric": "map_at_r", **paired_tests(a, b)}])
    full = {
        "notebook": cfg.notebook,
        "profile": "full",
        "seed_offset": 0,
        "plan_code": code_digest(yc.seed_run.__module__),
        "seeds": [0, 1, 2],
        "data": [{"name": "fashion-mnist", "n_train_used": 60000, "n_train": 60000}],
        "claims": [{"claim": "[fashion-mnist, epoch 20] a", "verdict": "not reproduced", "ours": "o'"}],
        "paired_tests": tests.assign(mean_diff=-2 * tests["mean_diff"]).to_dict("records"),
    }
    path = tmp_path / "results" / "full" / f"{cfg.notebook}.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(full))
    beside, doc, why = yc.full_size(cfg, data, here)
    assert beside["claim"].tolist() == ["[fashion-mnist, epoch 20] a"] and beside["moved"].all()  # MNIST left out
    assert "60,000 fashion-mnist training images, seeds [0, 1, 2]" in why
    assert yc.full_size_claim(cfg, data, beside, why)["verdict"] == "not reproduced"
    iv = yc.size_intervals(tests, doc, 4000).set_index("comparison")
    ci = paired_interval(a - b)
    assert iv.loc["epoch 20, 4,000 images", "lo"] == pytest.approx(ci["lo"])
    assert iv.loc["epoch 20, 4,000 images", "hi"] == pytest.approx(ci["hi"])
    assert iv.loc["epoch 20, 60,000 images", "mean"] == pytest.approx(-2 * ci["mean"])
    table = yc.full_size_table(beside, doc, 4000)
    assert table.columns.tolist() == ["claim", "4,000 images", "60,000 images (full)", "moved"]
    assert table.iloc[0].tolist() == ["[fashion-mnist, epoch 20] a", "inconclusive", "not reproduced", True]
    full["data"][0]["n_train_used"] = 4000  # a full file that subsampled after all: not used
    path.write_text(json.dumps(full))
    assert yc.full_size(cfg, data, here)[0] is None
    assert yc.full_size(cfg, {"mnist": None}, here)[2].startswith("this run trains on no subsample")


def test_the_full_size_claims_are_the_subsampled_datasets_rows():
    doc = {
        "claims": [
            {"claim": "[mnist, epoch 20] a", "reported": "r", "ours": "o", "verdict": "reproduced", "why": ""},
            {
                "claim": "[fashion-mnist, epoch 20] a",
                "reported": "r",
                "ours": "o",
                "verdict": "inconclusive",
                "why": "",
                "kind": "ranking",
                "id": "a/fashion-mnist/epoch-20",
            },
        ]
    }
    assert yc.full_size_claims(doc)["claim"].tolist() == ["[fashion-mnist, epoch 20] a"]
    doc["claims"][1].pop("kind")
    with pytest.raises(
        ValueError, match="written before claims declared their kind and id: republish them with python"
    ):
        yc.full_size_claims(doc)


@pytest.mark.trains
def test_a_control_run_is_the_main_runs_path_for_its_loss(digits_run):
    """The positive control's full side is the main run: one loss trained alone on the main run's
    path gives its numbers exactly; the shuffled-label control trains on other pairs."""
    from dml_utils.runs import RunSpec
    from dml_utils.studies.yukawa_vs_contrastive.plan_controls import control_plan, control_run

    cfg, data, out = digits_run
    plan = control_plan(cfg, "digits")
    assert [(s["control"], s["iterations"]) for s in plan] == [("short", 1), ("shuffled", 2)]  # 2 epochs // 10 → 1
    main = next(r for r in out["records"] if r["loss"] == "contrastive" and r["epoch"] == 2)
    full_short = RunSpec.of(
        cfg.notebook, "control", 0, dict(plan[0].setting), iterations=2
    )  # "short" at the full budget
    alone = control_run(cfg, data, full_short)
    assert {k: alone["summary"][k] for k in ("accuracy", "map_at_r", "neg_std")} == {
        k: main[k] for k in ("accuracy", "map_at_r", "neg_std")
    }
    shuffled = control_run(cfg, data, plan[1])["summary"]
    assert shuffled["control"] == "shuffled" and shuffled["accuracy"] != main["accuracy"]


def _pair_table(gain: float):
    """A synthetic records table of one dataset: untrained at 0.5, raw pixels at 0.6, both losses
    at epochs 20 and 40 scoring 0.6 + ``gain`` (Yukawa a little above contrastive)."""
    import pandas as pd

    metrics = ("accuracy", "accuracy_best_threshold", "map_at_r", "pos_mean", "pos_mean_filtered", "neg_std")
    rows = [{"dataset": "digits", "loss": "raw pixels", "seed": -1, "epoch": 0, **dict.fromkeys(metrics, 0.6)}]
    for seed in range(5):
        rows.append({"dataset": "digits", "loss": "untrained", "seed": seed, "epoch": 0, **dict.fromkeys(metrics, 0.5)})
        for loss, extra in (("contrastive", 0.0), ("yukawa", 0.004)):
            for epoch in (20, 40):
                v = 0.6 + gain + extra + 0.001 * seed
                rows.append(
                    {"dataset": "digits", "loss": loss, "seed": seed, "epoch": epoch, **dict.fromkeys(metrics, v)}
                )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("gain,resolves", [(0.2, True), (0.005, False)])
def test_a_ranking_counts_only_on_a_proxy_that_passes_its_ruler(gain, resolves):
    import pandas as pd

    cfg = config("03_yukawa_vs_contrastive_mnist", "default")
    df = _pair_table(gain)
    full = 0.6 + gain + 0.001 * np.arange(5)
    ctrl = pd.DataFrame(
        [
            {"dataset": "digits", "control": control, "seed": s, **dict.fromkeys(yc.RULED, full[s] - drop - 0.0005 * s)}
            for control, drop in (("short", 0.05), ("shuffled", 0.3))
            for s in range(5)
        ]
    )
    found = yc.rulers(cfg, df, ctrl, {"digits": dict.fromkeys(yc.RULED, 1.0)})
    assert {m: r["resolves"] for m, r in found["digits"].items()} == dict.fromkeys(yc.RULED, resolves)
    assert found["digits"]["accuracy"]["headroom"] == pytest.approx(gain + 0.004 + 0.002)
    table = yc.claims(df, cfg, rulers=found)
    ranking = table[table["claim"].str.contains("beats contrastive on pair-verification|better embeddings")]
    distance = table[table["claim"].str.contains("mean D|std of negative")]
    assert len(ranking) == 3 and len(distance) == 3
    assert (ranking["verdict"] == "no resolution").all() != resolves
    assert not (distance["verdict"] == "no resolution").any()  # no ruler: the distances are measured directly
    assert "— digits —" in yc.format_rulers(found)
