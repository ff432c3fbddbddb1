"""Losses, distances and reducers that pytorch-metric-learning lacks, written as PML parts.

They plug into PML's miners, distances and reducers like its own losses do:
``YukawaLoss(distance=ClampedEuclideanDistance(), reducer=PooledPairMeanReducer())``.
"""

from __future__ import annotations

import math

import torch
from pytorch_metric_learning.distances import LpDistance
from pytorch_metric_learning.losses import ContrastiveLoss, GenericPairLoss
from pytorch_metric_learning.reducers import MeanReducer, MultipleReducers
from pytorch_metric_learning.utils import common_functions as c_f
from pytorch_metric_learning.utils import loss_and_miner_utils as lmu

KERAS_EPSILON = 1e-7  # keras.backend.epsilon(), used by report 003's distance and loss


class ClampedEuclideanDistance(LpDistance):
    """D(x, y) = sqrt(max(||x - y||², eps)), the report-003 (Keras) distance; no normalization.

    The clamp keeps D >= sqrt(eps) and its gradient finite at x = y. The matrix is computed
    from differences (not the |x|² + |y|² - 2xy shortcut), so small distances stay exact.
    """

    def __init__(self, eps: float = KERAS_EPSILON, normalize_embeddings: bool = False, **kwargs):
        if eps <= 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        super().__init__(normalize_embeddings=normalize_embeddings, p=2, **kwargs)
        self.eps = eps

    def compute_mat(self, query_emb, ref_emb):
        if ref_emb is None:
            ref_emb = query_emb
        dist = torch.cdist(query_emb, ref_emb, p=2, compute_mode="donot_use_mm_for_euclid_dist")
        return dist.clamp_min(self.eps**0.5)  # = sqrt(max(D², eps))

    def pairwise_distance(self, query_emb, ref_emb):
        return ((query_emb - ref_emb) ** 2).sum(dim=-1).clamp_min(self.eps).sqrt()


class PairwiseOnlyMixin:
    """For GenericPairLoss subclasses: distances of the mined / given pairs only.

    PML's GenericPairLoss computes the full (B x B) distance matrix and then picks the pairs;
    for a batch of B explicit pairs that is B² distances where B are needed (7.4 ms vs 1.0 ms forward+backward at
    B = 128 on 2 CPU cores). Values are those of ``distance(...)[a, p]``: normalization and
    ``power`` applied the same way. One difference on purpose: PML returns a zero loss when
    there is at most one positive and one negative pair (``len(x) <= 1``); here only an empty
    set of pairs gives zero, so a batch with a single pair of each kind still trains.
    """

    def compute_loss(self, embeddings, labels, indices_tuple, ref_emb, ref_labels):
        c_f.labels_or_indices_tuple_required(labels, indices_tuple)
        indices_tuple = lmu.convert_to_pairs(indices_tuple, labels, ref_labels)
        if all(len(x) == 0 for x in indices_tuple):
            return self.zero_losses()
        query = self.distance.maybe_normalize(embeddings)
        ref = self.distance.maybe_normalize(ref_emb)
        a1, p, a2, n = indices_tuple
        pos = self._pair_dist(query[a1], ref[p]) if len(a1) > 0 else []
        neg = self._pair_dist(query[a2], ref[n]) if len(a2) > 0 else []
        return self._compute_loss(pos, neg, indices_tuple)

    def _pair_dist(self, q, r):
        d = self.distance.pairwise_distance(q, r)
        return d if self.distance.power == 1 else d**self.distance.power


class YukawaLoss(PairwiseOnlyMixin, GenericPairLoss):
    """Report 003's Yukawa (potential) loss on pairs.

    positives: D^pos_exponent        (cubic by default)
    negatives: exp(-decay · D) / max(D, eps)   (a Yukawa potential; decay 10 in the report)
    """

    def __init__(self, decay: float = 10.0, pos_exponent: float = 3.0, eps: float = KERAS_EPSILON, **kwargs):
        super().__init__(mat_based_loss=False, **kwargs)
        if not all(math.isfinite(v) for v in (decay, pos_exponent, eps)) or decay < 0 or pos_exponent <= 0 or eps <= 0:
            raise ValueError(f"need decay >= 0, pos_exponent > 0, eps > 0; got {decay}, {pos_exponent}, {eps}")
        if self.distance.is_inverted:
            raise ValueError("YukawaLoss needs a distance (small = similar), not a similarity such as CosineSimilarity")
        self.decay, self.pos_exponent, self.eps = decay, pos_exponent, eps
        self.add_to_recordable_attributes(list_of_names=["decay", "pos_exponent"], is_stat=False)

    def _compute_loss(self, pos_pair_dist, neg_pair_dist, indices_tuple):
        pos_loss, neg_loss = 0, 0
        if len(pos_pair_dist) > 0:
            pos_loss = pos_pair_dist**self.pos_exponent
        if len(neg_pair_dist) > 0:
            neg_loss = torch.exp(-self.decay * neg_pair_dist) / neg_pair_dist.clamp_min(self.eps)
        return {
            "pos_loss": {
                "losses": pos_loss,
                "indices": lmu.pos_pairs_from_tuple(indices_tuple),
                "reduction_type": "pos_pair",
            },
            "neg_loss": {
                "losses": neg_loss,
                "indices": lmu.neg_pairs_from_tuple(indices_tuple),
                "reduction_type": "neg_pair",
            },
        }

    def get_default_reducer(self):
        return MeanReducer()

    def _sub_loss_names(self):
        return ["pos_loss", "neg_loss"]


