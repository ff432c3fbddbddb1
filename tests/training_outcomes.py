"""Outcomes of short training runs, one seed each, that the ``trains`` tests assert as counts over
several seeds. ``scripts/training_test_rates.py`` measures how often each holds over many seeds
(and under another float path): the bounds in the tests come from there.

Each outcome takes a run seed (shifted by ``DML_SEED_OFFSET`` where the package turns it into a
generator) and returns True when the outcome holds for that seed.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
import torch
from scipy import stats

# A test asserts an outcome in at least min_count(...) of its n seeds: the count that a rate as low
# as the lower end of the measured rate's Clopper-Pearson 95 % interval still reaches with
# probability >= 1 - FALSE_ALARM. So a test fails by chance once in a few hundred CPUs or shifts,
# and a broken method (a rate far below the measured one) fails it.
FALSE_ALARM = 0.005


def rate_lower_bound(k: int, n: int, level: float = 0.95) -> float:
    """Lower end of the Clopper-Pearson interval of a rate seen k times in n."""
    return 0.0 if k == 0 else float(stats.beta.ppf((1 - level) / 2, k, n - k + 1))


def min_count(measured: tuple[int, int], n: int, false_alarm: float = FALSE_ALARM) -> int:
    """The largest t such that an outcome measured ``k`` times in ``N`` (``measured``) holds in at
    least t of n new seeds with probability >= 1 - false_alarm (binomial at the rate's lower bound)."""
    p = rate_lower_bound(*measured)
    t = 0
    while t < n and stats.binom.cdf(t, n, p) <= false_alarm:  # P(X <= t) small: asking for t + 1 is safe
        t += 1
    return t


@lru_cache(maxsize=1)
def tiny_patches():
    """24 patches (16 views each) cut from scikit-image's camera photo: its locations a patch side
    apart, dealt to a viewpoint and an illumination sequence as the release's default layout deals
    them (one label per physical point). The data, fixed (not a draw)."""
    from dml_utils import hpatches as hp
    from dml_utils.studies.batch_hard_collapse import study as bhc

    seqs, _ = hp.synthetic_release(("camera",), 100, 0, 512, test_photos=())
    return seqs, *bhc.patch_arrays(seqs, list(seqs))


HOT = dict(p=16, k=4, lr=5e-2, squared=True)  # report 002's hotter learning rate, squared distance
COOL = dict(p=8, k=2, lr=1e-4)  # small batches, a low learning rate, plain distance


def hot_squared_run(seed: int) -> dict:
    from dml_utils import batch_hard as bh

    _, x, y = tiny_patches()
    return bh.run(x, y, bh.Setting(**HOT), seed=seed, iterations=100, every=10, window=20)


def cool_plain_run(seed: int) -> dict:
    from dml_utils import batch_hard as bh

    _, x, y = tiny_patches()
    return bh.run(x, y, bh.Setting(**COOL), seed=seed, iterations=60, every=10, window=20)


def hot_squared_collapses(seed: int) -> bool:
    r = hot_squared_run(seed)
    return bool(r["collapsed"] and r["final_loss"] == pytest.approx(0.5, abs=1e-3))


def cool_plain_trains(seed: int) -> bool:
    r = cool_plain_run(seed)
    return bool(not r["collapsed"] and r["final_spread"] > 0.5)


def progressive_run(seed: int) -> dict:
    from dml_utils import batch_hard as bh

    _, x, y = tiny_patches()
    return bh.progressive_run(x, y, [(4, 2), (8, 4), (16, 4)], lr=1e-3, seed=seed, iterations=80, window=10, every=10)


def progressive_grows(seed: int) -> bool:
    return len(progressive_run(seed)["growth"]) >= 2


def gaussian_blobs_run(seed: int, final_relu: bool, lr: float, monitor_every: int = 10):
    """Batch-hard triplet (margin 0.5, plain distances) on 8 Gaussian classes (the data fixed, the
    weights drawn from ``seed``). With a ReLU output and SGD at lr 0.3 the units die and every
    embedding becomes 0: the loss is pinned at the margin."""
    from pytorch_metric_learning.distances import LpDistance
    from pytorch_metric_learning.losses import TripletMarginLoss
    from pytorch_metric_learning.miners import BatchHardMiner

    from dml_utils.collapse import LN2, CollapseMonitor
    from dml_utils.seeds import seed_everything
    from dml_utils.train import fit, labelled_loss, single_loss_step

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(8), 16)
    x = torch.tensor((rng.normal(size=(8, 32))[y] * 0.3 + rng.normal(size=(len(y), 32))).astype(np.float32))
    seed_everything(seed)
    layers = [torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 16)] + (
        [torch.nn.ReLU()] if final_relu else []
    )
    model = torch.nn.Sequential(*layers)
    loss = TripletMarginLoss(margin=0.5, distance=LpDistance(normalize_embeddings=False))
    step = single_loss_step(model, labelled_loss(loss, BatchHardMiner()), torch.optim.SGD(model.parameters(), lr=lr))
    monitor = CollapseMonitor(model, x, every=monitor_every, pinned={"margin": 0.5, "ln 2": LN2}, window=20)
    return fit(step, [(x, torch.tensor(y))] * 10, passes=10, monitor=monitor, progress=False)


