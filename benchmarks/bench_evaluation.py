"""Evaluation at Stanford Online Products' test size: 60,000 × 128-d synthetic embeddings in
11,316 classes of ~5 images (SOP's test half has 60,502 images of 11,316 classes).

Prints wall time and the process's peak resident memory after each metric (goal: <= 4 GB).
NMI is left out: k-means with 11k clusters is a different cost, not an evaluation-memory question.
"""

from __future__ import annotations

import resource
import time

import numpy as np

from dml_utils.evaluate import KNN_QUERY_BATCH, SIMILARITY_BLOCK, retrieval_metrics, similarity_stats

N, DIM, CLASSES = 60_000, 128, 11_316


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux: KiB


def main() -> None:
    rng = np.random.default_rng(0)
    labels = np.sort(rng.integers(0, CLASSES, size=N))
    centres = rng.normal(size=(CLASSES, DIM)).astype(np.float32)
    emb = (centres[labels] + rng.normal(scale=1.5, size=(N, DIM))).astype(np.float32)
    print(
        f"{N} × {DIM}-d embeddings, {len(np.unique(labels))} classes; k-NN blocks of {KNN_QUERY_BATCH} queries, "
        f"similarity blocks of {SIMILARITY_BLOCK} rows; peak memory after setup {peak_gb():.2f} GB"
    )
    t = time.perf_counter()
    r = retrieval_metrics(emb, labels, normalize=True, recall_ks=(1, 2, 4, 8))
    print(
        f"retrieval_metrics (P@1, MAP@R, Recall@1/2/4/8): {time.perf_counter() - t:6.1f} s, peak {peak_gb():.2f} GB  "
        f"MAP@R {r['map_at_r']:.3f}, Recall@1 {r['recall_at_1']:.3f}"
    )
    t = time.perf_counter()
    s = similarity_stats(emb, labels)
    print(
        f"similarity_stats:                               {time.perf_counter() - t:6.1f} s, peak {peak_gb():.2f} GB  "
        f"same {s['sim_same']:.3f}, different {s['sim_diff']:.3f}"
    )


if __name__ == "__main__":
    main()
