"""Batch samplers for metric learning.

``ClassBalancedBatchSampler`` is report 000's loader: every batch holds ``classes_per_batch``
distinct classes × ``samples_per_class`` distinct samples each, drawn only from classes that have
at least ``samples_per_class`` samples. PML's ``MPerClassSampler`` differs in two ways that matter
on imbalanced data: it draws *with replacement* from classes smaller than m (duplicate images
become zero-distance "positives"), and it draws from NumPy's global random state, not a seed of
its own.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
from torch.utils.data import Sampler


class ClassBalancedBatchSampler(Sampler[list[int]]):
    """Yields ``batches`` lists of indices, each ``classes_per_batch`` × ``samples_per_class``.

    Use as ``DataLoader(dataset, batch_sampler=ClassBalancedBatchSampler(...))``. Deterministic
    for a seed; a new iteration continues the same random stream (epochs differ, runs repeat).
    """

    def __init__(self, labels, classes_per_batch: int, samples_per_class: int, batches: int, seed: int = 0,
                 batch_size: int | None = None):
        labels = np.asarray(labels)
        if classes_per_batch < 1 or samples_per_class < 1:
            raise ValueError(f"classes_per_batch and samples_per_class must be >= 1, got {classes_per_batch}, {samples_per_class}")
        if batch_size is not None and batch_size != classes_per_batch * samples_per_class:
            raise ValueError(
                f"batch_size {batch_size} != classes_per_batch {classes_per_batch} × samples_per_class {samples_per_class} "
                f"= {classes_per_batch * samples_per_class}; change one of them so that they match"
            )
        if batches < 1:
            raise ValueError(f"batches must be >= 1, got {batches}")
        classes, counts = np.unique(labels, return_counts=True)
        eligible = classes[counts >= samples_per_class]
        if len(eligible) == 0:
            raise ValueError(
                f"samples_per_class={samples_per_class} is larger than every class (largest has {counts.max()}); lower it"
            )
        if len(eligible) < classes_per_batch:
            raise ValueError(
                f"only {len(eligible)} classes have >= {samples_per_class} samples, fewer than classes_per_batch="
                f"{classes_per_batch}; lower classes_per_batch or samples_per_class"
            )
        self.members = {int(c): np.flatnonzero(labels == c) for c in eligible}
        self.eligible = eligible
        self.excluded = classes[counts < samples_per_class]
        self.cpb, self.spc, self.batches = classes_per_batch, samples_per_class, batches
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.batches

    def __iter__(self) -> Iterator[list[int]]:
        for _ in range(self.batches):
            chosen = self.rng.choice(self.eligible, size=self.cpb, replace=False)
            batch = [self.rng.choice(self.members[int(c)], size=self.spc, replace=False) for c in chosen]
            yield np.concatenate(batch).tolist()
