"""What training on a few seen classes does to the retrieval of unseen ones (issue 47's question on
Fashion-MNIST, where trained nets do not beat the untrained one on the unseen classes): a training
run that measures the unseen images from step 0 on, every ``eval_every`` steps, by

- MAP@R of the embedding (the studies' protocol) and of the backbone's features before the
  embedding head (does the trunk lose what tells the unseen classes apart, or only the head?);
- MAP@R of each unseen class (which classes lose);
- the participation ratio of the unseen images' L2-normalized embeddings, (Σλ)² / Σλ² over the
  eigenvalues λ of their covariance: how many dimensions they spread over. A net trained to separate
  C classes needs at most C − 1 of them.

Imported only by the transfer plans, so that its code is in their runs' cache keys and no other's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from .class_disjoint import RetrievalData
from .config import Config
from .evaluate import CLASS_DISJOINT, embed, retrieval_metrics
from .retrieval_run import train_step_and_evaluate
from .train import Step

PLATEAU_CHECKS = 4  # a run's plateau: the mean of its last checks (at eval_every 50: its last 200 steps)


def participation_ratio(emb: np.ndarray) -> float:
    """(Σλ)² / Σλ² of the covariance eigenvalues of the L2-normalized rows of ``emb`` (scikit-learn's
    PCA gives the eigenvalues; the ratio itself is not in a library): 1 when the points lie on one
    line, d when they spread evenly over d dimensions."""
    from sklearn.decomposition import PCA

    e = np.asarray(emb, dtype=np.float64).reshape(len(emb), -1)
    if len(e) < 2:
        raise ValueError(f"a participation ratio needs at least 2 points, got {len(e)}")
    e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
    lam = PCA().fit(e).explained_variance_
    total = float(lam.sum())
    return total**2 / float((lam**2).sum()) if total > 0 else 0.0


def per_class_map_at_r(emb: np.ndarray, labels: np.ndarray) -> dict[int, float]:
    """MAP@R of each class's queries against every other item, cosine k-NN as the studies' protocol
    (PML's AccuracyCalculator with ``return_per_class``)."""
    from pytorch_metric_learning.distances import LpDistance
    from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator
    from pytorch_metric_learning.utils.inference import CustomKNN

    y = np.asarray(labels)
    calc = AccuracyCalculator(
        include=("mean_average_precision_at_r",),
        knn_func=CustomKNN(LpDistance(normalize_embeddings=True)),
        k="max_bin_count",
        return_per_class=True,
        device=torch.device("cpu"),
    )
    e = torch.as_tensor(np.asarray(emb), dtype=torch.float32).reshape(len(y), -1)
    per = calc.get_accuracy(e, torch.as_tensor(y))["mean_average_precision_at_r"]
    return {int(c): float(v) for c, v in zip(np.unique(y), per, strict=True)}


@torch.no_grad()
def features(model: torch.nn.Module, x: np.ndarray) -> np.ndarray | None:
    """The backbone's output before its embedding head (``model.features``: the ConvNet's trunk);
    None for a backbone without one."""
    if not hasattr(model, "features"):
        return None
    was = model.training
    model.eval()
    t = torch.as_tensor(x)
    out = model.features(t.unsqueeze(1) if t.ndim == 3 else t).numpy()
    model.train(was)
    return out


def unseen_measures(model: torch.nn.Module, data: RetrievalData) -> dict[str, Any]:
    """The unseen images' embedding MAP@R, trunk-feature MAP@R, per-class MAP@R and participation ratio."""
    e, f = embed(model, data.x_test), features(model, data.x_test)
    out = {
        "unseen_map_at_r": CLASS_DISJOINT.map_at_r(e, data.y_test),
        "unseen_per_class": per_class_map_at_r(e, data.y_test),
        "unseen_participation_ratio": participation_ratio(e),
    }
    if f is not None:
        out["unseen_features_map_at_r"] = retrieval_metrics(f, data.y_test, normalize=True)["map_at_r"]
    return out


def transfer_run(
    cfg: Config,
    data: RetrievalData,
    make: Callable[[torch.nn.Module], tuple[torch.nn.Module, Step]],
    seed: int,
    iterations: int,
    desc: str,
) -> dict[str, Any]:
    """Train as ``retrieval_run.train_step_and_evaluate`` (its seed, batches, checks) and measure the
    unseen images (:func:`unseen_measures`) at step 0 and at every check: the curve from the untrained
    net on. Returns the curve (step 0 first) and the summary: step 0, the last check and the plateau
    (mean of the last ``PLATEAU_CHECKS`` checks) of each measure."""
    start: dict[str, Any] = {}

    def measured_make(model):
        start.update(
            unseen_measures(model, data), val_map_at_r=CLASS_DISJOINT.map_at_r(embed(model, data.x_val), data.y_val)
        )
        return make(model)

    out = train_step_and_evaluate(
        cfg, data, measured_make, seed, iterations, desc, lambda m: unseen_measures(m, data), False, None
    )
    curve = [{"iteration": 0, **start}, *out["curve"]]
    tail = curve[-PLATEAU_CHECKS:] if len(curve) > PLATEAU_CHECKS else curve[1:]
    scalars = ("unseen_map_at_r", "unseen_features_map_at_r", "unseen_participation_ratio", "val_map_at_r")
    summary = {"seed": seed, "iterations": iterations}
    for k in (k for k in scalars if k in start):
        summary |= {
            f"{k}_step0": start[k],
            f"{k}_last": curve[-1][k],
            f"{k}_plateau": float(np.mean([r[k] for r in tail])),
        }
    summary["unseen_per_class_step0"] = start["unseen_per_class"]
    summary["unseen_per_class_plateau"] = {
        c: float(np.mean([r["unseen_per_class"][c] for r in tail])) for c in start["unseen_per_class"]
    }
    return {"summary": summary, "curve": curve}
