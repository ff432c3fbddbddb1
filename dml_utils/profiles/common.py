"""What every notebook shares: the profile names and where data comes from / how many threads run."""

from __future__ import annotations

import ast
import os
from typing import Any

PROFILE_NAMES = ("smoke", "default", "paper")

# Where data comes from and how many torch threads run: the same default for every notebook.
DATA_AND_THREADS: dict[str, Any] = {"data_root": None, "allow_download": False, "threads": 2}


# Types shared by notebooks: every run, and the class-disjoint retrieval set-up of 01 and 04.
RUN_TYPES: dict[str, str] = {
    "data_root": "path | None",
    "allow_download": "bool",
    "threads": "int",
    "seeds": "list[int]",
    "lr": "float",
}
CLASS_DISJOINT_TYPES: dict[str, str] = {
    "dataset": "str",
    "train_classes": "list[int] | None",
    "n_max": "int | None",
    "imbalance_ratio": "float",
    "val_per_class": "int | None",
    "test_per_class": "int | None",
    "classes_per_batch": "int",
    "samples_per_class": "int",
    "batch_size": "int",
    "embedding_size": "int",
    "backbone": "str",
    "pretrained": "bool",
    "device": "str",
    "loss_eval_batches": "int",
    "iterations": "int",
    "eval_every": "int",
}


class ConfigError(ValueError):
    """A parameter value that cannot work; the message says how to fix it."""


# ---------------------------------------------------------------- rules the notebooks' validate() combine
def check_run(v: dict[str, Any]) -> None:
    """Seeds, threads and learning rate: every notebook has them."""
    if not v["seeds"] or len(set(v["seeds"])) != len(v["seeds"]):
        raise ConfigError(f"seeds must be a non-empty list of distinct integers, got {v['seeds']!r}")
    if not isinstance(v["threads"], int) or isinstance(v["threads"], bool) or v["threads"] < 1:
        raise ConfigError(f"threads must be a whole number >= 1, got {v['threads']!r}")
    if not v["lr"] > 0:
        raise ConfigError(f"lr must be > 0, got {v['lr']!r}")


def check_positive(v: dict[str, Any], keys: tuple[str, ...]) -> None:
    for key in keys:
        if not v[key] > 0:
            raise ConfigError(f"{key} must be > 0, got {v[key]}")


def check_class_balanced_batches(v: dict[str, Any]) -> None:
    """P classes × K samples per batch, and enough held-out images for the validation batches."""
    if v["samples_per_class"] < 2:
        raise ConfigError("samples_per_class must be >= 2: a class needs a positive pair")
    if v["classes_per_batch"] * v["samples_per_class"] != v["batch_size"]:
        raise ConfigError(
            f"batch_size {v['batch_size']} != classes_per_batch {v['classes_per_batch']} × samples_per_class "
            f"{v['samples_per_class']}; change one of them so that they match"
        )
    if v["val_per_class"] is not None and v["val_per_class"] < v["samples_per_class"]:
        raise ConfigError(
            f"val_per_class {v['val_per_class']} < samples_per_class {v['samples_per_class']}: the validation loss "
            "runs on class-balanced batches of held-out images; raise val_per_class or lower samples_per_class"
        )


def check_iterations(v: dict[str, Any], keys: tuple[str, ...]) -> None:
    """Training lengths counted in iterations must be whole blocks of eval_every."""
    for key in keys:
        if v[key] < v["eval_every"] or v[key] % v["eval_every"]:
            raise ConfigError(f"{key} ({v[key]}) must be a positive multiple of eval_every ({v['eval_every']})")


# ---------------------------------------------------------------- parameter types
# A type is written as in the parameters cells: "int", "float", "bool", "str", "list[int]",
# "dict[str, int]", with " | None" when None is allowed. A float parameter takes an int;
# nothing takes a bool but "bool" (True is an int to Python).
_SCALARS = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,), "path": (str, os.PathLike)}


def _fits(value: Any, kind: str) -> bool:
    kind = kind.strip()
    if kind.endswith("| None"):
        return value is None or _fits(value, kind[: -len("| None")])
    if kind.startswith("list[") and kind.endswith("]"):
        return isinstance(value, (list, tuple)) and all(_fits(v, kind[5:-1]) for v in value)
    if kind.startswith("dict[") and kind.endswith("]"):
        k, v = (p.strip() for p in kind[5:-1].split(",", 1))
        return isinstance(value, dict) and all(_fits(a, k) and _fits(b, v) for a, b in value.items())
    if kind not in _SCALARS:
        raise KeyError(f"unknown parameter type {kind!r}")
    if isinstance(value, bool) and kind != "bool":
        return False
    return isinstance(value, _SCALARS[kind])


def _example(kind: str) -> str:
    kind = kind.replace(" | None", "")
    return {
        "int": "40",
        "float": "0.001",
        "str": '"mnist"',
        "bool": "True",
        "list[int]": "[0, 1, 2]",
        "list[float]": "[0.4, 0.5]",
        "list[str]": '["mnist"]',
        "dict[str, int]": '{"fashion-mnist": 400}',
    }.get(kind, kind)


def check_types(v: dict[str, Any], types: dict[str, str]) -> None:
    """Every value of ``v`` against its declared type, in place; the message names the parameter,
    the value and the fix. A string that holds a Python literal of the right type is read as that
    literal: ``papermill -p seeds "[0, 1]"`` passes the list as a string."""
    for key, value in v.items():
        kind = types[key]
        if _fits(value, kind):
            continue
        if isinstance(value, str) and not _fits("", kind):
            try:
                parsed = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                parsed = value
            if _fits(parsed, kind):
                v[key] = parsed
                continue
        hint = ""
        if isinstance(value, str) and kind.startswith("list"):
            hint = " (a single string, not a list)"
        raise ConfigError(
            f"{key} must be {kind}, got {value!r} ({type(value).__name__}){hint}; e.g. {key} = {_example(kind)}"
        )
