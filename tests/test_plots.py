import matplotlib

matplotlib.use("Agg")

from dml_utils import plots  # noqa: E402


def test_mark_collapse_draws_a_labelled_line_only_for_a_collapse():
    fig, ax = plots.plt.subplots()
    ax.plot([0, 1, 2], [1.0, 0.5, 0.5])
    assert not plots.mark_collapse(ax, None)
    assert len(ax.lines) == 1
    assert plots.mark_collapse(ax, {"step": 40, "reason": "loss pinned at margin"})
    line = ax.lines[-1]
    assert list(line.get_xdata()) == [40, 40] and "step 40 (loss pinned at margin)" in line.get_label()
    plots.plt.close(fig)


def test_savefig_writes_the_notebooks_prefix_and_name(tmp_path):
    from dml_utils.config import config

    cfg = config("03_yukawa_vs_contrastive_mnist", "smoke", root=tmp_path)
    fig, _ = plots.plt.subplots()
    path = plots.savefig(fig, cfg, "what")
    assert path == tmp_path / "build" / "smoke" / "figures" / "03_yukawa_vs_contrastive_mnist_what.png" and path.stat().st_size > 0
