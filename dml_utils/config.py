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

# Where data comes from and how many torch threads run: the same default for every notebook.
DATA_AND_THREADS: dict[str, Any] = {"data_root": None, "allow_download": False, "threads": 2}

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
            **DATA_AND_THREADS,
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
    "04_sampling_matters": {
        "common": {
            "dataset": "fashion-mnist",
            "train_classes": [0, 1, 2, 3, 5, 7],  # as notebook 01; 4, 6, 8, 9 unseen
            "n_max": 1000,  # images per training class
            "imbalance_ratio": 1,  # balanced
            "val_per_class": 200,  # held-out test-split images of each training class
            "test_per_class": 250,  # test-split images of each unseen class
            "classes_per_batch": 6,  # every training class in every batch (paper: 14 of its classes)
            "samples_per_class": 8,  # paper: 5
            "batch_size": 48,  # must equal cpb × spc (paper: 70)
            "embedding_size": 128,  # paper: 128-d, L2-normalized
            "backbone": "convnet",
            "pretrained": True,  # ResNet18 only
            "lr": 1e-3,  # Adam, backbone
            "beta_lr": 1e-2,  # Adam, MarginLoss's β (official code: SGD at 0.1 on β)
            "samplers": ["uniform", "semihard", "hard", "distance"],
            "losses": ["contrastive", "triplet", "margin"],
            "contrastive_margin": 1.0,  # α of (1 − y)[α − D]²₊ on the unit sphere
            "triplet_margin": 0.2,  # paper: α = 0.2, plain distances (triplet ℓ2)
            "margin_alpha": 0.2,  # paper: α = 0.2
            "margin_beta": 1.2,  # paper: β₀ = 1.2, learnable per class
            "cutoff": 0.5,  # paper: weights capped at q(0.5)^{-1}
            "nonzero_loss_cutoff": 1.4,  # paper: sample only D < α + β
            "sphere_dims": [3, 8, 32, 128, 512],  # paper's fig. 2
            "sphere_samples": 100_000,
            "noise_sigmas": [0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5],
            "noise_draws": 200,
            "claim_sigma": 0.05,  # the σ at which the claims table compares gradient variances
            "diag_per_class": 20,  # images per class in the diagnostic batch
            "loss_eval_batches": 4,
            "image_size": None,  # image-folder datasets only (paper profile)
            "device": "auto",  # the GPU when there is one, else the CPU
            **DATA_AND_THREADS,
        },
        "smoke": {
            "seeds": [0],
            "iterations": 40,
            "eval_every": 20,
            "n_max": 300,
            "sphere_samples": 20_000,
            "noise_draws": 50,
            "diag_per_class": 8,
        },
        "default": {
            "seeds": [0, 1, 2, 3, 4],  # 3 seeds left most paired comparisons inconclusive (t at 2 df is 4.3)
            "iterations": 240,  # 60 runs must fit the 10-minute budget; MAP@R still rises slowly here
            "eval_every": 80,
        },
        "paper": {  # the paper's set-up on Cars196 (data_root = the folder with cars_annos.mat and car_ims/)
            "seeds": [0, 1, 2],
            "dataset": "cars196",  # or "cub200" / "sop" with their folders
            "train_classes": None,  # the standard split: classes 1–98 train, 99–196 are the unseen test classes
            "n_max": None,  # every training image
            "val_per_class": 5,  # held out of each training class for the validation loss and MAP@R
            "test_per_class": None,  # every image of the unseen classes
            "image_size": 224,  # RGB, shorter side resized, centre crop (paper: 224 crops)
            "backbone": "resnet18",  # paper: ResNet-50; ImageNet weights when torchvision has them cached
            "classes_per_batch": 14,  # paper: batch 70 = 14 classes × 5
            "samples_per_class": 5,
            "batch_size": 70,
            "iterations": 6000,
            "eval_every": 500,
            "diag_per_class": 5,
        },
    },
    "01_circle_vs_triplet_margin": {
        "common": {
            "dataset": "fashion-mnist",
            "train_classes": [0, 1, 2, 3, 5, 7],  # T-shirt, trouser, pullover, dress, sandal, sneaker; 4, 6, 8, 9 unseen
            "n_max": 1200,  # images of the largest training class
            "imbalance_ratio": 50,  # largest / smallest training class (exponential long tail)
            "val_per_class": 200,  # held-out test-split images of each training class
            "test_per_class": 250,  # test-split images of each unseen class
            "classes_per_batch": 4,  # report's cpb
            "samples_per_class": 8,  # report's spc
            "batch_size": 32,  # must equal cpb × spc
            "embedding_size": 128,  # report: 128-d, L2-normalized
            "backbone": "convnet",
            "pretrained": True,  # ResNet18 only: ImageNet weights when torchvision has them cached
            "lr": 1e-3,  # Adam
            "miner": "multisimilarity",
            "circle_margin": 0.4,  # circle loss paper default (fine-grained retrieval)
            "circle_gamma": 80,
            "triplet_margin": 0.1,  # in the range that tuned well in "A Metric Learning Reality Check"
            "circle_margins": [0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],  # the report's sweep
            "triplet_margins": [0.05, 0.1, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
            "converge_fraction": 0.9,
            "timing_repeats": 15,  # interleaved repeats of the step-time benchmark (circle vs triplet)
            "timing_steps": 10,  # iterations of each loss per repeat
            "loss_eval_batches": 8,
            "smooth_window": 50,  # report: moving average of 50
            "umap_classes": 4,
            "umap_points": 600,
            "device": "auto",  # the GPU when there is one, else the CPU
            **DATA_AND_THREADS,
        },
        "smoke": {
            "seeds": [0],
            "iterations": 40,
            "eval_every": 20,
            "sweep_seeds": [0],
            "sweep_iterations": 20,
            "circle_margins": [0.4, 1.0],
            "triplet_margins": [0.1, 1.0],
            "smooth_window": 10,
            "umap_points": 200,
            "loss_eval_batches": 2,
        },
        "default": {
            "seeds": [0, 1, 2, 3, 4],  # the circle-vs-triplet comparison; the sweep keeps 3 seeds per margin
            "iterations": 600,
            "eval_every": 50,
            "sweep_seeds": [0, 1, 2],
            "sweep_iterations": 150,
        },
        "paper": {
            "seeds": [0, 1, 2],
            "backbone": "resnet18",
            "n_max": 6000,
            "iterations": 6000,
            "eval_every": 200,
            "sweep_seeds": [0, 1, 2],
            "sweep_iterations": 1000,
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
    if "classes_per_batch" in v and v["classes_per_batch"] * v["samples_per_class"] != v["batch_size"]:
        raise ConfigError(
            f"batch_size {v['batch_size']} != classes_per_batch {v['classes_per_batch']} × samples_per_class "
            f"{v['samples_per_class']}; change one of them so that they match"
        )
    if v.get("val_per_class") is not None and "samples_per_class" in v and v["val_per_class"] < v["samples_per_class"]:
        raise ConfigError(f"val_per_class {v['val_per_class']} < samples_per_class {v['samples_per_class']}: the validation loss "
                          "runs on class-balanced batches of held-out images; raise val_per_class or lower samples_per_class")
    if "samples_per_class" in v and v["samples_per_class"] < 2:
        raise ConfigError("samples_per_class must be >= 2: a class needs a positive pair")
    for key in ("circle_margin", "triplet_margin", "contrastive_margin", "margin_alpha", "margin_beta", "cutoff"):
        if key in v and not v[key] > 0:
            raise ConfigError(f"{key} must be > 0, got {v[key]}")
    for key in ("circle_margins", "triplet_margins"):
        if key in v and (not v[key] or min(v[key]) <= 0):
            raise ConfigError(f"{key} must be a non-empty list of margins > 0, got {v[key]}")
    for key in ("iterations", "sweep_iterations"):
        if key in v and (v[key] < v["eval_every"] or v[key] % v["eval_every"]):
            raise ConfigError(f"{key} ({v[key]}) must be a positive multiple of eval_every ({v['eval_every']})")
    if "nonzero_loss_cutoff" in v and not v["nonzero_loss_cutoff"] > v["cutoff"]:
        raise ConfigError(f"nonzero_loss_cutoff ({v['nonzero_loss_cutoff']}) must exceed cutoff ({v['cutoff']})")
    if "sphere_dims" in v and min(v["sphere_dims"]) < 2:
        raise ConfigError(f"sphere_dims must all be >= 2 (the distance law needs n >= 2), got {v['sphere_dims']}")
    if "lr" in v and not v["lr"] > 0:
        raise ConfigError(f"lr must be > 0, got {v['lr']!r}")
    if "threads" in v and (not isinstance(v["threads"], int) or v["threads"] < 1):
        raise ConfigError(f"threads must be a whole number >= 1, got {v['threads']!r}")
    if "device" in v:
        resolve_device(v["device"])


def resolve_device(name: str) -> torch.device:
    """The torch device for a name: "auto" (CUDA when available, else the CPU), "cpu", or "cuda[:N]"
    where CUDA is. The committed results are CPU runs; a GPU gives other (not bit-identical) numbers."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if isinstance(name, str) and name.split(":")[0] == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name!r}: this machine has no CUDA GPU; use device='cpu' or 'auto'")
        return torch.device(name)
    raise ConfigError(f"unknown device {name!r}; use 'auto', 'cpu' or 'cuda'")


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
