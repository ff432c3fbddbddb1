"""Batch samplers, negative sampling and its geometry (Wu et al. 2017, "Sampling matters").

- ``hypersphere_distance_density``: the law of the distance between two uniform points on the
  unit sphere S^{n-1}, q(d) ∝ d^{n-2} [1 - d²/4]^{(n-3)/2}.
- ``NegativeSamplingMiner``: a PML miner giving each positive pair (a, p) one negative chosen
  uniformly, hardest, semi-hard, or distance-weighted (Pr(n | a) ∝ min(λ, q(D_an)^{-1})).
- ``sampled_negative_distances`` / ``gradient_variance``: the paper's fig. 3 diagnostics.
- ``valid_triplet_count``, ``pk_triplet_count``, ``no_valid_triplet_probability``: why batch-hard
  training needs P × K batches on data with many classes (report 002).

``ClassBalancedBatchSampler`` is report 000's loader: every batch holds ``classes_per_batch``
distinct classes × ``samples_per_class`` distinct samples each, drawn only from classes that have
at least ``samples_per_class`` samples. PML's ``MPerClassSampler`` differs in two ways that matter
on imbalanced data: it draws *with replacement* from classes smaller than m (duplicate images
become zero-distance "positives"), and it draws from NumPy's global random state, not a seed of
its own.
"""

from __future__ import annotations

import logging
import warnings
from typing import Iterator

import numpy as np
import torch
from pytorch_metric_learning.distances import LpDistance
from pytorch_metric_learning.miners import BaseMiner
from pytorch_metric_learning.utils import loss_and_miner_utils as lmu
from scipy import special, stats
from torch.utils.data import Sampler

from .seeds import run_rng

log = logging.getLogger(__name__)


class ClassBalancedBatchSampler(Sampler[list[int]]):
    """Yields ``batches`` lists of indices, each ``classes_per_batch`` × ``samples_per_class``.

    Use as ``DataLoader(dataset, batch_sampler=ClassBalancedBatchSampler(...))``. Deterministic
    for a seed; a new iteration continues the same random stream (epochs differ, runs repeat).
    """

    def __init__(
        self,
        labels,
        classes_per_batch: int,
        samples_per_class: int,
        batches: int,
        seed: int = 0,
        batch_size: int | None = None,
    ):
        labels = np.asarray(labels)
        for name, value in (
            ("classes_per_batch", classes_per_batch),
            ("samples_per_class", samples_per_class),
            ("batches", batches),
            ("batch_size", batch_size),
        ):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
                raise ValueError(f"{name} must be a whole number, got {value!r} ({type(value).__name__})")
        if labels.ndim != 1 or len(labels) == 0:
            raise ValueError(
                f"labels must be a non-empty 1-D array (one class id per sample), got shape {labels.shape}"
            )
        if classes_per_batch < 2 or samples_per_class < 2:
            raise ValueError(
                f"classes_per_batch and samples_per_class must be >= 2 (a metric-learning batch needs a "
                f"positive pair and a negative), got {classes_per_batch}, {samples_per_class}"
            )
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
        if len(self.excluded):
            warnings.warn(
                f"classes {self.excluded.tolist()} have fewer than samples_per_class={samples_per_class} samples "
                f"(counts {counts[counts < samples_per_class].tolist()}) and never appear in a batch; lower "
                "samples_per_class, or give those classes more samples",
                stacklevel=2,
            )
        self.cpb, self.spc, self.batches = classes_per_batch, samples_per_class, batches
        self.rng = run_rng(seed)  # a run seed: DML_SEED_OFFSET shifts it (dml_utils.seeds)

    def __len__(self) -> int:
        return self.batches

    def __iter__(self) -> Iterator[list[int]]:
        for _ in range(self.batches):
            chosen = self.rng.choice(self.eligible, size=self.cpb, replace=False)
            batch = [self.rng.choice(self.members[int(c)], size=self.spc, replace=False) for c in chosen]
            yield np.concatenate(batch).tolist()


# ---------------------------------------------------------------- which batches hold valid triplets
def valid_triplet_count(labels) -> int:
    """The number of valid triplets (a, p, n) in a batch, by brute force: a ≠ p of one class,
    n of another (ordered, every anchor counted)."""
    labels = np.asarray(labels)
    count = 0
    for a in range(len(labels)):
        same = labels == labels[a]
        count += (int(same.sum()) - 1) * int((~same).sum())
    return count


