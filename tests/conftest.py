import numpy as np
import pytest

from dml_utils.data import IDX_FILES, write_idx


@pytest.fixture
def idx_tree(tmp_path):
    """A tiny MNIST-shaped IDX tree in torchvision's layout: root/MNIST/raw/*.gz (3 classes)."""

    def make(folder, n_train=30, n_test=12, gz=True):
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(0)
        arrays = {
            "x_train": rng.integers(0, 256, size=(n_train, 28, 28)),
            "y_train": np.arange(n_train) % 3,
            "x_test": rng.integers(0, 256, size=(n_test, 28, 28)),
            "y_test": np.arange(n_test) % 3,
        }
        for key, stem in IDX_FILES.items():
            write_idx(folder / (stem + (".gz" if gz else "")), arrays[key])
        return arrays

    return make


@pytest.fixture
def fashion_fixture(tmp_path):
    """A tiny Fashion-MNIST-shaped IDX folder: 10 classes of random images (400 train, 200 test)."""
    rng = np.random.default_rng(0)
    for split, n in (("train", 400), ("t10k", 200)):
        y = np.arange(n) % 10
        x = rng.integers(0, 256, size=(n, 28, 28))
        write_idx(tmp_path / f"{split}-images-idx3-ubyte.gz", x)
        write_idx(tmp_path / f"{split}-labels-idx1-ubyte.gz", y)
    assert {p.name.removesuffix(".gz") for p in tmp_path.iterdir()} == set(IDX_FILES.values())
    return tmp_path


# ---------------------------------------------------------------- nbval baselines and this CPU
def _baseline_machines():
    import json
    from pathlib import Path

    folder = Path(__file__).parent / "regression"
    return {p.name: json.loads(p.read_text())["metadata"].get("dml_machine") for p in sorted(folder.glob("[0-9][0-9]_*.ipynb"))}


def _machine_note():
    """None when every nbval baseline was made on a CPU with this one's float path, else a warning."""
    from dml_utils.machine import cpu_fingerprint, same_float_path

    here = cpu_fingerprint()
    other = {name: fp for name, fp in _baseline_machines().items() if not same_float_path(fp, here)}
    if not other:
        return None
    made = {f"{(fp or {}).get('torch_cpu_capability', '?')}/{(fp or {}).get('cpu_flags_sha', '?')}" for fp in other.values()}
    return (f"nbval baselines {sorted(other)} were made on another CPU ({', '.join(sorted(made))}; this one is "
            f"{here['torch_cpu_capability']}/{here['cpu_flags_sha']}). Training amplifies last-bit float differences, so "
            "their checked numbers can differ here although this CPU repeats its own runs exactly. If the unit tests pass, "
            "regenerate them with `make baselines` and review the diff.")


def pytest_report_header(config):
    note = _machine_note()
    return [f"nbval: {note}"] if note else ["nbval: baselines made on a CPU with this one's float path"]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    failed = [r for r in terminalreporter.stats.get("failed", []) if "regression" in r.nodeid]
    note = _machine_note() if failed else None
    if note:
        terminalreporter.write_sep("=", "nbval baselines and this CPU")
        terminalreporter.write_line(note)
