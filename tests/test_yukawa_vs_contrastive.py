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