def pk_triplet_count(p: int, k: int) -> int:
    """Valid triplets in a P × K batch, every one of its P·K samples an anchor:
    P·K anchors × (K − 1) positives × (P − 1)·K negatives = P·K²(K − 1)(P − 1)."""
    return p * k * k * (k - 1) * (p - 1)


def no_valid_triplet_probability(batch: int, classes: int) -> float:
    """The chance that ``batch`` samples whose classes are drawn uniformly and independently
    from ``classes`` hold no valid triplet: every class distinct (no positive pair) or every
    sample of one class (no negative). For B ≥ 2 the two events are disjoint:
    P = ∏_{i<B} (1 − i/C) + C^{1−B}."""
    if batch < 2 or classes < 1:
        raise ValueError(f"need batch >= 2 and classes >= 1, got {batch}, {classes}")
    i = np.arange(batch)
    all_distinct = float(np.exp(np.sum(np.log1p(-i / classes)))) if batch <= classes else 0.0
    return all_distinct + float(classes) ** (1 - batch)


def no_valid_triplet_monte_carlo(batch: int, classes: int, trials: int = 20_000, seed: int = 0) -> float:
    """The same probability, estimated from ``trials`` random batches."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size=(trials, batch))
    labels.sort(axis=1)
    repeats = (np.diff(labels, axis=1) == 0).any(axis=1)  # some class twice: a positive pair
    one_class = labels[:, 0] == labels[:, -1]  # no negative
    return float(np.mean(~repeats | one_class))


# ---------------------------------------------------------------- the hypersphere distance law
def _check_dim(n: int) -> float:
    if not n >= 2 or int(n) != n:
        raise ValueError(f"the sphere's ambient dimension n must be an integer >= 2, got {n}")
    return (n - 1) / 2


def _distances(d) -> np.ndarray:
    """``d`` as float64, refused when it holds NaN (a NaN distance has no density: it would read 0)."""
    d = np.asarray(d, dtype=np.float64)
    if np.isnan(d).any():
        where = np.argwhere(np.isnan(d))[0].tolist()
        raise ValueError(f"d, the distances, holds NaN (first at index {where}); pass distances between 0 and 2")
    return d


def hypersphere_distance_log_density(d, n: int) -> np.ndarray:
    """log q(d) for two independent uniform points on the unit sphere in R^n (−inf outside 0 < d < 2).

    With t = d²/4 = (1 − cos θ)/2, t ~ Beta((n−1)/2, (n−1)/2), so normalized
    q(d) = (d/2) · Beta_pdf(d²/4), which is ∝ d^{n−2} [1 − d²/4]^{(n−3)/2} (paper, sec. 4).
    Valid for every n >= 2. At n = 2 (the circle) the exponent (n−3)/2 is negative: q grows without
    bound as d → 2 (arcsine law; still integrable), so q(2) = inf and 1/q(2) = 0. At n = 3 q(d) = d/2.
    """
    a = _check_dim(n)
    d = _distances(d)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = d**2 / 4
        out = np.log(d / 2) + (a - 1) * (np.log(t) + np.log1p(-t)) - special.betaln(a, a)
    out = np.where((d > 0) & (d < 2), out, -np.inf)
    if n == 2:  # the density itself is finite at d -> 0 (q(0+) = 1/π), infinite at d = 2
        out = np.where(d == 2, np.inf, np.where(d == 0, -np.log(np.pi), out))
    return out


def hypersphere_distance_density(d, n: int) -> np.ndarray:
    """q(d), normalized on [0, 2]; see ``hypersphere_distance_log_density``."""
    return np.exp(hypersphere_distance_log_density(d, n))


def hypersphere_distance_cdf(d, n: int) -> np.ndarray:
    a = _check_dim(n)
    return stats.beta.cdf(np.clip(_distances(d), 0, 2) ** 2 / 4, a, a)


def uniform_sphere_points(num: int, n: int, seed: int = 0) -> np.ndarray:
    """``num`` points uniform on the unit sphere in R^n (normalized Gaussians)."""
    _check_dim(n)
    x = np.random.default_rng(seed).standard_normal((num, n))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def uniform_sphere_distances(num: int, n: int, seed: int = 0) -> np.ndarray:
    """``num`` independent distances, each between a fresh pair of uniform points."""
    x = uniform_sphere_points(2 * num, n, seed)
    return np.linalg.norm(x[:num] - x[num:], axis=1)


# ---------------------------------------------------------------- negative sampling
STRATEGIES = ("uniform", "semihard", "hard", "distance")


def distance_weighted_log_probs(
    dist: torch.Tensor, negative: torch.Tensor, n_dim: int, cutoff: float = 0.5, nonzero_loss_cutoff: float = 1.4
) -> torch.Tensor:
    """Per anchor (row), log Pr(n | a) ∝ log min(λ, q(D_an)^{-1}) over its negatives with D_an < nonzero_loss_cutoff.

    λ is set as in the official code: distances are clamped to >= ``cutoff`` before q^{-1}.
    Normalized per row in float64 log space (PML subtracts one global maximum, so rows whose
    negatives are all far underflow to all-zero weights and lose their anchor). Rows without an
    eligible negative are all −inf.
    """
    if not cutoff > 0:
        raise ValueError(f"cutoff must be > 0, got {cutoff}")
    if not nonzero_loss_cutoff > cutoff:
        raise ValueError(f"nonzero_loss_cutoff ({nonzero_loss_cutoff}) must exceed cutoff ({cutoff})")
    d = dist.detach().double().clamp(min=cutoff, max=2.0)
    a = _check_dim(n_dim)
    t = d**2 / 4
    log_q = torch.log(d / 2) + (a - 1) * (torch.log(t) + torch.log1p(-t))  # up to a constant
    log_w = -log_q
    eligible = negative & (dist.detach() < nonzero_loss_cutoff) & torch.isfinite(log_w)
    log_w = log_w.masked_fill(~eligible, -torch.inf)
    norm = torch.logsumexp(log_w, dim=1, keepdim=True)
    return torch.where(eligible, log_w - norm.nan_to_num(neginf=0.0), torch.full_like(log_w, -torch.inf))


class NegativeSamplingMiner(BaseMiner):
    """For every ordered positive pair (a, p) in the batch, one negative n, chosen by ``strategy``:

    - ``uniform``: any negative, equally likely;
    - ``hard``: the closest negative to a;
    - ``semihard``: the closest negative farther from a than p (FaceNet; pairs without one are dropped);
    - ``distance``: drawn with Pr(n | a) ∝ min(λ, q(D_an)^{-1}) among D_an < nonzero_loss_cutoff (Wu et al.).

    Returns triplets (a, p, n), usable by triplet, margin and (through PML's pair conversion)
    contrastive losses. Dropped pairs and batches without negatives are counted
    (``pairs_dropped``, ``batches_without_negatives``) and logged, never turned into NaN.
    """

    def __init__(self, strategy: str, cutoff: float = 0.5, nonzero_loss_cutoff: float = 1.4, **kwargs):
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown sampling strategy {strategy!r}; use one of {list(STRATEGIES)}")
        if not cutoff > 0:
            raise ValueError(f"cutoff must be > 0, got {cutoff}")
        kwargs.setdefault("distance", LpDistance(normalize_embeddings=True))
        super().__init__(**kwargs)
        if self.distance.is_inverted:
            raise ValueError("NegativeSamplingMiner needs a distance (small = similar), not a similarity")
        self.strategy, self.cutoff, self.nonzero_loss_cutoff = strategy, float(cutoff), float(nonzero_loss_cutoff)
        self.pairs_dropped, self.batches_without_negatives = 0, 0
        self.add_to_recordable_attributes(list_of_names=["pairs_dropped", "batches_without_negatives"], is_stat=True)

    def mine(self, embeddings, labels, ref_emb, ref_labels):
        if not torch.isfinite(embeddings).all() or not torch.isfinite(ref_emb).all():
            raise ValueError(
                "embeddings contain NaN or inf; the network diverged before mining (lower the learning rate)"
            )
        empty = torch.zeros(0, dtype=torch.long, device=embeddings.device)
        a, p, _, _ = lmu.get_all_pairs_indices(labels, ref_labels)
        negative = labels.unsqueeze(1) != ref_labels.unsqueeze(0)
        if len(a) == 0:
            return empty, empty, empty
        if not negative.any():
            self.batches_without_negatives += 1
            log.warning("NegativeSamplingMiner: a batch with a single class has no negatives; no triplets from it")
            return empty, empty, empty
        with torch.no_grad():
            dist = self.distance(embeddings, ref_emb)
            if self.strategy == "distance":
                log_w = distance_weighted_log_probs(
                    dist, negative, embeddings.shape[1], self.cutoff, self.nonzero_loss_cutoff
                )[a]
            else:
                log_w = torch.zeros_like(dist[a], dtype=torch.float64).masked_fill(~negative[a], -torch.inf)
                if self.strategy == "semihard":
                    log_w = log_w.masked_fill(dist[a] <= dist[a, p].unsqueeze(1), -torch.inf)
            ok = torch.isfinite(log_w).any(dim=1)
            dropped = int((~ok).sum())
            if dropped:
                self.pairs_dropped += dropped
                log.info(
                    "NegativeSamplingMiner(%s): %d of %d positive pairs have no eligible negative; dropped",
                    self.strategy,
                    dropped,
                    len(a),
                )
            a, p, log_w = a[ok], p[ok], log_w[ok]
            if len(a) == 0:
                return empty, empty, empty
            if self.strategy in ("hard", "semihard"):
                n = dist[a].masked_fill(~torch.isfinite(log_w), torch.inf).argmin(dim=1)
            else:
                n = torch.multinomial(torch.softmax(log_w, dim=1), 1).squeeze(1)
        return a, p, n


def pml_distance_weighted_lost_anchors(
    embeddings: torch.Tensor, labels: torch.Tensor, cutoff: float = 0.5, nonzero_loss_cutoff: float = 1.4
) -> dict[str, int]:
    """How many anchors PML's ``DistanceWeightedMiner`` silently skips: anchors with a positive and
    at least one negative within ``nonzero_loss_cutoff`` (which the paper samples) that get no triplet."""
    from pytorch_metric_learning.miners import DistanceWeightedMiner

    a, _, _ = DistanceWeightedMiner(cutoff=cutoff, nonzero_loss_cutoff=nonzero_loss_cutoff)(embeddings, labels)
    dist = LpDistance(normalize_embeddings=True)(embeddings)
    same = labels.unsqueeze(1) == labels.unsqueeze(0)
    has_pos = same.sum(1) > 1
    has_neg = ((~same) & (dist < nonzero_loss_cutoff)).any(1)
    expected = has_pos & has_neg
    got = torch.zeros_like(expected)
    got[a] = True
    return {
        "anchors_expected": int(expected.sum()),
        "anchors_sampled": int((got & expected).sum()),
        "anchors_lost": int((expected & ~got).sum()),
    }


# ---------------------------------------------------------------- the paper's fig. 3 diagnostics
def sampled_negative_distances(
    embeddings: torch.Tensor, labels: torch.Tensor, strategy: str, seed: int = 0, repeats: int = 1, **miner_kwargs
) -> np.ndarray:
    """D(a, n) of the negatives the strategy picks for every positive pair (``repeats`` draws)."""
    miner = NegativeSamplingMiner(strategy, **miner_kwargs)
    torch.manual_seed(seed)
    emb = torch.nn.functional.normalize(embeddings.detach(), dim=1)
    out = []
    for _ in range(repeats):
        a, _, n = miner(emb, labels)
        out.append((emb[a] - emb[n]).norm(dim=1).numpy())
    return np.concatenate(out) if out else np.zeros(0)


def gradient_variance(
    anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, sigma: float, draws: int = 200, seed: int = 0
) -> float:
    """Total variance (trace of the covariance) of ∂ℓ/∂f(x_n) under noise f(x_n) + z, z ~ N(0, σ² I).

    ℓ is PML's ``TripletMarginLoss`` on plain distances with a margin (100) large enough that every
    triplet stays active even under large noise, so ∂ℓ/∂f(x_n) = (f_n + z − f_a)/‖f_n + z − f_a‖: the paper's (h_an + z)/‖h_an + z‖.
    Gradients come from autograd, one per (triplet, draw); the variance is over draws, averaged over triplets.
    """
    from pytorch_metric_learning.losses import TripletMarginLoss
    from pytorch_metric_learning.reducers import SumReducer

    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    loss_fn = TripletMarginLoss(margin=100.0, distance=LpDistance(normalize_embeddings=False), reducer=SumReducer())
    g = torch.Generator().manual_seed(seed)
    idx = torch.arange(draws)
    grads = []
    for f_a, f_p, f_n in zip(anchor, positive, negative):  # one small batch per triplet: [a, p, n + z_1 … n + z_draws]
        neg = (f_n + sigma * torch.randn(draws, len(f_n), generator=g, dtype=f_n.dtype)).requires_grad_(True)
        loss = loss_fn(
            torch.cat([f_a[None], f_p[None], neg]), None, (torch.zeros_like(idx), torch.ones_like(idx), idx + 2)
        )
        grads.append(torch.autograd.grad(loss, neg)[0])
    grad = torch.stack(grads)  # (triplets, draws, dim)
    return float(((grad - grad.mean(1, keepdim=True)) ** 2).sum(-1).mean())


# ---------------------------------------------------------------- tuple batches (HDML, report 001)
class TupleBatchSampler(Sampler[list[int]]):
    """Batches laid out as HDML's losses read them, ``tuples`` tuples each.

    - ``"npair"``: [anchors; positives] of N = ``tuples`` distinct classes, one pair per class
      (the official ``NPairLossScheme``): any N up to the number of classes with two images.
    - ``"triplet"``: [anchors; positives; negatives]: the anchor and positive of tuple i from one of
      n distinct classes, its negative from any other class (a class uniformly, then one of its
      images not yet in the batch). The official ``TripletLossScheme``
      draws the n negatives from n further distinct classes, which caps n at half the classes;
      here n is capped only by the classes with two images.

    Deterministic for a seed; a new iteration continues the same random stream.
    """

    def __init__(self, labels, kind: str, tuples: int, batches: int, seed: int = 0):
        labels = np.asarray(labels)
        if kind not in ("npair", "triplet"):
            raise ValueError(f"unknown tuple kind {kind!r}; use 'npair' or 'triplet'")
        for name, value in (("tuples", tuples), ("batches", batches)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        classes, counts = np.unique(labels, return_counts=True)
        eligible = classes[counts >= 2]
        if len(classes) < 2:
            raise ValueError(f"{kind} batches need at least two classes, the labels have {len(classes)}")
        if kind == "npair" and tuples < 2:
            raise ValueError(
                "an N-pair batch needs N >= 2 pairs: the other pairs' positives are each anchor's negatives"
            )
        if tuples > len(eligible):
            need = "N distinct classes" if kind == "npair" else "n distinct anchor classes"
            raise ValueError(
                f"a {kind} batch of {tuples} tuples needs {need} with >= 2 images each, and only "
                f"{len(eligible)} classes here have two: lower the tuples per batch to <= {len(eligible)}"
            )
        self.kind, self.tuples, self.batches = kind, tuples, batches
        self.members = {int(c): np.flatnonzero(labels == c) for c in classes}
        self.eligible, self.classes = eligible, classes
        self.rng = run_rng(seed)  # a run seed: DML_SEED_OFFSET shifts it (dml_utils.seeds)

    @property
    def batch_size(self) -> int:
        return self.tuples * (2 if self.kind == "npair" else 3)

    def __len__(self) -> int:
        return self.batches

    def __iter__(self) -> Iterator[list[int]]:
        for _ in range(self.batches):
            chosen = self.rng.choice(self.eligible, size=self.tuples, replace=False)
            pairs = np.array([self.rng.choice(self.members[int(c)], size=2, replace=False) for c in chosen])
            batch = [pairs[:, 0], pairs[:, 1]]
            if self.kind == "triplet":  # a class other than the anchor's, an image not yet in the batch
                used, negatives = set(pairs.ravel().tolist()), []
                for c in chosen:
                    n = self._negative(int(c), used)
                    used.add(n)
                    negatives.append(n)
                batch.append(np.array(negatives))
            yield np.concatenate(batch).tolist()

    def _negative(self, anchor_class: int, used: set[int]) -> int:
        for _ in range(32):  # rejection: cheap on large datasets, where a collision is rare
            o = int(self.rng.choice(self.classes))
            if o != anchor_class:
                n = int(self.rng.choice(self.members[o]))
                if n not in used:
                    return n
        free = {int(o): [i for i in self.members[int(o)] if i not in used] for o in self.classes if o != anchor_class}
        free = {o: m for o, m in free.items() if m}
        if not free:
            raise ValueError(
                f"no image of a class other than {anchor_class} is left for a negative; add data or lower tuples"
            )
        return int(self.rng.choice(free[int(self.rng.choice(sorted(free)))]))
