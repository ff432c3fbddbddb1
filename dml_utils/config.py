"""Profiles, resolved configuration, output folders and seeding for the notebooks.

A notebook's ``parameters`` cell holds plain literals; ``config(notebook, profile, **overrides)``
turns them into one resolved, validated ``Config``. ``None`` overrides mean "the profile's value".
"""
from __future__ import annotations

import difflib
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

PROFILES = ("smoke", "default", "paper")

# Per notebook: the values each profile sets. Anything not listed is taken from "common".
NOTEBOOK_PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    "03_yukawa_vs_contrastive_mnist": {
        "common": {
            "batch_size": 128,  # report: batch 128
            "lr": 1e-3,  # Keras RMSprop default
            "rho": 0.9,  # Keras RMSprop default (PyTorch's alpha defaults to 0.99)
            "rms_eps": 1e-7,  # Keras RMSprop default (PyTorch's eps defaults to 1e-8)
            "threshold": 0.5,  # pair verification: same class iff D < 0.5
            "pos_filter": 0.4,  # the report's positive-distance stats kept only D < 0.4
            "data_root": None,
            "allow_download": False,
            "threads": 2,
            "tsne_points": 1000,
            "test_fraction": 0.2,  # only for sources without an official test split
        },
        "smoke": {
            "datasets": ["mnist"],
            "seeds": [0, 1],
            "epochs": 4,
            "eval_epochs": [2, 4],
            "train_per_class": None,
            "tsne_points": 300,
            "require_full": False,
        },
        "default": {
            "datasets": ["mnist", "fashion-mnist"],
            "seeds": [0, 1, 2, 3, 4],
            "epochs": 40,
            "eval_epochs": [20, 40],
            "train_per_class": {"fashion-mnist": 400},  # as many as the MNIST subset: fits the CPU budget
            "require_full": False,
        },
        "paper": {
            "datasets": ["mnist"],
            "seeds": [0, 1, 2, 3, 4],
            "epochs": 40,
            "eval_epochs": [20, 40],
            "train_per_class": None,
            "require_full": True,  # the report trained on all 60,000 MNIST digits
        },
    },
}


class ConfigError(ValueError):
    """A parameter value that cannot work; the message says how to fix it."""


@dataclass
class Config:
    notebook: str
    profile: str
    values: dict[str, Any]
    root: Path
    figures_dir: Path = field(init=False)
    results_dir: Path = field(init=False)

    def __post_init__(self) -> None:
        base = self.root if self.profile == "default" else self.root / "build" / self.profile
        self.figures_dir = base / "figures"
        self.results_dir = base / "results"

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("values", {})
        if name in values:
            return values[name]
        raise AttributeError(f"config has no parameter {name!r}; known: {sorted(values)}")

    @property
    def prefix(self) -> str:
        return self.notebook.split("_", 1)[0]

    def as_dict(self) -> dict[str, Any]:
        return {"notebook": self.notebook, "profile": self.profile, **self.values}


def repo_root() -> Path:
    """The repository folder: where this package sits when installed editable, else the cwd."""
    here = Path(__file__).resolve().parents[1]
    if (here / "pyproject.toml").exists() and (here / "notebooks").exists():
        return here
    return Path.cwd()


def _suggest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def config(notebook: str, profile: str = "default", root: Path | None = None, **overrides: Any) -> Config:
    """Resolve ``profile`` for ``notebook`` and apply the non-None ``overrides``."""
    if notebook not in NOTEBOOK_PROFILES:
        known = sorted(NOTEBOOK_PROFILES)
        raise ConfigError(f"unknown notebook {notebook!r}; known: {known}.{_suggest(notebook, known)}")
    if profile not in PROFILES:
        raise ConfigError(
            f"unknown profile {profile!r}; use one of {list(PROFILES)}"
            f" (smoke: a quick check, default: the committed results, paper: the report's scale).{_suggest(str(profile), list(PROFILES))}"
        )
    table = NOTEBOOK_PROFILES[notebook]
    values = {**table["common"], **table[profile]}
    for key, value in overrides.items():
        if key not in values:
            raise ConfigError(f"unknown parameter {key!r} for {notebook}; known: {sorted(values)}.{_suggest(key, list(values))}")
        if value is not None:
            values[key] = value
    _validate(values)
    return Config(notebook=notebook, profile=profile, values=values, root=Path(root) if root else repo_root())


def _validate(v: dict[str, Any]) -> None:
    if "epochs" in v and (not isinstance(v["epochs"], int) or v["epochs"] < 1):
        raise ConfigError(f"epochs must be a whole number >= 1, got {v['epochs']!r}")
    if "batch_size" in v and (not isinstance(v["batch_size"], int) or v["batch_size"] < 2):
        raise ConfigError(
            f"batch_size must be a whole number >= 2 (a pair or metric loss needs at least two samples), got {v['batch_size']!r}"
        )
    if "eval_epochs" in v:
        bad = [e for e in v["eval_epochs"] if not 1 <= e <= v["epochs"]]
        if bad:
            raise ConfigError(f"eval_epochs {bad} fall outside 1..epochs={v['epochs']}; lower them or raise epochs")
    if "seeds" in v and (not v["seeds"] or len(set(v["seeds"])) != len(v["seeds"])):
        raise ConfigError(f"seeds must be a non-empty list of distinct integers, got {v['seeds']!r}")
    if "lr" in v and not v["lr"] > 0:
        raise ConfigError(f"lr must be > 0, got {v['lr']!r}")
    if "threads" in v and (not isinstance(v["threads"], int) or v["threads"] < 1):
        raise ConfigError(f"threads must be a whole number >= 1, got {v['threads']!r}")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a torch.Generator for DataLoaders seeded the same."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def make_deterministic(threads: int) -> None:
    """Deterministic kernels and a pinned thread count: results differ between 1 and 2 threads."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(threads)
