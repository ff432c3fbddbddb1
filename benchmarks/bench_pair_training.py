"""Benchmarks for notebook 03's machinery (medians over repeats; the machine is shared and noisy).

1. YukawaLoss forward+backward time ÷ PML ContrastiveLoss on the same batch (goal <= 1.3).
2. dml_utils.train.fit throughput ÷ a bare PyTorch loop, same model, loss and batches (goal >= 0.95).
"""

from __future__ import annotations

import statistics
import time

import torch
from pytorch_metric_learning.losses import ContrastiveLoss

from dml_utils.data import load_dataset
from dml_utils.models import MLPEmbedding
from dml_utils.pairs import alternating_pairs, pair_indices_tuple, pair_loader, pair_loss
from dml_utils.studies.yukawa_vs_contrastive import study as yc
from dml_utils.train import fit, single_loss_step

REPEATS = 9


def time_loss(loss_fn, emb, idx, iters=300) -> float:
    for _ in range(20):
        loss_fn(emb, None, idx).backward()
    start = time.perf_counter()
    for _ in range(iters):
        loss_fn(emb, None, idx).backward()
    return (time.perf_counter() - start) / iters


def bench_losses() -> None:
    torch.manual_seed(0)
    emb = (torch.randn(256, 128) * 0.1).requires_grad_()
    idx = pair_indices_tuple(torch.randint(0, 2, (128,)))
    fns = {
        "PML ContrastiveLoss (defaults)": ContrastiveLoss(),
        "SquaredHingeContrastiveLoss (report)": yc.build_loss("contrastive"),
        "YukawaLoss (report)": yc.build_loss("yukawa"),
    }
    times = {name: [] for name in fns}
    for _ in range(REPEATS):  # interleaved, so drifts in machine load hit all alike
        for name, fn in fns.items():
            times[name].append(time_loss(fn, emb, idx))
    base = statistics.median(times["PML ContrastiveLoss (defaults)"])
    print("loss forward+backward, batch of 128 pairs, 128-d (median of", REPEATS, "x 300 iterations)")
    for name, t in times.items():
        print(
            f"  {name:40s} {statistics.median(t) * 1e6:8.1f} µs   ratio to PML contrastive {statistics.median(t) / base:.2f}"
        )


def bench_loop() -> None:
    ds = load_dataset("mnist")
    x = ds.x_train.reshape(len(ds.x_train), -1)
    pairs, same = alternating_pairs(ds.y_train, seed=0)
    loss_fn = yc.build_loss("yukawa")
    ours, bare = [], []

    def fresh():
        torch.manual_seed(0)
        m = MLPEmbedding()
        return (
            m,
            torch.optim.RMSprop(m.parameters(), lr=1e-3, alpha=0.9, eps=1e-7),
            pair_loader(x, pairs, same, 128, torch.Generator().manual_seed(0)),
        )

    for _ in range(REPEATS):
        m, opt, loader = fresh()
        start = time.perf_counter()
        fit(single_loss_step(m, pair_loss(loss_fn), opt), loader, passes=1, progress=True, desc="dml_utils.train.fit")
        ours.append(time.perf_counter() - start)
        m, opt, loader = fresh()
        start = time.perf_counter()
        m.train()
        for xa, xb, s in loader:  # the bare loop: nothing but the step
            loss = loss_fn(m(torch.cat([xa, xb])), None, pair_indices_tuple(s))
            opt.zero_grad()
            loss.backward()
            opt.step()
        bare.append(time.perf_counter() - start)
    n = len(pairs)
    t_ours, t_bare = statistics.median(ours), statistics.median(bare)
    print(f"one epoch of {n} pairs, batch 128, MLP 784-128-128-128 (median of {REPEATS})")
    print(f"  bare PyTorch loop   {t_bare:6.3f} s  {n / t_bare:8.0f} pairs/s")
    print(f"  dml_utils.train     {t_ours:6.3f} s  {n / t_ours:8.0f} pairs/s")
    print(f"  throughput ratio dml_utils / bare = {t_bare / t_ours:.3f}")


if __name__ == "__main__":
    torch.set_num_threads(2)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    bench_losses()
    bench_loop()
