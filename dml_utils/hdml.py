"""Hardness-aware deep metric learning (HDML; Zheng, Chen, Lu and Zhou, "Hardness-Aware Deep Metric
Learning", CVPR 2019) for the triplet and N-pair losses, on the engine (:mod:`dml_utils.train`).

The method as the authors' TensorFlow code runs it (``main_triplet.py``, ``main_npair.py``,
``lib/HDML.py``), which differs from the paper's summary in ways that change the numbers:

- **Network.** Backbone features y → BN → Linear → embedding z (their "Classifier" scope:
  GoogLeNet's pooled 1024-d → ``BN1`` → ``fc1``). :class:`HDMLNet` keeps that split so that
  synthetic features pass back through the *same* BN and Linear as real ones.
- **Augmentation, eq. 1**, with plain Euclidean distances d (a square root, not its square):
  ẑ⁻ = z + [d⁺ + (d(z, z⁻) − d⁺)·e^{−α/J_avg}] · (z⁻ − z) / d(z, z⁻), only where d⁺ < d(z, z⁻);
  elsewhere z⁻ is kept. The weight λ = e^{−α/J_avg} moves the synthetic negative from where it
  is (λ = 1) to the anchor's positive distance d⁺ (λ = 0, the hardest a negative can be without
  being a violation). For N-pair every other class's positive is a negative of every anchor, so
  a batch of N pairs gives N² synthetic tuples (row i·N + j: anchor i, the positive of class j;
  j = i keeps the real positive).
- **Generator**: z → Linear(512) → ReLU → BN → Linear(feature size), applied once to the
  concatenation [z; ẑ] (one BN batch, as theirs).
- **Losses.** J_m = J(z) + weight decay (their ``wdLoss``: 5e-3 · Σ‖w‖²/2 over the trainable weights
  of the embedding net, no BN, no generator). Their GoogLeNet is frozen (its ImageNet weights are
  ``tf.constant``s), so there it is fc1's alone; here the backbone trains and is included.
  J_syn = J on the synthetic tuples after the head. J_recon = (1 − λ_g)·Σ ‖y' − y‖² (a *sum*
  over rows and features), J_soft = 10⁴ · λ_g · CE(softmax(W ỹ), labels)
  (a *mean*), J_gen = J_recon + J_soft (λ_g = 0.5). Eq. 2: J_metric = e^{−β/J_gen}·J_m +
  (1 − e^{−β/J_gen})·J_syn. A softmax classifier on the real features y gives J_cls.
- **Three optimizers on one forward pass**: J_metric moves only the backbone and head, J_gen only
  the generator, J_cls only the softmax classifier (the engine differentiates each loss with
  respect to its own group; the test checks it).
- **Schedules.** J_avg and J_gen in the two weights are not per-step values: each is the mean of
  the last completed block of 64 recorded values, 10⁶ before the first block (their
  ``data_collector``). J_avg is fed the *weighted* J_m, e^{−β/J_gen}·J_m, weight decay included.
  So for 64 steps λ = e^{−α/10⁶} ≈ 1 (no pulling) and e^{−β/J_gen} ≈ 0.99; after that both
  depend on the scale of the losses: triplet J is a *sum* over tuples of squared-distance hinges
  (margin 1) and N-pair J a *mean* cross-entropy plus an L2 penalty on the embeddings, so the same
  α pulls a triplet batch of n tuples about n times less hard than an N-pair batch at equal
  per-tuple loss.

Where theirs can give NaN, this one cannot: ε inside every square root (:data:`EPS`), divisions
by distances bounded below by √ε, log-sum-exp cross-entropies (``torch.nn.functional.cross_entropy``),
and class ids mapped to 0 … C − 1 with an error for an id the classifier does not have (their
``num_class`` flag is a fixed 99 / 101 / 11,319). The engine raises on any non-finite loss or
gradient; nothing is replaced by zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from pytorch_metric_learning.distances import DotProductSimilarity, LpDistance
from pytorch_metric_learning.losses import NPairsLoss, TripletMarginLoss
from pytorch_metric_learning.reducers import SumReducer
from pytorch_metric_learning.regularizers import LpRegularizer
from torch import nn

from .seeds import run_generator
from .train import Step, Update

EPS = 1e-12  # inside every square root: d = sqrt(Σ(a − b)² + EPS) ≥ 1e-6, so 1/d and ∂d are finite
LOSSES = ("triplet", "npair")


# ---------------------------------------------------------------- networks
class HDMLNet(nn.Module):
    """Embedding network split as HDML needs it: ``features(x)`` = y, ``head(y)`` = z = fc(BN(y)).

    BN follows TensorFlow's defaults as the official code uses them (momentum 0.99 → PyTorch's
    0.01, ε = 1e-3)."""

    def __init__(
        self,
        features: nn.Module,
        feature_dim: int,
        embedding_size: int,
        bn: bool = True,
        fc: nn.Linear | None = None,
    ):
        super().__init__()
        self.features = features
        self.bn = nn.BatchNorm1d(feature_dim, eps=1e-3, momentum=0.01) if bn else nn.Identity()
        self.fc = fc if fc is not None else nn.Linear(feature_dim, embedding_size)
        self.feature_dim, self.embedding_size = feature_dim, embedding_size

    def head(self, y: torch.Tensor) -> torch.Tensor:
        return self.fc(self.bn(y))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def hdml_net(
    backbone: str, embedding_size: int, image_shape: tuple[int, ...], pretrained: bool = True, pool: int | None = 2
) -> HDMLNet:
    """An :class:`HDMLNet` on a backbone of :mod:`dml_utils.models`: the small ConvNet's conv
    features average-pooled to ``pool`` × ``pool`` (64 · pool² values; None: all 64 · (S/4)², flattened),
    or ResNet18's pooled 512. Pooled features play the part of GoogLeNet's pooled 1024 in the
    official code, and keep the generator's output layer small next to the backbone."""
    from .models import build_backbone

    net = build_backbone(backbone, embedding_size, image_shape, pretrained=pretrained)
    if backbone == "convnet":
        feats, dim = net.features, net.head.in_features
        if pool is not None:
            feats = nn.Sequential(*list(feats)[:-1], nn.AdaptiveAvgPool2d(pool), nn.Flatten())
            dim = 64 * pool * pool
        if len(image_shape) == 2:  # (N, H, W) grey images: add the channel axis as SmallConvNet.forward does
            feats = nn.Sequential(nn.Unflatten(1, (1, image_shape[0])), feats)
    else:  # resnet18 in its channel-first wrapper: drop the linear head, keep the pooled features
        dim = net.net.fc.in_features
        net.net.fc = nn.Identity()
        feats = net
    out = HDMLNet(feats, dim, embedding_size)
    out.imagenet_weights = getattr(net, "imagenet_weights", False)
    return out