class SquaredHingeContrastiveLoss(PairwiseOnlyMixin, ContrastiveLoss):
    """PML's ContrastiveLoss with squared terms (Hadsell et al. 2006; report 003's Keras code):

    y · max(D - pos_margin, 0)² + (1 - y) · max(neg_margin - D, 0)²; with margins 0 and 1 this is
    y · D² + (1 - y) · max(1 - D, 0)². PML's own ContrastiveLoss leaves the hinges unsquared.
    """

    def pos_calc(self, pos_pair_dist, margin):
        return super().pos_calc(pos_pair_dist, margin) ** 2

    def neg_calc(self, neg_pair_dist, margin):
        return super().neg_calc(neg_pair_dist, margin) ** 2


class PooledPairMeanReducer(MultipleReducers):
    """Mean over all pairs, positive and negative pooled: Keras' ``K.mean`` over a pair batch.

    PML's MeanReducer averages positives and negatives separately and adds the two means, which
    weighs a batch with few positives differently from the report's code.
    """

    def __init__(self, **kwargs):
        super().__init__(reducers={}, **kwargs)

    def forward(self, loss_dict, embeddings, labels):
        self.reset_stats()
        parts = []
        for name, info in loss_dict.items():
            losses = info["losses"]
            if torch.is_tensor(losses) and losses.ndim > 0:
                parts.append(losses)
            elif torch.is_tensor(losses) or losses != 0:
                raise ValueError(f"PooledPairMeanReducer pools per-pair losses; {name!r} is already reduced")
        if not parts:
            return torch.sum(embeddings * 0)
        return torch.cat(parts).mean()


# ---------------------------------------------------------------- batch-hard triplet loss (Hermans et al. 2017)
HERMANS_EPSILON = 1e-12  # "In Defense of the Triplet Loss", official code: sqrt(Σ(x − y)² + 1e-12)


class HermansEuclideanDistance(LpDistance):
    """D(x, y) = sqrt(||x − y||² + eps), or the squared distance ||x − y||² when ``squared``.

    Why not PML's ``LpDistance``: it has no eps (Hermans et al. put 1e-12 inside the root, so
    D(x, x) = 1e-6 and the derivative exists everywhere), and for batches over 25 rows torch's
    cdist computes ||x||² + ||y||² − 2x·y, which loses the distances of nearly collapsed
    descriptors. Here the matrix comes from differences. ``normalize_embeddings`` (off by
    default, as in Hermans et al.) L2-normalizes first.
    """

    def __init__(
        self, eps: float = HERMANS_EPSILON, squared: bool = False, normalize_embeddings: bool = False, **kwargs
    ):
        if eps < 0:
            raise ValueError(f"eps must be >= 0, got {eps}")
        super().__init__(normalize_embeddings=normalize_embeddings, p=2, power=1, **kwargs)
        self.eps, self.squared = eps, squared

    def compute_mat(self, query_emb, ref_emb):
        if ref_emb is None:
            ref_emb = query_emb
        sq = torch.cdist(query_emb, ref_emb, p=2, compute_mode="donot_use_mm_for_euclid_dist") ** 2
        return sq if self.squared else (sq + self.eps).sqrt()

    def pairwise_distance(self, query_emb, ref_emb):
        sq = ((query_emb - ref_emb) ** 2).sum(dim=-1)
        return sq if self.squared else (sq + self.eps).sqrt()


def batch_hard_triplet(
    margin: float = 0.5,
    soft: bool = False,
    squared: bool = False,
    normalize: bool = False,
    eps: float = HERMANS_EPSILON,
):
    """The batch-hard triplet loss as Hermans et al. implement it, from PML's parts.

    For every anchor a of a P × K batch: its farthest positive and its nearest negative
    (``BatchHardMiner``), then ℓ(a) = [m + D(a, p*) − D(a, n*)]₊ (hard margin) or
    ℓ(a) = ln(1 + e^{D(a, p*) − D(a, n*)}) (soft margin: no margin term), averaged over all P·K
    anchors (``MeanReducer``; PML's default ``AvgNonZeroReducer`` would average only the
    non-zero ones, and its default distance normalizes the embeddings). The miner and the loss
    share one distance. Returns (miner, loss): ``loss(emb, labels, miner(emb, labels))``.
    """
    from pytorch_metric_learning.losses import TripletMarginLoss
    from pytorch_metric_learning.miners import BatchHardMiner

    if not soft and margin <= 0:
        raise ValueError(f"the hard-margin loss needs margin > 0, got {margin}; use soft=True for no margin")
    distance = HermansEuclideanDistance(eps=eps, squared=squared, normalize_embeddings=normalize)
    miner = BatchHardMiner(distance=distance)
    loss = TripletMarginLoss(
        margin=0.0 if soft else margin,
        smooth_loss=soft,
        distance=distance,
        reducer=MeanReducer(),
        triplets_per_anchor="all",
    )
    return miner, loss
