"""How far each training step the studies take is from what this CPU can do (issue 50, first step).

For each network and batch the studies train, one training step (forward, a triplet loss over the
batch's P × K labels, backward, Adam) is counted in FLOPs by ``torch.utils.flop_counter`` and timed
(median of repeats after warm-up); the machine's practical peak is a large float32 matmul on the
same threads. Prints achieved GFLOP/s, the peak and their ratio, and writes them with the CPU model
and flags to ``results/bench/steps.json``.

    python benchmarks/bench_roofline.py [--quick]   (--quick: fewer repeats, no ResNet18)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from pytorch_metric_learning.losses import TripletMarginLoss
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dml_utils.machine import cpu_fingerprint, library_versions  # noqa: E402
from dml_utils.models import MLPEmbedding, SmallConvNet, resnet18_embedding  # noqa: E402

THREADS = 2


def peak_gflops(n: int = 2048, repeats: int = 5) -> float:
    """The practical peak: median GFLOP/s of an n × n float32 matmul (2n³ FLOPs)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t0)
    return 2 * n**3 / statistics.median(times) / 1e9


def step_of(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor):
    loss_fn, opt = TripletMarginLoss(margin=0.2), torch.optim.Adam(net.parameters(), lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(net(x), y).backward()
        opt.step()

    return step


def measure(name: str, net: torch.nn.Module, shape: tuple[int, ...], batch: int, repeats: int) -> dict:
    torch.manual_seed(0)
    x = torch.randn(batch, *shape)
    y = torch.arange(batch) // 4  # P × K = batch / 4 classes × 4
    step = step_of(net, x, y)
    with FlopCounterMode(display=False) as counter:
        step()
    flops = counter.get_total_flops()
    for _ in range(3):  # warm-up
        step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    seconds = statistics.median(times)
    return {
        "network": name,
        "input": list(shape),
        "batch": batch,
        "gflop_per_step": flops / 1e9,
        "ms_per_step": 1e3 * seconds,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(THREADS)
    repeats = 5 if args.quick else 21
    cases = [
        ("SmallConvNet (01, 04, 06 on Fashion-MNIST)", lambda: SmallConvNet(128, 1, 28), (28, 28), (32, 64, 128, 256)),
        ("SmallConvNet (02, 05, 06 on patches)", lambda: SmallConvNet(128, 1, 32), (32, 32), (32, 64, 128, 256)),
        ("MLP (03)", lambda: MLPEmbedding(784), (784,), (32, 128)),
    ]
    if not args.quick:
        cases.append(
            ("ResNet18 at 224 px (paper profiles)", lambda: resnet18_embedding(128, 3, False), (3, 224, 224), (32,))
        )
    peak = peak_gflops()
    rows = []
    print(f"practical peak: {peak:.1f} GFLOP/s (float32 2048² matmul, {THREADS} threads)")
    for name, make, shape, batches in cases:
        for batch in batches:
            row = measure(name, make(), shape, batch, 3 if "ResNet" in name else repeats)
            row["gflops"] = row["gflop_per_step"] / (row["ms_per_step"] / 1e3)
            row["of_peak"] = row["gflops"] / peak
            rows.append(row)
            print(
                f"  {name:45s} batch {batch:4d}: {row['gflop_per_step']:8.3f} GFLOP, {row['ms_per_step']:8.2f} ms, "
                f"{row['gflops']:7.1f} GFLOP/s = {100 * row['of_peak']:5.1f} % of peak"
            )
    out = ROOT / "results" / "bench" / "steps.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "machine": cpu_fingerprint(),
        "libraries": library_versions(),
        "threads": THREADS,
        "peak_gflops": peak,
        "steps": rows,
    }
    out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