def split(net: nn.Module, image_shape: tuple[int, ...]) -> HDMLNet:
    """A backbone of :mod:`dml_utils.models` as an :class:`HDMLNet` *without changing it*: its
    features (the small ConvNet's flattened conv features, or ResNet18's pooled 512) and its own
    linear embedding head as ``fc``, no batch norm between them. ``split(net)(x)`` equals ``net(x)``
    for the same weights, so HDML starts from the very network (and initial weights) every other
    method of a study trains (notebook 06); :func:`hdml_net` builds the official BN1 → fc1 split instead."""
    if hasattr(net, "head") and hasattr(net, "features"):  # SmallConvNet
        feats, fc = net.features, net.head
        if len(image_shape) == 2:  # (N, H, W) grey images: add the channel axis as SmallConvNet.forward does
            feats = nn.Sequential(nn.Unflatten(1, (1, image_shape[0])), feats)
    elif hasattr(net, "net") and isinstance(getattr(net.net, "fc", None), nn.Linear):  # the ResNet18 wrapper
        fc, net.net.fc = net.net.fc, nn.Identity()
        feats = net
    else:
        raise TypeError(
            f"cannot split {type(net).__name__} into features and a linear head; use the convnet or resnet18"
        )
    out = HDMLNet(feats, fc.in_features, fc.out_features, bn=False, fc=fc)
    out.imagenet_weights = getattr(net, "imagenet_weights", False)
    return out