def dying_relu_collapse_is_caught(seed: int) -> bool:
    h = gaussian_blobs_run(seed, final_relu=True, lr=0.3)
    later = [r for r in h.collapse if r["step"] >= 40]
    return bool(
        h.collapsed_at is not None
        and h.collapsed_at["step"] <= 20
        and h.collapsed_at["spread"] < 0.05
        and later
        and all(r["pinned_to"] == "margin" and r["collapsed"] for r in later)
        and abs(h.step_loss[-1] - 0.5) <= 1e-6
    )


def linear_run_is_not_collapsed(seed: int) -> bool:
    h = gaussian_blobs_run(seed, final_relu=False, lr=0.01)
    return bool(h.collapsed_at is None and all(r["spread"] > 0.5 for r in h.collapse))


def hdml_plain_step_lowers_J_m(seed: int) -> bool:
    """100 plain N-pair steps (HDML built, not applied) on Fashion-MNIST: the mean J_m of the last
    20 steps is below that of the first 20."""
    from dml_utils import hdml as H
    from dml_utils.data import batch_loader, load_dataset
    from dml_utils.sampling import TupleBatchSampler
    from dml_utils.seeds import seed_everything
    from dml_utils.train import fit

    seed_everything(seed)
    ds = load_dataset("fashion-mnist")
    keep = np.flatnonzero(np.isin(ds.y_train, [0, 1, 2, 3, 5, 7]))[:600]
    x, y = ds.x_train[keep], ds.y_train[keep]
    net = H.hdml_net("convnet", 16, x.shape[1:])
    h = H.HDML(net, np.unique(y), H.HDMLSettings(loss="npair", block=4))
    step = H.hdml_step(net, h, H.LearningRates(metric=1e-3), apply=False)
    hist = fit(step, batch_loader(x, y, TupleBatchSampler(y, "npair", 6, 100, seed=seed)), 1, progress=False)
    return bool(np.isfinite(hist.step_loss).all() and np.mean(hist.step_loss[-20:]) < np.mean(hist.step_loss[:20]))


OUTCOMES = {
    "hot squared 16x4 lr 5e-2 collapses within 100 steps (loss at the margin)": hot_squared_collapses,
    "cool plain 8x2 lr 1e-4 trains (no collapse, spread > 0.5)": cool_plain_trains,
    "progressive 4x2 -> 8x4 -> 16x4 grows at least once in 80 steps": progressive_grows,
    "dying-ReLU run's collapse is caught by step 20, pinned at the margin": dying_relu_collapse_is_caught,
    "linear-output run is never called collapsed": linear_run_is_not_collapsed,
    "HDML plain N-pair step lowers J_m over 100 steps": hdml_plain_step_lowers_J_m,
}
