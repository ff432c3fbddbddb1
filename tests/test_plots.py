import matplotlib

matplotlib.use("Agg")

from dml_utils import plots  # noqa: E402
from dml_utils.studies.batch_hard_collapse import figures  # noqa: E402


def test_mark_collapse_draws_a_labelled_line_only_for_a_collapse():
    fig, ax = plots.plt.subplots()
    ax.plot([0, 1, 2], [1.0, 0.5, 0.5])
    assert not figures.mark_collapse(ax, None)
    assert len(ax.lines) == 1
    assert figures.mark_collapse(ax, {"step": 40, "reason": "loss pinned at margin"})
    line = ax.lines[-1]
    assert list(line.get_xdata()) == [40, 40] and "step 40 (loss pinned at margin)" in line.get_label()
    plots.plt.close(fig)


def test_savefig_writes_the_notebooks_prefix_and_name(tmp_path):
    from dml_utils.studies import config

    cfg = config("03_yukawa_vs_contrastive_mnist", "smoke", root=tmp_path)
    fig, _ = plots.plt.subplots()
    path = plots.savefig(fig, cfg, "what")
    assert (
        path == tmp_path / "build" / "smoke" / "figures" / "03_yukawa_vs_contrastive_mnist_what.png"
        and path.stat().st_size > 0
    )


def test_the_05_panels_draw_what_they_are_given():
    import pandas as pd

    from dml_utils.sampling import no_valid_triplet_monte_carlo, no_valid_triplet_probability
    from dml_utils.studies.batch_hard_collapse.study import gradient_norms_near_collapse

    classes = [10, 100, 1000]
    curves = {
        b: {
            "classes": classes,
            "closed_form": [no_valid_triplet_probability(b, c) for c in classes],
            "monte_carlo": [no_valid_triplet_monte_carlo(b, c, trials=500) for c in classes],
        }
        for b in (8, 32)
    }
    fig = figures.no_valid_triplet_panel(curves, "random batches")
    assert len(fig.axes[0].lines) == 4 and fig.axes[0].get_xscale() == "log"
    plots.plt.close(fig)
    table = pd.DataFrame(
        {
            "pk": ["8×2", "8×2", "32×8", "32×8"] * 2,
            "lr": [1e-3, 1e-2] * 4,
            "variant": ["hard plain"] * 4 + ["hard squared"] * 4,
            "outcome": ["trained", "trained", "failed", "collapsed", "trained", "diverged", "collapsed", "collapsed"],
        }
    )
    fig = figures.run_class_heatmaps(table, "collapse map")
    assert [ax.get_title() for ax in fig.axes[:2]] == ["hard plain", "hard squared"]
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["1c", "1f", "1t", "1t"]  # every class shown, not a 0.00
    assert sorted(t.get_text() for t in fig.axes[1].texts) == ["1c", "1c", "1d", "1t"]
    plots.plt.close(fig)
    fig = figures.gradient_norm_panel(gradient_norms_near_collapse([1.0, 0.1, 0.0]), "near collapse")
    assert (
        len(fig.axes[0].lines) == 2 and len(fig.axes[0].lines[0].get_xdata()) == 2
    )  # scale 0 cannot sit on a log axis
    plots.plt.close(fig)


def test_collapse_traces_mark_the_catch_and_the_growth():
    traces = {
        "collapsed": {
            "loss": [0.9, 0.6, 0.5, 0.5],
            "steps": [0, 2, 4],
            "spread": [1.0, 0.2, 0.0],
            "collapsed_at": 4,
            "growth": None,
        },
        "grown": {
            "loss": [0.9, 0.4, 0.3, 0.2],
            "steps": [0, 2, 4],
            "spread": [1.0, 1.1, 1.2],
            "collapsed_at": None,
            "growth": [(0, (4, 2)), (3, (8, 4))],
        },
    }
    fig = figures.collapse_traces(traces, "t", {"margin m": 0.5, "ln 2": 0.693})
    left, right = fig.axes
    assert len(left.lines) == 2 + 1 + 2  # two runs, the growth line, the two collapse values
    marks = [ln for ln in right.lines if ln.get_marker() == "x"]
    assert len(marks) == 1 and marks[0].get_ydata()[0] == 1e-8  # spread 0 drawn at the log axis' floor
    plots.plt.close(fig)


def test_the_02_difference_panels_fill_only_intervals_that_exclude_zero():
    import pandas as pd

    from dml_utils.studies.hdml_triplet_vs_npair import figures as f02

    table = pd.DataFrame(
        [
            {"comparison": "a − b", "metric": "R@1", "mean": 0.02, "lo": 0.01, "hi": 0.03},
            {"comparison": "c − d", "metric": "R@1", "mean": 0.01, "lo": -0.01, "hi": 0.03},
            {"comparison": "a − b", "metric": "F1", "mean": -0.02, "lo": -0.03, "hi": -0.01},
            {"comparison": "c − d", "metric": "F1", "mean": 0.0, "lo": float("nan"), "hi": float("nan")},
        ]
    )
    fig = f02.difference_intervals(table, "which differences are real?")
    assert [ax.get_title() for ax in fig.axes] == ["R@1", "F1"]
    faces = [[line.get_markerfacecolor() for line in ax.lines if line.get_marker() == "o"] for ax in fig.axes]
    assert [[fc == "white" for fc in panel] for panel in faces] == [[False, True], [False, True]]
    plots.plt.close(fig)


def test_the_05_traces_keep_every_run_visible_where_they_coincide():
    trace = {"loss": [1.0, 0.5], "steps": [0, 1], "spread": [1.0, 0.0], "collapsed_at": None}
    fig = figures.collapse_traces({"plain": trace, "soft": dict(trace)}, "t", {"margin": 0.5})
    right = [line for line in fig.axes[1].lines if line.get_label() in ("plain", "soft (spread on top of plain)")]
    assert len(right) == 2 and right[0].get_linestyle() != right[1].get_linestyle()
    plots.plt.close(fig)


def test_a_full_disk_while_saving_a_figure_names_the_figure_and_the_folder_and_leaves_no_half_file(
    tmp_path, monkeypatch
):
    import errno
    from pathlib import Path
    from types import SimpleNamespace

    import pytest

    cfg = SimpleNamespace(figures_dir=tmp_path / "figs", notebook="05_batch_hard_collapse")
    fig = plots.plt.figure()

    def full(self, fname, **kwargs):
        Path(fname).write_bytes(b"\x89PNG half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(type(fig), "savefig", full)
    with pytest.raises(OSError, match=r"05_batch_hard_collapse_map.png could not be written to .*figs \(No space"):
        plots.savefig(fig, cfg, "map")
    assert list((tmp_path / "figs").iterdir()) == []
