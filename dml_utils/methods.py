"""The losses the five reports study, each as its report (and the paper behind it) uses it, built
from a setting of its hyperparameters, with the search space those hyperparameters are tuned in.

One protocol for every loss ("A Metric Learning Reality Check", Musgrave, Belongie & Lim, ECCV 2020)
needs every loss behind one interface: ``METHODS[name].build(setting, num_classes)`` gives
``(loss, miner)`` for ``dml_utils.retrieval_run.train_and_evaluate`` (the same backbone, batches,
optimizer and budget for all), and ``search_space(name)`` the Optuna distributions its setting is
drawn from. Each method keeps its own distance and its own reducer, as its report trains it: the
protocol equalizes the budget and the tuning, not the losses.

Search spaces. Every method tunes Adam's learning rate (``LR_SPACE``, 1e-4 … 1e-2, log): the reports
trained at 1e-3 to 7e-5 with different optimizers, and under a fixed small budget the learning rate
decides more than any loss parameter, so a protocol that fixed it would rank the methods by how well
1e-3 happens to suit each. Beside it, each method tunes the parameters its paper calls its own, over
a range that holds the report's value and the values the Reality Check found good; what a method's
paper fixes stays fixed here (named in ``fixed``).

HDML (notebook 02) trains with its own step (generator, softmax classifier, three optimizers), not a
(loss, miner) pair: its methods have ``hdml`` set, and ``build`` gives their ``HDMLSettings``. They
take the same class-balanced batches as every method, cut into HDML's tuples
(``hdml.BatchTuples``), and the same network (``hdml.split``: the backbone's own head, no extra
batch norm). ``triplet_sum`` is HDML's triplet J without the generator, so "HDML improves triplet"
compares like with like; N-pair's J is the registry's ``npair`` already. HDML's weight decay (part
of its J_m in the official code) is 0 here: no method gets weight decay under this protocol.

Written here rather than taken from a library: PML has every loss and miner, but no registry of
them with their reports' settings and search spaces; Optuna has the distributions, not the spaces.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from optuna.distributions import BaseDistribution, FloatDistribution
from pytorch_metric_learning.losses import CircleLoss, MarginLoss, TripletMarginLoss
from pytorch_metric_learning.miners import MultiSimilarityMiner

from . import hdml as H
from .hdml import npair_J
from .losses import SquaredHingeContrastiveLoss, YukawaLoss, batch_hard_triplet
from .sampling import NegativeSamplingMiner

LR_SPACE = FloatDistribution(1e-4, 1e-2, log=True)


@dataclass(frozen=True)
class Method:
    """One loss as a report uses it. ``build(setting, num_classes)`` → (loss, miner or None);
    ``space``: its own hyperparameters' distributions (the learning rate is added by
    :func:`search_space`); ``fixed``: what its paper fixes, as used here; ``loss_lr``: Adam's rate
    for the loss's own parameters (the margin loss's β), None when it has none."""

    name: str
    origin: str
    build: Callable[[Mapping[str, Any], int], tuple[Any, Any]]
    space: Mapping[str, BaseDistribution]
    fixed: Mapping[str, Any] = field(default_factory=dict)
    loss_lr: float | None = None
    hdml: bool | None = None  # None: a (loss, miner) method; True / False: HDML's step with / without its generator


def _contrastive(s, num_classes):
    return SquaredHingeContrastiveLoss(pos_margin=0.0, neg_margin=s["neg_margin"]), None


def _yukawa(s, num_classes):
    return YukawaLoss(decay=s["decay"], pos_exponent=3.0), None


def _triplet(s, num_classes):
    return TripletMarginLoss(margin=s["margin"]), MultiSimilarityMiner(epsilon=0.1)


def _circle(s, num_classes):
    return CircleLoss(m=s["m"], gamma=s["gamma"]), MultiSimilarityMiner(epsilon=0.1)


def _margin(s, num_classes):
    loss = MarginLoss(margin=s["alpha"], beta=s["beta"], learn_beta=True, num_classes=num_classes)
    return loss, NegativeSamplingMiner("distance", cutoff=0.5, nonzero_loss_cutoff=1.4)


def _npair(s, num_classes):
    return npair_J(l2_reg=s["l2_reg"]), None


def _batch_hard(s, num_classes):
    miner, loss = batch_hard_triplet(margin=s["margin"])
    return loss, miner


def _batch_hard_soft(s, num_classes):
    miner, loss = batch_hard_triplet(soft=True)
    return loss, miner


# HDML's own two (eq. 1's pulling α, eq. 2's balance β) are named alpha_pull and beta_balance here: the margin
# loss's α and β are other things. HDML's official settings this protocol keeps (lib/HDML.py and FLAGS.py of the authors' code); the generator and
# softmax learning rates are the official lr_gen and s_lr (notebook 02)
HDML_FIXED = {"lam": 0.5, "softmax_factor": 1e4, "block": 64, "weight_decay": 0.0, "lr_gen": 1e-2, "lr_softmax": 1e-3}


def _hdml_settings(loss, s):
    keep = {k: v for k, v in HDML_FIXED.items() if not k.startswith("lr_")}
    own = {
        k: s[key] for k, key in (("alpha", "alpha_pull"), ("beta", "beta_balance"), ("l2_reg", "l2_reg")) if key in s
    }
    return H.HDMLSettings(loss=loss, margin=1.0, **keep, **own)


def _hdml_triplet(s, num_classes):
    return _hdml_settings("triplet", s)


def _hdml_npair(s, num_classes):
    return _hdml_settings("npair", s)


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "contrastive",
            "notebook 03 (Hadsell, Chopra & LeCun 2006): y·D² + (1 − y)·[α − D]²₊ on L2-normalized embeddings",
            _contrastive,
            {"neg_margin": FloatDistribution(0.2, 2.0)},  # distances on the unit sphere lie in [0, 2]; notebook 03: 1
            {"pos_margin": 0.0},
        ),
        Method(
            "yukawa",
            "notebook 03: y·D³ + (1 − y)·e^{−κD}/D on L2-normalized embeddings",
            _yukawa,
            {"decay": FloatDistribution(1.0, 30.0, log=True)},  # notebook 03: κ = 10
            {"pos_exponent": 3.0},
        ),
        Method(
            "triplet",
            "notebook 01: triplet margin loss on L2-normalized embeddings behind the multi-similarity miner (ε 0.1)",
            _triplet,
            {
                "margin": FloatDistribution(0.01, 0.5, log=True)
            },  # Reality Check: 0.05–0.12 tuned well; notebook 01: 0.1–0.8
            {"miner_epsilon": 0.1},
        ),
        Method(
            "circle",
            "notebook 01 (Sun et al. 2020): circle loss on cosine similarity behind the multi-similarity miner (ε 0.1)",
            _circle,
            {
                "m": FloatDistribution(0.1, 0.5),  # m > 0.5 inverts the decision boundary (notebook 01)
                "gamma": FloatDistribution(16.0, 256.0, log=True),  # paper: 80 (fine-grained), 256 (face)
            },
            {"miner_epsilon": 0.1},
        ),
        Method(
            "margin",
            "notebook 04 (Wu et al. 2017): margin loss (α + y(D − β))₊, β learnable per class, "
            "distance-weighted sampling (cut-off 0.5, negatives only within 1.4)",
            _margin,
            {"alpha": FloatDistribution(0.05, 0.4), "beta": FloatDistribution(0.6, 1.6)},  # paper: α 0.2, β₀ 1.2
            {"cutoff": 0.5, "nonzero_loss_cutoff": 1.4},
            loss_lr=1e-2,
        ),
        Method(
            "npair",
            "notebook 02 (Sohn 2016): N-pair cross-entropy of raw dot products with an ℓ2 penalty on the embeddings",
            _npair,
            {"l2_reg": FloatDistribution(1e-4, 1e-1, log=True)},  # HDML's official code: 3e-3
        ),
        Method(
            "batch_hard",
            "notebook 05 (Hermans et al. 2017): batch-hard triplet, hard margin, plain Euclidean distances",
            _batch_hard,
            {"margin": FloatDistribution(0.05, 1.0, log=True)},  # Hermans et al.: 0.2 (notebook 05: 0.5)
        ),
        Method(
            "batch_hard_soft",
            "notebook 05 (Hermans et al. 2017): batch-hard triplet, soft margin ln(1 + e^{D(a,p) − D(a,n)})",
            _batch_hard_soft,
            {},  # no hyperparameter of its own: only the learning rate is tuned
        ),
        Method(
            "triplet_sum",
            "notebook 02 (HDML's official triplet J, no generator): Σ over tuples of [‖a − p‖² − ‖a − n‖² + 1]₊ on raw "
            "embeddings; every image of the batch an anchor, the next of its class the positive, a random other class's "
            "image the negative",
            _hdml_triplet,
            {},  # margin 1 as the official code: raw embeddings are free in scale, so only lr is tuned
            {"margin": 1.0, "weight_decay": 0.0},
            hdml=False,
        ),
        Method(
            "hdml_triplet",
            "notebook 02 (Zheng et al. 2019): HDML on triplet_sum's J: eq. 1 pulls each negative towards the anchor by "
            "λ = e^{−α/J_avg}, a generator maps embeddings back to features, J_metric = e^{−β/J_gen}·J_m + (1 − ·)·J_syn",
            _hdml_triplet,
            {
                # J is a sum over the batch's 32 tuples (≈ 10–40 after the first block): α 1 → λ ≈ 0.95, 1,000 → λ ≈ 0;
                # official α = 90
                "alpha_pull": FloatDistribution(1.0, 1000.0, log=True),
                # J_gen ≈ 10⁴·0.5·CE + Σ‖y' − y‖² ≈ 3·10⁴ and up: β 10³ → e^{−β/J_gen} ≈ 0.97, 10⁶ → ≈ 0; official 10⁴
                "beta_balance": FloatDistribution(1e3, 1e6, log=True),
            },
            HDML_FIXED | {"margin": 1.0},
            hdml=True,
        ),
        Method(
            "hdml_npair",
            "notebook 02 (Zheng et al. 2019): HDML on npair's J (one pair per class of the batch, N² synthetic tuples)",
            _hdml_npair,
            {
                "l2_reg": FloatDistribution(1e-4, 1e-1, log=True),  # as npair
                # J is a mean cross-entropy (≈ ln 8 ≈ 2 at the start): α 0.1 → λ ≈ 0.95, 100 → λ ≈ 0; official α = 90
                "alpha_pull": FloatDistribution(0.1, 100.0, log=True),
                "beta_balance": FloatDistribution(1e3, 1e6, log=True),  # as hdml_triplet; official 10⁴
            },
            HDML_FIXED,
            hdml=True,
        ),
    )
}


def method(name: str) -> Method:
    """The registered method ``name``; an unknown name gets the list of known ones."""
    if name not in METHODS:
        import difflib

        close = difflib.get_close_matches(name, list(METHODS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown method {name!r}; use one of {list(METHODS)}.{hint}")
    return METHODS[name]


def search_space(name: str, tune_lr: bool = True) -> dict[str, BaseDistribution]:
    """The distributions a setting of ``name`` is drawn from: its own, and the learning rate (``lr``)
    unless ``tune_lr`` is False. An empty space is an error: a method with nothing to tune cannot be
    given trials (tune the learning rate, or train it at its fixed setting without tuning)."""
    space = dict(method(name).space)
    if tune_lr:
        space = {"lr": LR_SPACE, **space}
    if not space:
        raise ValueError(
            f"method {name!r} has an empty search space with tune_lr=False (it has no hyperparameter of its own); "
            "set tune_lr=True, or train it at its fixed setting without tuning"
        )
    return space


def build(name: str, setting: Mapping[str, Any], num_classes: int):
    """(loss, miner) of ``name`` at ``setting`` (its own hyperparameters; ``lr`` is the optimizer's
    and is ignored here), or the ``HDMLSettings`` of an HDML method. A missing or unknown
    hyperparameter is an error naming the space."""
    m = method(name)
    own = {k: v for k, v in setting.items() if k != "lr"}
    missing, extra = sorted(set(m.space) - set(own)), sorted(set(own) - set(m.space))
    if missing or extra:
        raise ValueError(
            f"method {name!r} takes the hyperparameters {sorted(m.space)} (and lr); missing {missing}, unknown {extra}"
        )
    for key, dist in m.space.items():
        if not dist._contains(dist.to_internal_repr(own[key])):
            raise ValueError(f"{name}: {key} = {own[key]!r} lies outside its search space {dist}")
    return m.build(own, num_classes)
