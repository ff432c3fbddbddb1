"""Study 02's runs at the official scale of HDML's losses: the plan (``scale_plan``) and the task
that carries one run out (``scale_run``), apart from the grid's plan so that neither retrains the other.

Whether λ = e^{−α/J_avg} is a graded hardness or a switch depends on the size of J_avg next to
α = 90, and J_avg's size is set by conventions the proxy of the grid does not share. In the
authors' code (``main_triplet.py``, ``main_npair.py``, ``lib/GoogleNet_Model.py``):

- **The backbone is frozen.** GoogLeNet's ImageNet weights are loaded as ``tf.constant``s, so the
  metric net's trainable part is BN1 → fc1 (1024 → 128) on fixed 1024-d features, and the weight
  decay of J_m, taken over ``tf.trainable_variables()`` without batch norm when the graph is built,
  is 5e-3 · ‖W_fc1, b_fc1‖² / 2 alone (≈ 0.57 at a Glorot-uniform start).
- **fc1 starts Glorot-uniform** (their ``weight_variable``), biases at 0. After BN1 every feature
  has unit variance over the batch, so the mean squared distance between two embeddings starts
  near 2 · 1024 · 128 · 2 / (1024 + 128) ≈ 455 whatever the backbone.
- **Batch and reduction**: triplet J sums the hinge over the batch's triplets (5 in the report's
  batch of 15), N-pair J is a mean cross-entropy over 64 pairs (the official batch 128).
- The net learns at 7e-5 (``init_learning_rate``), the generator at 1e-2, the classifier at 1e-3,
  and the classifier has one output per training class (Cars196: 98).

``scale_run`` trains exactly that: :class:`dml_utils.hdml.HDML` on fixed 1024-d features of 98
classes, with the official head, initialization, batches and learning rates. The features come
from the caller (notebook 02: a frozen, untrained GoogLeNet on patch sequences cut from real
photos, since no ImageNet weights can be downloaded here); only how fast J falls depends on them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from dml_utils import hdml as H
from dml_utils.config import Config
from dml_utils.data import batch_loader
from dml_utils.runs import RunSpec
from dml_utils.sampling import TupleBatchSampler
from dml_utils.train import fit

from .plan import settings

FEATURE_DIM = 1024  # GoogLeNet's pooled features (official fc1: in_d=1024)
OFFICIAL_TUPLES = {"triplet": 5, "npair": 64}  # the report's triplet batch of 15; the official batch of 128
OFFICIAL_RATES = H.LearningRates(metric=7e-5, generator=1e-2, softmax=1e-3)  # init_learning_rate, lr_gen, s_lr
SCALE_KEYS = ("J_m", "J_m_weighted", "J_gen", "J_soft", "J_recon", "wd", "hardness", "balance", "pulled")


def official_head(embedding_size: int, feature_dim: int = FEATURE_DIM) -> H.HDMLNet:
    """BN1 → fc1 on fixed features, as the official graph: no trainable backbone (the features are
    the input), fc1 Glorot-uniform with zero bias (TensorFlow's ``glorot_uniform_initializer`` and
    ``constant_initializer(0)``), BN with TensorFlow's defaults (HDMLNet)."""
    net = H.HDMLNet(nn.Identity(), feature_dim, embedding_size)
    nn.init.xavier_uniform_(net.fc.weight)
    nn.init.zeros_(net.fc.bias)
    return net


def scale_plan(cfg: Config) -> list[RunSpec]:
    """Every loss of ``scale_losses`` at its official tuples per batch, for the first ``scale_seed_count``
    seeds, ``scale_iterations`` steps each."""
    return [
        RunSpec.of(
            cfg.notebook, "scale", seed, {"loss": loss}, tuples=OFFICIAL_TUPLES[loss], iterations=cfg.scale_iterations
        )
        for loss in cfg.scale_losses
        for seed in cfg.seeds[: cfg.scale_seed_count]
    ]


def scale_run(cfg: Config, data: tuple[np.ndarray, np.ndarray], spec: RunSpec, progress: bool = True) -> dict[str, Any]:
    """One HDML run at the official scale on ``data`` = (features (n, 1024) float32, class ids):
    every recorded loss and weight per step (``SCALE_KEYS``)."""
    features, labels = data
    loss = spec["loss"]
    net = official_head(cfg.embedding_size, features.shape[1])
    hd = H.HDML(net, np.unique(labels), settings(cfg, loss))
    step = H.hdml_step(net, hd, OFFICIAL_RATES)
    sampler = TupleBatchSampler(labels, loss, spec["tuples"], spec["iterations"], seed=spec.seed)
    hist = fit(
        step,
        batch_loader(np.asarray(features, dtype=np.float32), labels, sampler),
        1,
        desc=f"{loss} + HDML at the official scale, seed {spec.seed}",
        progress=progress,
    )
    return {
        "loss": loss,
        "seed": spec.seed,
        "tuples": spec["tuples"],
        "batch_images": sampler.batch_size,
        "history": {k: np.asarray(hist.losses[k], dtype=np.float64) for k in SCALE_KEYS},
    }
