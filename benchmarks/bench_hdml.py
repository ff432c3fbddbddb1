"""Notebook 02's step: one HDML step (the engine's three updates: J_metric, J_gen, J_cls) vs one
plain step of the same loss (J_m, one update) on the same batch, same network, for triplet and
N-pair, at the notebook's batch (12 Fashion-MNIST images) and at the official batch (128 images:
42 triplets, 64 N-pair pairs of random images, 64 classes). Medians of interleaved repeats (the
machine is shared and noisy); the issue's goal is a ratio ≤ 2."""

from __future__ import annotations

import statistics

import numpy as np
import torch

from dml_utils import hdml as H
from dml_utils.data import load_dataset
from dml_utils.sampling import TupleBatchSampler
from dml_utils.train import fit

REPEATS, STEPS = 7, 20


def batch_for(loss: str, tuples: int, x: np.ndarray, y: np.ndarray):
    b = next(iter(TupleBatchSampler(y, loss, tuples, 1, seed=0)))
    return torch.as_tensor(x[b]), torch.as_tensor(y[b])


def timed(loss: str, apply: bool, batch, classes) -> float:
    torch.manual_seed(0)
    net = H.hdml_net("convnet", 128, tuple(batch[0].shape[1:]))
    hd = H.HDML(net, classes, H.HDMLSettings(loss=loss))
    step = H.hdml_step(net, hd, H.LearningRates(metric=1e-3), apply=apply)
    hist = fit(step, [batch] * STEPS, 1, progress=False)
    return statistics.median(hist.step_times)


def main() -> None:
    torch.set_num_threads(2)
    ds = load_dataset("fashion-mnist")
    keep = np.isin(ds.y_train, [0, 1, 2, 3, 5, 7])
    x, y = ds.x_train[keep], ds.y_train[keep]
    rng = np.random.default_rng(0)
    y64 = rng.integers(0, 64, size=len(y))  # 64 pseudo-classes for the official batch size
    settings = {
        "notebook batch, 12 images": {"triplet": (4, y), "npair": (6, y)},
        "official batch, 126 / 128 images": {"triplet": (42, y64), "npair": (64, y64)},
    }
    for title, losses in settings.items():
        print(
            f"one training step, {title}, SmallConvNet with 2 × 2-pooled features, Adam (median of {REPEATS} repeats × {STEPS} steps)"
        )
        for loss, (tuples, labels) in losses.items():
            batch = batch_for(loss, tuples, x, labels)
            classes = np.unique(labels)
            times = {False: [], True: []}
            for _ in range(REPEATS):
                for apply in (False, True):
                    times[apply].append(timed(loss, apply, batch, classes))
            plain, hdml = statistics.median(times[False]), statistics.median(times[True])
            print(f"  {loss:8s} plain {plain * 1e3:7.1f} ms   HDML {hdml * 1e3:7.1f} ms   ratio {hdml / plain:.2f}")


if __name__ == "__main__":
    main()
