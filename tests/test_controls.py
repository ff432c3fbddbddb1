"""The ruler's control runs (``dml_utils.controls``): their specs, the shuffled labels of the
negative control and the short budget of the positive one."""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from dml_utils import controls
from dml_utils.class_disjoint import RetrievalData
from dml_utils.config import config


def test_shuffled_labels_keep_class_sizes_and_are_a_fixed_draw_per_seed():
    y = np.repeat(np.arange(6), 20)
    s = controls.shuffled_labels(y, 0)
    assert np.array_equal(np.bincount(s), np.bincount(y))
    assert np.array_equal(s, controls.shuffled_labels(y, 0)) and not np.array_equal(s, controls.shuffled_labels(y, 1))
    assert (s == y).mean() < 0.5  # an image keeps its class only by chance


def _cfg():
    from dml_utils.studies.sampling_matters import parameters

    return config(parameters, "default", root=Path("."))


def test_control_specs_plan_a_short_and_a_shuffled_run_per_seed():
    cfg = _cfg()
    specs = controls.control_specs(cfg, {"loss": "triplet"}, 10)
    assert len(specs) == 2 * len(cfg.seeds)
    assert {(s["control"], s["iterations"]) for s in specs} == {
        ("short", cfg.iterations // 10),
        ("shuffled", cfg.iterations),
    }
    assert {s.seed for s in specs} == set(cfg.seeds) and {s["loss"] for s in specs} == {"triplet"}
    assert {s["iterations"] for s in controls.control_specs(cfg, {}, 1000, iterations=50)} == {1, 50}


@dataclass
class _Spec:
    values: dict
    seed: int = 0
    label: str = field(default="spec")

    def __getitem__(self, key):
        return self.values[key]


def _data():
    y = np.repeat(np.arange(4), 5)
    x = np.zeros((len(y), 2, 2), np.float32)
    return RetrievalData(x, y, x[:2], y[:2], x[:2], y[:2], {})


def test_control_inputs_shuffle_the_negative_and_shorten_the_positive():
    cfg, data = _cfg(), _data()
    same_cfg, shuffled = controls.control_inputs(
        cfg, data, _Spec({"control": "shuffled", "iterations": cfg.iterations})
    )
    assert same_cfg is cfg and not np.array_equal(shuffled.y_train, data.y_train)
    assert np.array_equal(np.sort(shuffled.y_train), np.sort(data.y_train))
    short_cfg, same = controls.control_inputs(cfg, data, _Spec({"control": "short", "iterations": 24}))
    assert same is data and short_cfg.iterations == 24 and short_cfg.eval_every == 24
    kept, _ = controls.control_inputs(cfg, data, _Spec({"control": "short", "iterations": 24}), set_iterations=False)
    assert kept.iterations == cfg.iterations and kept.eval_every == 24
    with pytest.raises(ValueError, match="unknown control 'long'"):
        controls.control_inputs(cfg, data, _Spec({"control": "long", "iterations": 24}))
