"""Notebook 05's step: one batch-hard training step (PML BatchHardMiner + TripletMarginLoss set as
Hermans et al., ``losses.batch_hard_triplet``) vs one step of notebook 01's triplet training
(MultiSimilarityMiner + TripletMarginLoss, margin 0.1) on the same P × K batch of 32-px patches,
same network and optimizer. Medians of interleaved repeats (the machine is shared and noisy)."""

from __future__ import annotations

import statistics
import time

import torch

from dml_utils import hpatches as hp
from dml_utils.losses import batch_hard_triplet
from dml_utils.sampling import ClassBalancedBatchSampler
from dml_utils.studies.batch_hard_collapse import study as bhc
from dml_utils.studies.circle_vs_triplet import study as ct

REPEATS, STEPS = 9, 20


def main() -> None:
    torch.set_num_threads(2)
    img = hp.skimage_photo("astronaut")
    seqs = {f"{k}_astronaut": hp.synthetic_sequence(img, f"{k}_astronaut", k, 100, seed=i) for i, k in enumerate("vi")}
    x, y = bhc.patch_arrays(seqs, list(seqs))
    for p, k in ((16, 4), (32, 8)):
        batch = next(iter(ClassBalancedBatchSampler(y, p, k, 1, seed=0)))
        xb, yb = x[batch], torch.as_tensor(y[batch])
        parts = {
            "batch-hard (05)": batch_hard_triplet(margin=0.5)[::-1],
            "triplet + multi-similarity miner (01)": (ct.build_loss("triplet", 0.1), ct.build_miner("multisimilarity")),
        }
        times = {name: [] for name in parts}
        for _ in range(REPEATS):
            for name, (loss, miner) in parts.items():
                torch.manual_seed(0)
                model = bhc.SmallConvNet(128, 1, 32)
                opt = torch.optim.Adam(model.parameters(), lr=1e-3)
                t0 = time.perf_counter()
                for _ in range(STEPS):
                    emb = model(xb)
                    value = loss(emb, yb, miner(emb, yb))
                    opt.zero_grad()
                    value.backward()
                    opt.step()
                times[name].append((time.perf_counter() - t0) / STEPS)
        base = statistics.median(times["triplet + multi-similarity miner (01)"])
        print(
            f"one training step, P × K = {p} × {k} patches of 32 px, SmallConvNet, Adam (median of {REPEATS} × {STEPS} steps)"
        )
        for name, t in times.items():
            print(
                f"  {name:40s} {statistics.median(t) * 1e3:7.1f} ms   ratio to 01's triplet step {statistics.median(t) / base:.2f}"
            )


if __name__ == "__main__":
    main()
