"""Only scripts/run_notebooks.py publishes. A notebook run any other way — cell by cell in a kernel
as JupyterLab does, or by plain papermill — at the default profile writes its figures and results
under build/default/ and leaves every committed file (figures/, results/, notebooks/) as it was,
bytes and modification time. Each test runs notebook 03 at the default profile with a tiny
override (one seed, one epoch, scikit-learn's digits: ~20 s)."""

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NB03 = ROOT / "notebooks" / "03_yukawa_vs_contrastive_mnist.ipynb"
TINY = {"seeds": [0], "epochs": 1, "eval_epochs": [1], "datasets": ["digits"]}
MADE = ["figures/03_yukawa_vs_contrastive_mnist_loss_curves.png", "results/03_yukawa_vs_contrastive_mnist.json"]


def committed_state() -> dict:
    return {
        p.relative_to(ROOT): (p.read_bytes(), p.stat().st_mtime_ns)
        for sub in ("figures", "results", "notebooks")
        for p in sorted((ROOT / sub).rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def fresh_build():
    for rel in MADE:
        (ROOT / "build" / "default" / rel).unlink(missing_ok=True)
    before = committed_state()
    yield
    assert committed_state() == before, "a run outside the run script changed a committed file"
    for rel in MADE:
        assert (ROOT / "build" / "default" / rel).exists(), f"build/default/{rel} was not written"


def test_cells_run_one_by_one_in_a_kernel_write_under_build(fresh_build):
    """The Lab's path: a kernel started in notebooks/, the parameters cell edited by hand (no
    injected cell follows it), then every code cell in turn."""
    from jupyter_client.manager import start_new_kernel

    nb = nbformat.read(NB03, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata["tags"]
    typed = 'profile = "default"\n' + "".join(f"{k} = {v!r}\n" for k, v in TINY.items())
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(NB03.parent))
    try:
        outputs = []
        for i, src in enumerate([typed] + [c.source for c in code[1:]]):
            reply = kc.execute_interactive(src, timeout=300, output_hook=lambda m: outputs.append(m))
            assert reply["content"]["status"] == "ok", f"code cell {i} failed: {reply['content'].get('evalue')}"
            if i == 1:  # the setup cell: the user's values ran, and it says where the outputs go
                printed = "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream")
                assert "figures -> build/default/figures/" in printed
        check = kc.execute_interactive(
            "assert cfg.seeds == [0] and cfg.datasets == ['digits'] and cfg.profile == 'default'", timeout=30
        )
        assert check["content"]["status"] == "ok"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_plain_papermill_at_the_default_profile_writes_under_build(fresh_build, tmp_path):
    import papermill as pm

    pm.execute_notebook(
        str(NB03),
        str(tmp_path / "out.ipynb"),
        parameters=TINY,
        cwd=str(NB03.parent),
        kernel_name="python3",
        progress_bar=False,
    )
