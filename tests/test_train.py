import numpy as np
import pytest
import torch

from dml_utils.config import config, make_deterministic
from dml_utils.data import pair_loader
from dml_utils.losses import build_pair_loss
from dml_utils.models import MLPEmbedding, weight_distance
from dml_utils.train import NonFiniteLossError, pair_loss_step, train


def _setup(seed=0, n=64):
    rng = np.random.default_rng(0)
    x = rng.random((n, 16), dtype=np.float32)
    pairs = rng.integers(0, n, size=(n, 2))
    same = np.arange(n) % 2
    torch.manual_seed(seed)
    model = MLPEmbedding(in_features=16, widths=(8, 8))
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    return model, opt, pair_loader(x, pairs, same, 16, torch.Generator().manual_seed(seed))


def test_history_and_eval_callback():
    model, opt, loader = _setup()
    hist = train(model, pair_loss_step(build_pair_loss("yukawa")), loader, opt, epochs=3,
                 on_epoch_end=lambda e, m: e * 10, eval_epochs=[2, 3], progress=False)
    assert hist.steps == 3 * 4 and len(hist.epoch_loss) == 3 and hist.evaluations == {2: 20, 3: 30}
    assert len(hist.step_times) == hist.steps and sum(hist.step_times) == pytest.approx(hist.step_seconds)
    assert min(hist.step_times) <= hist.median_step_ms / 1e3 <= max(hist.step_times)


def test_same_seed_same_numbers():
    make_deterministic(2)
    runs = []
    for _ in range(2):
        model, opt, loader = _setup(seed=5)
        torch.manual_seed(5)  # dropout
        runs.append(train(model, pair_loss_step(build_pair_loss("contrastive")), loader, opt, 2, progress=False).step_loss)
    assert runs[0] == runs[1]


def test_non_finite_loss_names_the_step_and_keeps_weights():
    model, opt, loader = _setup()
    calls = {"n": 0}

    def step(m, batch):
        calls["n"] += 1
        loss = m(torch.cat(batch[:2])).sum() * 1e-3
        return loss * float("nan") if calls["n"] == 6 else loss

    with pytest.raises(NonFiniteLossError, match=r"epoch 2, step 1 \(global step 5\)"):
        before = None

        def snapshot(e, m):
            nonlocal before
            before = {k: v.clone() for k, v in m.state_dict().items()}

        train(model, step, loader, opt, epochs=3, on_epoch_end=snapshot, eval_epochs=[1], progress=False)
    # one good step after the snapshot moved the weights; the NaN step did not touch them
    assert all(torch.isfinite(v).all() for v in model.state_dict().values())


def test_bad_epochs_and_empty_loader():
    model, opt, loader = _setup()
    with pytest.raises(ValueError, match="epochs must be"):
        train(model, lambda m, b: None, loader, opt, epochs=0)
    with pytest.raises(ValueError, match="no batches"):
        train(model, lambda m, b: None, [], opt, epochs=1, progress=False)


def test_keras_init_and_weight_distance():
    torch.manual_seed(0)
    m = MLPEmbedding()
    lin = [mod for mod in m if isinstance(mod, torch.nn.Linear)]
    bound = (6 / (784 + 128)) ** 0.5  # Glorot uniform
    assert lin[0].weight.abs().max() <= bound and lin[0].weight.abs().max() > 0.95 * bound
    assert all((l.bias == 0).all() for l in lin)
    assert sum(isinstance(mod, torch.nn.Dropout) for mod in m) == 2 and isinstance(m[-1], torch.nn.ReLU)
    s0 = {k: v.clone() for k, v in m.state_dict().items()}
    assert weight_distance(m, s0) == 0
    with torch.no_grad():
        lin[0].weight.mul_(2)
    assert weight_distance(m, s0) > 0


def test_config_rejects_what_train_cannot_use():
    with pytest.raises(ValueError):
        config("03_yukawa_vs_contrastive_mnist", "smoke", batch_size=1)