class BatchTuples:
    """The tuple layout HDML needs, cut from a class-balanced (P × K) batch, so that HDML trains on
    the very batches every other method of a study gets (notebook 06). Called with a batch's labels,
    it returns the row indices of the layout:

    - ``npair``: [anchors; positives], one pair per class: the first and second image of each class
      (classes in ascending order), the pair PML's ``NPairsLoss`` takes from the same batch;
    - ``triplet``: [anchors; positives; negatives], every image once an anchor, the next image of
      its class (cyclically) its positive and a random image of another class its negative, drawn
      from a generator seeded by ``seed`` (the same seed, the same negatives).

    The official samplers draw tuples from the data set instead (``TupleBatchSampler``)."""

    def __init__(self, loss: str, seed: int):
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r} for HDML; use one of {list(LOSSES)}")
        self.loss = loss
        self.generator = run_generator(seed)  # a run seed: DML_SEED_OFFSET shifts it (dml_utils.seeds)

    def __call__(self, labels: torch.Tensor) -> torch.Tensor:
        lab = labels.detach().cpu()
        classes = torch.unique(lab)
        members = [torch.nonzero(lab == c).flatten() for c in classes]
        if len(classes) < 2 or min(len(m) for m in members) < 2:
            raise ValueError(
                f"HDML's {self.loss} tuples need >= 2 classes with >= 2 images each in a batch; got "
                f"{len(classes)} classes, the smallest with {min(len(m) for m in members)} image(s): "
                "use classes_per_batch >= 2 and samples_per_class >= 2"
            )
        if self.loss == "npair":
            rows = torch.cat([torch.stack([m[0] for m in members]), torch.stack([m[1] for m in members])])
        else:
            anchors = torch.cat(members)
            positives = torch.cat([m.roll(-1) for m in members])
            draws = torch.rand(len(anchors), generator=self.generator)
            negatives = []
            for a, u in zip(anchors.tolist(), draws.tolist()):
                others = torch.nonzero(lab != lab[a]).flatten()
                negatives.append(others[int(u * len(others))])
            rows = torch.cat([anchors, positives, torch.stack(negatives)])
        return rows.to(labels.device)


class Generator(nn.Sequential):
    """z → Linear(hidden) → ReLU → BN → Linear(feature_dim): the official ``generator1`` / ``generator2``."""

    def __init__(self, embedding_size: int, feature_dim: int, hidden: int = 512):
        super().__init__(
            nn.Linear(embedding_size, hidden),
            nn.ReLU(),
            nn.BatchNorm1d(hidden, eps=1e-3, momentum=0.01),
            nn.Linear(hidden, feature_dim),
        )


