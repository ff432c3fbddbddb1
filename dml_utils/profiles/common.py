"""What every notebook shares: the profile names and where data comes from / how many threads run."""
from __future__ import annotations

from typing import Any

PROFILE_NAMES = ("smoke", "default", "paper")

# Where data comes from and how many torch threads run: the same default for every notebook.
DATA_AND_THREADS: dict[str, Any] = {"data_root": None, "allow_download": False, "threads": 2}


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
        raise ConfigError(f"val_per_class {v['val_per_class']} < samples_per_class {v['samples_per_class']}: the validation loss "
                          "runs on class-balanced batches of held-out images; raise val_per_class or lower samples_per_class")


def check_iterations(v: dict[str, Any], keys: tuple[str, ...]) -> None:
    """Training lengths counted in iterations must be whole blocks of eval_every."""
    for key in keys:
        if v[key] < v["eval_every"] or v[key] % v["eval_every"]:
            raise ConfigError(f"{key} ({v[key]}) must be a positive multiple of eval_every ({v['eval_every']})")
