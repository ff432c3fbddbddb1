import numpy as np
import pytest
import torch

from dml_utils.config import make_deterministic
from dml_utils.models import MLPEmbedding, weight_distance
from dml_utils.pairs import pair_loader, pair_loss
from dml_utils.seeds import run_generator, seed_everything
from dml_utils.studies.yukawa_vs_contrastive import study as yc
from dml_utils.train import NonFiniteLossError, Step, Update, fit, single_loss_step


def _setup(seed=0, n=64):
    rng = np.random.default_rng(0)
    x = rng.random((n, 16), dtype=np.float32)
    pairs = rng.integers(0, n, size=(n, 2))
    same = np.arange(n) % 2
    seed_everything(seed)  # a run seed (DML_SEED_OFFSET moves it); the data above stays
    model = MLPEmbedding(in_features=16, widths=(8, 8))
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    return model, opt, pair_loader(x, pairs, same, 16, run_generator(seed))


@pytest.mark.trains
def test_history_eval_callback_weight_move_and_step0():
    model, opt, loader = _setup()
    step = single_loss_step(model, pair_loss(yc.build_loss("yukawa")), opt)
    first = next(iter(loader))
    hist = fit(step, loader, passes=3, evaluate=lambda p: p * 10, eval_passes=[2, 3], step0_batch=first, progress=False)
    assert hist.steps == 3 * 4 and len(hist.pass_loss) == 3 and hist.evaluations == {2: 20, 3: 30}
    assert hist.losses["loss"] == hist.step_loss and set(hist.step0) == {"loss"} and np.isfinite(hist.step0["loss"])
    # recorded at passes 2 and 3 (whether pass 3 ends farther from the start is training's business, not the engine's)
    assert set(hist.weight_move) == {2, 3} and 0 < hist.weight_move[2]["model"] != hist.weight_move[3]["model"] > 0
    assert hist.weight_move[3]["model"] == weight_distance(model, hist.initial_state["model"])
    assert len(hist.step_times) == hist.steps and sum(hist.step_times) == pytest.approx(hist.step_seconds)
    assert min(hist.step_times) <= hist.median_step_ms / 1e3 <= max(hist.step_times)


@pytest.mark.trains
def test_same_seed_same_numbers():
    make_deterministic(2)
    runs = []
    for _ in range(2):
        model, opt, loader = _setup(seed=5)
        seed_everything(5)  # dropout
        runs.append(
            fit(
                single_loss_step(model, pair_loss(yc.build_loss("contrastive")), opt), loader, 2, progress=False
            ).step_loss
        )
    assert runs[0] == runs[1]


def _two_groups(seed=0):
    """A toy backbone and a toy generator that perturbs its embeddings; both losses see both."""
    torch.manual_seed(seed)
    backbone, generator = torch.nn.Linear(6, 4), torch.nn.Linear(4, 4)
    x = torch.randn(8, 6)

    def losses(batch):
        emb = backbone(batch)
        synthetic = emb + generator(emb)
        return {
            "metric": (emb**2).mean() + 0.5 * (synthetic**2).mean(),  # backbone's objective (uses the generator)
            "generator": ((synthetic - emb.detach() - 1.0) ** 2).mean() + emb.abs().mean(),
        }  # generator's (uses the backbone)

    opts = {
        "metric": torch.optim.SGD(backbone.parameters(), lr=0.1),
        "generator": torch.optim.SGD(generator.parameters(), lr=0.1),
    }
    step = Step({"backbone": backbone, "generator": generator}, losses, [Update(k, o) for k, o in opts.items()])
    return step, backbone, generator, x, losses


@pytest.mark.trains
def test_two_optimizers_each_group_moves_only_with_its_own_loss():
    step, backbone, generator, x, losses = _two_groups()
    before = {
        k: [p.detach().clone() for p in m.parameters()] for k, m in (("backbone", backbone), ("generator", generator))
    }
    out = losses(x)
    expect = {}
    for loss, (name, mod) in (("metric", ("backbone", backbone)), ("generator", ("generator", generator))):
        grads = torch.autograd.grad(out[loss], list(mod.parameters()), retain_graph=True)
        expect[name] = [p - 0.1 * g for p, g in zip(before[name], grads)]
    hist = fit(step, [x], passes=1, progress=False)
    for name, mod in (("backbone", backbone), ("generator", generator)):
        for p, e in zip(mod.parameters(), expect[name]):
            torch.testing.assert_close(p.detach(), e, rtol=0, atol=1e-7)
    assert set(hist.losses) == {"metric", "generator"} and hist.step_loss == hist.losses["metric"]
    # the cross terms are not zero: a leak would have changed the result
    g_cross = torch.autograd.grad(losses(x)["generator"], list(backbone.parameters()))
    assert all(g.abs().sum() > 0 for g in g_cross)


def test_a_parameter_in_two_updates_is_refused():
    m = torch.nn.Linear(2, 2)
    with pytest.raises(ValueError, match="both"):
        Step(
            {"m": m},
            lambda b: {},
            [Update("a", torch.optim.SGD(m.parameters(), lr=1)), Update("b", torch.optim.SGD(m.parameters(), lr=1))],
        )


@pytest.mark.trains
def test_missing_named_loss_is_reported():
    step, *_, x, losses = _two_groups()
    step.losses = lambda b: {"metric": losses(b)["metric"]}
    with pytest.raises(KeyError, match="generator"):
        fit(step, [x], passes=1, progress=False)