# ---------------------------------------------------------------- distances and eq. 1
def euclidean(a: torch.Tensor, b: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Row-wise d(a, b) = sqrt(Σ(a − b)² + eps): the official ``nn_Ops.distance`` with ε inside the
    root (``eps=0`` is theirs: an infinite derivative at d = 0)."""
    return torch.sqrt(((a - b) ** 2).sum(dim=1) + eps)


def pull_negatives(
    anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, hardness: float, eps: float = EPS
) -> torch.Tensor:
    """Eq. 1 as the official ``HDML.Pulling`` runs it, row by row, with λ = ``hardness`` = e^{−α/J_avg}:

        d̂ = d⁺ + λ·(d⁻ − d⁺),  ẑ⁻ = z + d̂ · (z⁻ − z) / d⁻   where d⁺ < d⁻,  ẑ⁻ = z⁻ elsewhere,

    d⁺ = d(z, z⁺), d⁻ = d(z, z⁻). d⁻ ≥ √EPS, so the division is finite even for z⁻ = z
    (``eps=0``: the official form, 0 · (x / 0) = NaN there)."""
    d_ap, d_an = euclidean(anchor, positive, eps), euclidean(anchor, negative, eps)
    d_hat = d_ap + hardness * (d_an - d_ap)  # eq. 1's interpolated distance, between d⁺ (λ = 0) and d⁻ (λ = 1)
    pulled = anchor + (negative - anchor) * (d_hat / d_an).unsqueeze(1)
    return torch.where((d_ap < d_an).unsqueeze(1), pulled, negative)  # official mask: keep z⁻ where d⁺ ≥ d⁻


# ---------------------------------------------------------------- the two losses J, as the official code scales them
def triplet_indices(n: int, device=None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(a, p, n) of a triplet batch laid out [anchors; positives; negatives], n tuples each."""
    r = torch.arange(n, device=device)
    return r, r + n, r + 2 * n


def triplet_J(margin: float = 1.0) -> TripletMarginLoss:
    """The official ``Loss_ops.triplet_loss``: Σ over tuples of [d(a, p)² − d(a, n)² + m]₊, a *sum*
    of squared Euclidean distances (PML's TripletMarginLoss with those settings, given the tuples)."""
    return TripletMarginLoss(
        margin=margin, distance=LpDistance(normalize_embeddings=False, power=2), reducer=SumReducer()
    )


def npair_J(l2_reg: float = 3e-3) -> NPairsLoss:
    """The official N-pair J (TF's ``npairs_loss``): mean over anchors of the cross-entropy of the
    dot products a_i·p_j (target j = i), plus 0.25·λ·(mean ‖a‖² + mean ‖p‖²) = 0.5·λ·mean over all
    2N embeddings of ‖e‖² (PML's NPairsLoss with an LpRegularizer of power 2). PML's default
    distance L2-normalizes the embeddings first (cosine logits); TF's and HDML's use raw dot
    products, so normalization is turned off here."""
    return NPairsLoss(
        distance=DotProductSimilarity(normalize_embeddings=False),
        embedding_regularizer=LpRegularizer(power=2),
        embedding_reg_weight=0.5 * l2_reg,
    )


def npair_synthetic_J(anchors: torch.Tensor, candidates: torch.Tensor, l2_reg: float = 3e-3) -> torch.Tensor:
    """J_syn of N-pair: the official ``new_npair_loss(equal_shape=False)``. Anchor i is scored
    against its own N candidates, rows i·N … i·N + N − 1 of ``candidates`` (the positive of class
    j pulled towards anchor i; j = i is its positive): mean over anchors of CE(a_i·c_ij, target i)
    + 0.25·λ·(mean ‖a‖² + mean ‖c‖²). PML has no loss whose anchors each have their own negatives,
    so this one is written here."""
    n = len(anchors)
    if candidates.shape[0] != n * n:
        raise ValueError(f"N-pair J_syn needs N² = {n * n} candidates for N = {n} anchors, got {candidates.shape[0]}")
    logits = torch.einsum("id,ijd->ij", anchors, candidates.reshape(n, n, -1))
    xent = F.cross_entropy(logits, torch.arange(n, device=anchors.device))
    reg = 0.25 * l2_reg * ((anchors**2).sum(1).mean() + (candidates**2).sum(1).mean())
    return xent + reg


def weight_decay(net: nn.Module, factor: float) -> torch.Tensor:
    """The official ``wdLoss``: factor · Σ ‖w‖² / 2 (``tf.nn.l2_loss``) over every weight and bias of
    the embedding network except batch norm's."""
    bn = {
        id(p)
        for m in net.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
        for p in m.parameters(recurse=False)
    }
    return factor * sum((p**2).sum() / 2 for p in net.parameters() if id(p) not in bn)


# ---------------------------------------------------------------- block means (the official data_collector)
class BlockMean:
    """The mean of the last completed block of ``block`` recorded values; ``init`` before the first.

    The official ``data_collector`` (64 values, hard-wired; 10⁶ at the start) skips a NaN with a
    print; here a non-finite value is an error: the engine stops before any such value is recorded."""

    def __init__(self, init: float = 1e6, block: int = 64):
        if block < 1:
            raise ValueError(f"block must be >= 1, got {block}")
        self.value, self.block, self._pending = float(init), block, []

    def update(self, v: float) -> None:
        if not math.isfinite(v):
            raise FloatingPointError(
                f"a non-finite value ({v}) reached a block mean; the engine should have stopped first"
            )
        self._pending.append(float(v))
        if len(self._pending) >= self.block:
            self.value, self._pending = float(np.mean(self._pending)), []


# ---------------------------------------------------------------- HDML
@dataclass
class HDMLSettings:
    """The official FLAGS (Cars196 values), with the loss and the schedule block."""

    loss: str = "triplet"
    alpha: float = 90.0  # pulling factor in e^{−α/J_avg} (the paper cites 7 for triplet)
    beta: float = 1e4  # balance factor in e^{−β/J_gen} (5e3 on CUB and SOP)
    lam: float = 0.5  # J_gen = (1 − λ)·Σ‖y' − y‖² + λ·softmax_factor·CE
    softmax_factor: float = 1e4
    margin: float = 1.0  # triplet J
    l2_reg: float = 3e-3  # N-pair J's embedding penalty (loss_l2_reg)
    weight_decay: float = 5e-3  # Regular_factor, part of J_m
    block: int = 64  # values per block mean of J_avg and J_gen
    init: float = 1e6  # J_avg and J_gen before the first block
    eps: float = EPS  # inside eq. 1's square roots (0: the official form, for the study of its NaN)

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r} for HDML; use one of {list(LOSSES)}")
        for k in ("alpha", "beta", "softmax_factor", "init"):
            if not getattr(self, k) > 0:
                raise ValueError(f"{k} must be > 0, got {getattr(self, k)}")
        if not 0 <= self.lam <= 1:
            raise ValueError(f"lam must be in [0, 1], got {self.lam}")


