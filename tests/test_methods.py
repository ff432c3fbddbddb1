"""The registry of every report's loss under one protocol: each builds at any setting of its search
space and trains (finite loss, gradients reach the embeddings), and bad settings say how to fix them."""

import math

import optuna
import pytest
import torch

from dml_utils import methods
from dml_utils.methods import LR_SPACE, METHODS, build, method, search_space

# Each report's own value of each tuned hyperparameter (notebooks 01–05): the space must hold it.
REPORTED = {
    "contrastive": {"neg_margin": 1.0},
    "yukawa": {"decay": 10.0},
    "triplet": {"margin": 0.1},
    "circle": {"m": 0.4, "gamma": 80.0},
    "margin": {"alpha": 0.2, "beta": 1.2},
    "npair": {"l2_reg": 3e-3},
    "batch_hard": {"margin": 0.2},
    "batch_hard_soft": {},
    "triplet_sum": {},
    "hdml_triplet": {"alpha_pull": 90.0, "beta_balance": 1e4},  # the official FLAGS (Cars196)
    "hdml_npair": {"l2_reg": 3e-3, "alpha_pull": 90.0, "beta_balance": 1e4},
}


def _batch(p=4, k=4, dim=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    emb = torch.randn(p * k, dim, generator=g, dtype=torch.float64, requires_grad=True)
    labels = torch.arange(p).repeat_interleave(k)
    return emb, labels


def test_every_method_has_its_reported_setting_in_its_space():
    assert sorted(REPORTED) == sorted(METHODS)
    for name, setting in REPORTED.items():
        assert sorted(setting) == sorted(METHODS[name].space), name
        build(name, setting, num_classes=4)  # inside the space, else build raises


@pytest.mark.parametrize("name", sorted(METHODS))
@pytest.mark.parametrize("corner", ["low", "reported", "high"])
def test_every_method_gives_a_finite_loss_with_gradients_across_its_space(name, corner):
    setting = dict(REPORTED[name])
    for key, dist in METHODS[name].space.items():
        if corner != "reported":
            setting[key] = dist.low if corner == "low" else dist.high
    if METHODS[name].hdml is not None:
        return _hdml_losses_are_finite_with_gradients(name, setting)
    loss_fn, miner = build(name, setting, num_classes=4)
    loss_fn = loss_fn.double()
    emb, labels = _batch()
    loss = loss_fn(emb, labels, miner(emb, labels)) if miner is not None else loss_fn(emb, labels)
    value = float(loss.detach())
    assert math.isfinite(value) and value >= 0
    loss.backward()
    assert torch.isfinite(emb.grad).all() and emb.grad.abs().sum() > 0, f"{name} at {setting}: no gradient"


def _hdml_losses_are_finite_with_gradients(name, setting):
    """An HDML method's every loss on a class-balanced batch, after its block means have left their
    initial 10⁶ (so eq. 1 and eq. 2 act), on the small ConvNet split at its own head."""
    from dml_utils import hdml as H
    from dml_utils.models import SmallConvNet

    torch.manual_seed(0)
    net = H.split(SmallConvNet(16, image_size=12), (12, 12))
    settings = build(name, setting, num_classes=4)
    parts = H.HDML(net, range(4), settings)
    parts.j_avg.value, parts.j_gen.value = 5.0, 3e4  # as after the first block
    x = torch.randn(16, 12, 12, generator=torch.Generator().manual_seed(1))
    labels = torch.arange(4).repeat_interleave(4)
    rows = H.BatchTuples(settings.loss, 0)(labels)
    out = parts.losses(net, (x, labels), rows) if METHODS[name].hdml else H.plain_losses(parts, net, (x, labels), rows)
    main = out["J_metric"] if METHODS[name].hdml else out["J_m"]
    assert all(math.isfinite(float(v.detach())) for v in out.values()), out
    main.backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads) and sum(g.abs().sum() for g in grads) > 0


def test_hdml_methods_fix_weight_decay_at_zero_and_keep_the_official_rest():
    for name in ("triplet_sum", "hdml_triplet", "hdml_npair"):
        s = build(name, {**REPORTED[name], "lr": 1e-3}, num_classes=4)
        assert (s.weight_decay, s.lam, s.softmax_factor, s.block, s.margin) == (0.0, 0.5, 1e4, 64, 1.0), name
        assert name == "triplet_sum" or (s.alpha, s.beta) == (90.0, 1e4)
    assert build("hdml_npair", REPORTED["hdml_npair"], 4).loss == "npair"
    assert (METHODS["triplet_sum"].hdml, METHODS["hdml_triplet"].hdml, METHODS["npair"].hdml) == (False, True, None)


def test_an_unknown_method_is_named_with_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown method 'triplett'.*Did you mean 'triplet'"):
        method("triplett")
    with pytest.raises(ValueError, match="unknown method"):
        search_space("arcface")


def test_a_setting_must_match_the_space():
    with pytest.raises(ValueError, match=r"missing \['gamma'\]"):
        build("circle", {"m": 0.4}, num_classes=4)
    with pytest.raises(ValueError, match=r"unknown \['margin'\]"):
        build("npair", {"l2_reg": 3e-3, "margin": 0.1}, num_classes=4)
    with pytest.raises(ValueError, match="outside its search space"):
        build("circle", {"m": 0.8, "gamma": 80.0}, num_classes=4)  # m > 0.5 inverts the boundary
    build("circle", {"m": 0.4, "gamma": 80.0, "lr": 1e-3}, num_classes=4)  # lr is the optimizer's: ignored here


def test_the_learning_rate_is_tuned_for_every_method_and_an_empty_space_is_an_error():
    for name in METHODS:
        space = search_space(name)
        assert space["lr"] == LR_SPACE and set(space) == {"lr", *METHODS[name].space}
    assert search_space("batch_hard_soft") == {"lr": LR_SPACE}
    with pytest.raises(ValueError, match="empty search space.*tune_lr=True"):
        search_space("batch_hard_soft", tune_lr=False)
    assert "lr" not in search_space("circle", tune_lr=False)


def test_a_space_is_something_optuna_can_sample():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for name in METHODS:
        trial = study.ask(search_space(name))
        build(name, trial.params, num_classes=4)


def test_the_margin_loss_learns_its_beta_at_its_own_rate():
    loss_fn, miner = build("margin", REPORTED["margin"], num_classes=7)
    assert METHODS["margin"].loss_lr == 1e-2
    assert [p.shape for p in loss_fn.parameters()] == [torch.Size([7])]  # one β per class
    assert all(m.loss_lr is None for m in METHODS.values() if m.name != "margin")


def test_the_registry_names_where_each_method_comes_from():
    for m in METHODS.values():
        assert m.origin.startswith("notebook 0"), m.name
    assert methods.METHODS is METHODS
