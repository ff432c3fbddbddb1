"""Image-folder loading: decode-on-access throughput and memory (CUB-like fixture tree).

Builds 400 JPEGs of 500 × 375 px (CUB-200-2011's typical size; 200 in the training half) in the CUB layout in a
temporary folder, then times LazyImages decoding at 224 px, batch by batch as training reads
them (median of 5 passes), and prints the peak resident memory.
"""

from __future__ import annotations

import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from dml_utils.data import load_dataset, select_rows

CLASSES, PER_CLASS, SIZE, BATCH = 200, 2, 224, 70  # CUB's 200 classes; batch 70 as the paper profile of 04


def make_tree(root: Path) -> None:
    rng = np.random.default_rng(0)
    images, labels = [], []
    for c in range(1, CLASSES + 1):
        for k in range(PER_CLASS):
            rel = f"{c:03d}.class/{k}.jpg"
            (root / "images" / rel).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, size=(375, 500, 3), dtype=np.uint8)).save(
                root / "images" / rel, quality=90
            )
            images.append(rel)
            labels.append(c)
    (root / "images.txt").write_text("".join(f"{i} {p}\n" for i, p in enumerate(images, 1)))
    (root / "image_class_labels.txt").write_text("".join(f"{i} {c}\n" for i, c in enumerate(labels, 1)))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        make_tree(Path(tmp))
        ds = load_dataset("cub200", data_root=tmp, image_size=SIZE)
        x = ds.x_train
        times = []
        for _ in range(5):
            t = time.perf_counter()
            for s in range(0, len(x), BATCH):
                select_rows(x, np.arange(s, min(s + BATCH, len(x))))
            times.append(time.perf_counter() - t)
        med = statistics.median(times)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        print(
            f"LazyImages, {len(x)} JPEGs of 500×375 → {SIZE}×{SIZE}, batches of {BATCH}: median {med:.2f} s per pass "
            f"= {len(x) / med:.0f} images/s (one process, 5 passes); peak memory {peak:.2f} GB"
        )
        print(
            f"  in memory at once: one batch, {BATCH * 3 * SIZE * SIZE * 4 / 2**20:.0f} MB; SOP's 120k images decoded whole "
            f"would be {120_053 * 3 * SIZE * SIZE * 4 / 2**30:.0f} GB"
        )


if __name__ == "__main__":
    main()