class HDML(nn.Module):
    """The generator and the softmax classifier of HDML, its two block means, and the losses of
    one batch (:meth:`losses`). ``classes``: the training class ids; the classifier has one output
    per class and ids are mapped to 0 … C − 1 (an id it does not have is an error, not a NaN).

    ``num_class`` reproduces the official convention instead, for the study of its NaN: a
    classifier of ``num_class`` outputs indexed by the raw class ids (their FLAGS.num_class).
    ``cross_entropy`` is the softmax loss J_soft and J_cls use (log-sum-exp, F.cross_entropy)."""

    def __init__(
        self,
        net: HDMLNet,
        classes,
        settings: HDMLSettings | None = None,
        hidden: int = 512,
        num_class: int | None = None,
        cross_entropy=F.cross_entropy,
    ):
        super().__init__()
        self.settings = settings or HDMLSettings()
        self.generator = Generator(net.embedding_size, net.feature_dim, hidden)
        self.raw_ids = num_class is not None
        self.classifier = nn.Linear(net.feature_dim, num_class if self.raw_ids else len(set(int(c) for c in classes)))
        self.cross_entropy = cross_entropy
        self.register_buffer(
            "classes", torch.as_tensor(sorted({int(c) for c in classes}), dtype=torch.long), persistent=False
        )
        s = self.settings
        self.j_avg, self.j_gen = BlockMean(s.init, s.block), BlockMean(s.init, s.block)
        self.metric = triplet_J(s.margin) if s.loss == "triplet" else npair_J(s.l2_reg)

    # -- class ids → classifier outputs
    def class_index(self, labels: torch.Tensor) -> torch.Tensor:
        if self.raw_ids:  # the official convention: the class id is the logit's index, unchecked
            return labels
        idx = torch.searchsorted(self.classes, labels)
        bad = (idx >= len(self.classes)) | (self.classes[idx.clamp(max=len(self.classes) - 1)] != labels)
        if bool(bad.any()):
            raise ValueError(
                f"labels {sorted(set(labels[bad].tolist()))} are not among the classifier's {len(self.classes)} "
                "training classes; pass every training class id to HDML(classes=...)"
            )
        return idx

    # -- the weights of eq. 1 and eq. 2
    @property
    def hardness(self) -> float:
        """λ = e^{−α/J_avg}: 1 leaves negatives where they are, 0 pulls them to the positive distance."""
        return math.exp(-self.settings.alpha / self.j_avg.value)

    @property
    def balance(self) -> float:
        """e^{−β/J_gen}: the weight of J_m in eq. 2 (J_syn gets 1 minus it)."""
        return math.exp(-self.settings.beta / self.j_gen.value)

    def J(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The metric loss of a real batch in the tuple layout ([a; p; n] or [a; p])."""
        if self.settings.loss == "triplet":
            return self.metric(z, labels, triplet_indices(len(z) // 3, z.device))
        n = len(z) // 2
        r = torch.arange(n, device=z.device)
        empty = r[:0]
        return self.metric(z, labels, (r, r + n, empty, empty))

    def tuples(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(anchor, positive, negative) rows of every tuple eq. 1 acts on: the n triplets, or the
        N² (anchor i, positive i, positive of class j) tuples of an N-pair batch (row i·N + j)."""
        if self.settings.loss == "triplet":
            return z.chunk(3)
        a, p = z.chunk(2)
        n = len(a)
        return a.repeat_interleave(n, 0), p.repeat_interleave(n, 0), p.repeat(n, 1)

    def synthetic(self, z: torch.Tensor, hardness: float) -> torch.Tensor:
        """ẑ of eq. 1 for a batch in the tuple layout: [a; p; ẑ⁻] (triplet, 3n rows) or
        [a; ẑ⁻ of the N² tuples] (N-pair, N + N² rows)."""
        a, p, n = self.tuples(z)
        pulled = pull_negatives(a, p, n, hardness, self.settings.eps)
        if self.settings.loss == "triplet":
            return torch.cat([a, p, pulled])
        return torch.cat([z[: len(z) // 2], pulled])

    def synthetic_labels(self, labels: torch.Tensor) -> torch.Tensor:
        """The class of every synthetic row: the batch's labels (triplet), or the anchors' and then
        class j's for row i·N + j (N-pair)."""
        if self.settings.loss == "triplet":
            return labels
        a, p = labels.chunk(2)
        return torch.cat([a, p.repeat(len(a))])

    def J_syn(self, z_syn: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """J on the synthetic tuples: the triplet sum again, or N-pair's per-anchor form."""
        if self.settings.loss == "triplet":
            return self.J(z_syn, labels)
        n = len(labels) // 2
        return npair_synthetic_J(z_syn[:n], z_syn[n:], self.settings.l2_reg)

    def J_soft(self, y_syn: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """softmax_factor · λ · CE of the classifier on the synthetic features: one mean over the 3n
        rows (triplet), or the official ``genSoftmax``'s two means, N² pulled rows plus N anchors (N-pair)."""
        s = self.settings
        target = self.class_index(self.synthetic_labels(labels))
        if s.loss == "triplet":
            return s.softmax_factor * s.lam * self.cross_entropy(self.classifier(y_syn), target)
        n = len(labels) // 2
        return (
            s.softmax_factor
            * s.lam
            * (
                self.cross_entropy(self.classifier(y_syn[n:]), target[n:])
                + self.cross_entropy(self.classifier(y_syn[:n]), target[:n])
            )
        )

    def losses(self, net: HDMLNet, batch, rows: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Every loss of one HDML step on a batch (x, labels) in the tuple layout, or on any batch
        and the ``rows`` that put it in that layout (:class:`BatchTuples`: each image passes the
        backbone once, its features are indexed into the tuples).

        Returned: ``J_metric`` (eq. 2; for the backbone and head), ``J_gen`` (for the generator),
        ``J_cls`` (for the softmax classifier), and what they are made of: ``J_m`` (J + weight
        decay), ``J_m_weighted`` (what J_avg averages), ``J_syn``, ``J_recon``, ``J_soft``, ``wd``,
        ``hardness`` (λ of eq. 1) and ``balance`` (e^{−β/J_gen}) as this step used them, and
        ``pulled`` (the share of tuples whose negative eq. 1 moved: d⁺ < d⁻)."""
        s = self.settings
        x, labels = batch
        dev = next(net.parameters()).device
        x, labels = x.to(dev), labels.to(dev)
        y = net.features(x)  # y: backbone features
        if rows is not None:  # index_select: its backward (index_add) is deterministic with repeated rows on CPU,
            y, labels = y.index_select(0, rows), labels[rows]  # y[rows]'s (index_put, accumulate) is not
        z = net.head(y)  # z: embedding
        wd = weight_decay(net, s.weight_decay)
        j_m = self.J(z, labels) + wd  # J_m (official: the loss plus weight decay)
        lam, w = self.hardness, self.balance
        z_hat = self.synthetic(z, lam)  # eq. 1
        y_all = self.generator(torch.cat([z, z_hat]))  # one generator pass (one BN batch) over [z; ẑ]
        y_rec, y_syn = y_all[: len(z)], y_all[len(z) :]
        z_syn = net.head(y_syn)  # synthetic features through the same BN and fc as real ones
        j_syn = self.J_syn(z_syn, labels)
        j_metric = w * j_m + (1 - w) * j_syn  # eq. 2
        j_recon = (1 - s.lam) * ((y_rec - y) ** 2).sum()  # J_recon: a sum over rows and features
        j_soft = self.J_soft(y_syn, labels)
        j_cls = self.cross_entropy(self.classifier(y), self.class_index(labels))
        with torch.no_grad():
            a, p, n = self.tuples(z)
            moved = (euclidean(a, p) < euclidean(a, n)).float().mean()
        t = torch.tensor
        return {
            "J_metric": j_metric,
            "J_gen": j_recon + j_soft,
            "J_cls": j_cls,
            "J_m": j_m.detach(),
            "J_m_weighted": (w * j_m).detach(),
            "J_syn": j_syn.detach(),
            "J_recon": j_recon.detach(),
            "J_soft": j_soft.detach(),
            "wd": wd.detach(),
            "hardness": t(lam),
            "balance": t(w),
            "pulled": moved,
        }

    def record(self, values: dict[str, float]) -> None:
        """After a step: the official collectors get the weighted J_m and J_gen."""
        self.j_avg.update(values["J_m_weighted"])
        self.j_gen.update(values["J_gen"])


def plain_losses(hdml: HDML, net: HDMLNet, batch, rows: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """The same J_m without HDML (the official ``Apply_HDML=False``: J + weight decay); ``rows`` as
    in :meth:`HDML.losses`."""
    x, labels = batch
    dev = next(net.parameters()).device
    x, labels = x.to(dev), labels.to(dev)
    wd = weight_decay(net, hdml.settings.weight_decay)
    if rows is None:
        return {"J_m": hdml.J(net(x), labels) + wd}
    return {"J_m": hdml.J(net.head(net.features(x).index_select(0, rows)), labels[rows]) + wd}


@dataclass
class LearningRates:
    """The official three: the metric net (init_learning_rate), the generator (lr_gen), the softmax (s_lr)."""

    metric: float = 7e-5
    generator: float = 1e-2
    softmax: float = 1e-3


def hdml_step(
    net: HDMLNet,
    hdml: HDML,
    lrs: LearningRates | None = None,
    apply: bool = True,
    record=None,
    layout: BatchTuples | None = None,
) -> Step:
    """The engine's Step for HDML (three Adam optimizers, each moved only by its loss) or, with
    ``apply=False``, for the plain J_m (one Adam optimizer on the net). ``record``: what keeps the
    block means after each step (``hdml.record`` by default). ``layout``: batches are class-balanced,
    not tuples; it gives each batch's tuple rows (:class:`BatchTuples`)."""
    lrs = lrs or LearningRates()

    def rows(batch):
        return None if layout is None else layout(batch[1])

    if not apply:
        return Step(
            {"net": net},
            lambda batch: plain_losses(hdml, net, batch, rows(batch)),
            [Update("J_m", torch.optim.Adam(net.parameters(), lr=lrs.metric))],
        )
    return Step(
        {"net": net, "generator": hdml.generator, "classifier": hdml.classifier},
        lambda batch: hdml.losses(net, batch, rows(batch)),
        [
            Update("J_metric", torch.optim.Adam(net.parameters(), lr=lrs.metric)),
            Update("J_gen", torch.optim.Adam(hdml.generator.parameters(), lr=lrs.generator)),
            Update("J_cls", torch.optim.Adam(hdml.classifier.parameters(), lr=lrs.softmax)),
        ],
        after_update=hdml.record if record is None else record,
    )