@pytest.mark.trains
def test_non_finite_loss_names_the_step_and_no_update_applies_it():
    model, opt, loader = _setup()
    calls = {"n": 0}
    snap = {}

    def loss_of(m, batch):
        calls["n"] += 1
        loss = m(torch.cat(batch[:2])).sum() * 1e-3
        if calls["n"] == 6:
            snap.update({k: v.clone() for k, v in m.state_dict().items()})
            return loss * float("nan")
        return loss

    with pytest.raises(
        NonFiniteLossError, match=r"pass 2, step 1 \(global step 5\): loss 'loss' is nan\. No optimizer stepped"
    ):
        fit(single_loss_step(model, loss_of, opt), loader, passes=3, progress=False)
    assert all(torch.equal(v, snap[k]) for k, v in model.state_dict().items())


@pytest.mark.trains
def test_finite_loss_with_non_finite_gradient_is_caught_before_the_step():
    """An +inf input through a saturating unit: tanh(inf) = 1 keeps the loss finite, while the
    weight's gradient is inf · tanh'(inf) = inf · 0 = NaN. No optimizer may apply it."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(1, 2), torch.nn.Tanh())
    with torch.no_grad():
        model[0].weight.fill_(0.5)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    good, bad = torch.ones(4, 1), torch.tensor([[1.0], [float("inf")], [2.0], [0.0]])
    step = single_loss_step(model, lambda m, x: m(x).sum(), opt)
    with pytest.raises(
        NonFiniteLossError,
        match=r"global step 1\): the gradient of loss 'loss' is NaN for parameter "
        r"'model\.0\.weight' although the loss is finite \(-?\d",
    ):
        fit(step, [good, bad], passes=1, progress=False)
    # the weights are those after the one good step
    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Linear(1, 2), torch.nn.Tanh())
    with torch.no_grad():
        ref[0].weight.fill_(0.5)
    ref_opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    ref(good).sum().backward()
    ref_opt.step()
    assert torch.equal(ref[0].weight, model[0].weight) and torch.equal(ref[0].bias, model[0].bias)


@pytest.mark.trains
def test_bad_passes_and_empty_loader():
    model, opt, loader = _setup()
    step = single_loss_step(model, lambda m, b: None, opt)
    with pytest.raises(ValueError, match="passes must be"):
        fit(step, loader, passes=0)
    with pytest.raises(ValueError, match="no batches"):
        fit(step, [], passes=1, progress=False)


@pytest.mark.trains
def test_a_huge_but_finite_gradient_is_not_called_non_finite():
    """The fused norm check overflows for gradients near float32's limit; the exact check must then clear them."""
    model = torch.nn.Linear(4, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, -1.0, 0.0, 0.0]]))
    step = single_loss_step(model, lambda m, x: m(x).sum(), torch.optim.SGD(model.parameters(), lr=0.0))
    x = torch.full((1, 4), 3e38)  # loss w·x = 0; ∂/∂w = x: finite, but its norm overflows float32
    assert bool(torch.isinf(torch.stack(torch._foreach_norm([x[0]]))).all())
    hist = fit(step, [x], passes=1, progress=False)
    assert hist.steps == 1 and hist.step_loss == [0.0]


@pytest.mark.trains
def test_after_update_sees_every_step_once_after_the_optimizers_and_not_the_step0_pass():
    """A Step's state across steps (HDML's block means) is fed once per step, after the
    optimizers, with every named loss; the no-gradient pass before training does not feed it."""
    w = torch.nn.Linear(2, 1)
    seen = []
    step = Step(
        {"w": w},
        lambda b: {"loss": (w(b) ** 2).mean(), "aux": w.weight.sum().detach()},
        [Update("loss", torch.optim.SGD(w.parameters(), lr=0.1))],
        after_update=lambda v: seen.append((v["aux"], float(w.weight.sum()))),
    )
    batch = torch.ones(4, 2)
    hist = fit(step, [batch, batch, batch], 1, step0_batch=batch, progress=False)
    assert len(seen) == 3 == hist.steps
    for (aux, after), logged in zip(seen, hist.losses["aux"]):
        assert aux == logged and after != aux  # the values of the forward pass, the weights after the update


@pytest.mark.trains  # through the engine (fit); the NaN is arithmetic, the same at every seed
def test_the_official_guard_mode_zeroes_nan_losses_and_lets_nan_gradients_through():
    """``nonfinite="zero"``: TensorFlow's guard in HDML's official loop (a NaN loss replaced by 0
    before it is differentiated), for the study of its NaN. The run goes on, the NaN stays in the
    recorded losses, and a NaN gradient reaches the weights; the default mode raises instead."""
    w = torch.nn.Linear(2, 1)
    step = Step(
        {"w": w},
        lambda b: {"loss": (w(b) * torch.log(torch.zeros(1))).sum() * 0},  # 0 · log 0: NaN, NaN gradient
        [Update("loss", torch.optim.Adam(w.parameters(), lr=1e-3))],
    )
    hist = fit(step, [torch.ones(1, 2)] * 2, 1, nonfinite="zero", progress=False)
    assert len(hist.losses["loss"]) == 2 and all(np.isnan(hist.losses["loss"]))
    assert torch.isnan(w.weight).all()
    with pytest.raises(ValueError, match="nonfinite must be 'raise' or 'zero'"):
        fit(step, [torch.ones(1, 2)], 1, nonfinite="skip", progress=False)
    v = torch.nn.Linear(2, 1)
    finite = Step({"v": v}, lambda b: {"loss": v(b).sum()}, [Update("loss", torch.optim.SGD(v.parameters(), lr=0.1))])
    before = v.weight.detach().clone()
    fit(finite, [torch.ones(1, 2)], 1, nonfinite="zero", progress=False)
    assert torch.allclose(v.weight.detach(), before - 0.1)  # a finite loss trains as in the default mode
