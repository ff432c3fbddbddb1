"""scripts/run_notebooks.py: refuses what would run the wrong thing before any notebook runs, and
is the only path by which figures/, results/ and the committed notebooks change.

The publishing tests run tiny notebooks in a scratch repository root (a kernel each, ~2 s): one
writes a figure and a results file where ``dml_utils.config.output_base`` says, the other does the
same and then fails."""

import importlib.util
import os
import tempfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "scripts" / "run_notebooks.py")
rn = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rn)
NB03 = ROOT / "notebooks" / "03_yukawa_vs_contrastive_mnist.ipynb"


@pytest.fixture(autouse=True)
def committed_seeds(monkeypatch):
    """These tests are about publishing, which only a run at the committed seeds does."""
    monkeypatch.delenv(rn.SEED_OFFSET_ENV, raising=False)


@pytest.mark.parametrize(
    "argv,phrase",
    [
        (
            ["--profile", "smoke", "--baseline", "-p", "imbalance_ratio", "10", str(NB03)],
            "does not know ['imbalance_ratio']; known: ['allow_download'",
        ),
        (["--profile", "default", "-p", "profile", "smoke", str(NB03)], "not -p profile"),
        (["--jobs", "0", str(NB03)], "--jobs 0: give a whole number of workers"),
        (["--executor", "pool:two", str(NB03)], "DML_EXECUTOR='pool:two' names no executor"),
        (["--jobs", "2", "--executor", "serial", str(NB03)], "not allowed with argument"),
    ],
)
def test_refused_before_running(argv, phrase, capsys):
    before = NB03.stat().st_mtime_ns
    with pytest.raises(SystemExit) as e:
        rn.main(argv)
    assert e.value.code == 2 and phrase in capsys.readouterr().err
    assert NB03.stat().st_mtime_ns == before


FAKE = """import os, pathlib
from dml_utils.config import output_base
from dml_utils.progress import bar
for _ in bar(range(3), desc="passes", leave=False):
    pass
out = output_base(pathlib.Path.cwd().parent, profile)
for sub in ("figures", "results"):
    (out / sub).mkdir(parents=True, exist_ok=True)
(out / "figures" / "99_fake_curve.png").write_bytes(payload.encode())
(out / "results" / "99_fake.json").write_text("{}")
print("outputs in", out)
if fail:
    raise RuntimeError("failed halfway, after writing its figure")
"""


def _fake_repo(tmp_path: Path, profile="default", fail=False, payload="A", name="99_fake") -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(f'profile = "{profile}"\nfail = {fail}\npayload = "{payload}"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(FAKE)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (tmp_path / "notebooks").mkdir(exist_ok=True)
    path = tmp_path / "notebooks" / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def _state(root: Path) -> dict:
    """Bytes and modification time of every committed file (outside build/)."""
    return {
        p.relative_to(root): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file() and "build" not in p.relative_to(root).parts
    }


def test_a_default_run_publishes_after_it_succeeds(tmp_path):
    nb = _fake_repo(tmp_path)
    assert rn.main([str(nb)], root=tmp_path) == 0
    assert (tmp_path / "figures" / "99_fake_curve.png").read_bytes() == b"A"
    assert (tmp_path / "results" / "99_fake.json").exists()
    committed = nbformat.read(nb, as_version=4)
    assert [c.metadata.get("tags", []) for c in committed.cells] == [["parameters"], []]  # no injected cell
    outputs = committed.cells[1].outputs
    assert [o.get("name") for o in outputs] == ["stdout"]  # the bar's stderr residue is gone
    assert "build/stage/99_fake" in outputs[0]["text"]
    before = _state(tmp_path)
    assert rn.main([str(nb)], root=tmp_path) == 0  # same bytes: the figure and results keep their mtime
    after = _state(tmp_path)
    for f in ("figures/99_fake_curve.png", "results/99_fake.json"):
        assert after[Path(f)] == before[Path(f)]


def test_a_rerun_with_nothing_new_publishes_nothing(tmp_path, capsys):
    nb = _fake_repo(tmp_path)
    assert rn.main([str(nb)], root=tmp_path) == 0
    assert nbformat.read(nb, as_version=4).metadata[rn.SOURCES_KEY]  # published: the digest of its cells
    before = _state(tmp_path)
    assert rn.main([str(nb)], root=tmp_path) == 0
    assert _state(tmp_path) == before  # the notebook too: not even its timings are refreshed
    assert "nothing new, nothing published: results equal the committed ones" in capsys.readouterr().out
    # an edit of the prose alone: kept as it is, nothing rerun is published
    edited = nbformat.read(nb, as_version=4)
    edited.cells.append(nbformat.v4.new_markdown_cell("A verdict in prose."))
    nbformat.write(edited, nb)
    prose = nb.read_bytes()
    assert rn.main([str(nb)], root=tmp_path) == 0
    assert nb.read_bytes() == prose and "nothing new" in capsys.readouterr().out
    # an edit of a code cell publishes the notebook again, with that cell's output, though no number changed
    edited.cells.append(nbformat.v4.new_code_cell('print("one more output")'))
    nbformat.write(edited, nb)
    assert rn.main([str(nb)], root=tmp_path) == 0
    cell = nbformat.read(nb, as_version=4).cells[-1]
    assert cell.outputs[0]["text"] == "one more output\n"
    assert "nothing new" not in capsys.readouterr().out
    # another figure: published
    _fake_repo(tmp_path, payload="B")
    assert rn.main([str(nb)], root=tmp_path) == 0
    assert (tmp_path / "figures" / "99_fake_curve.png").read_bytes() == b"B"


def test_nothing_new_compares_numbers_not_timings(tmp_path):
    stage, root = tmp_path / "stage", tmp_path / "root"
    for base in (stage, root):
        (base / "results").mkdir(parents=True)
        (base / "figures").mkdir()
        (base / "figures" / "99_fake_a.png").write_bytes(b"A")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nb.metadata[rn.SOURCES_KEY] = rn.sources_digest(nb)
    (root / "results" / "99_fake.json").write_text('{"written_at": "then", "acc": 0.5, "ms_per_step": 9.0}')
    (stage / "results" / "99_fake.json").write_text('{"written_at": "now", "acc": 0.5, "ms_per_step": 14.0}')
    assert rn.nothing_new(stage, root, "99_fake", nb)
    (stage / "results" / "99_fake.json").write_text('{"written_at": "now", "acc": 0.51, "ms_per_step": 9.0}')
    assert rn.nothing_new(stage, root, "99_fake", nb) is None
    (stage / "results" / "99_fake.json").write_text('{"written_at": "now", "acc": 0.5, "ms_per_step": 9.0}')
    (stage / "figures" / "99_fake_b.png").write_bytes(b"B")  # a figure more
    assert rn.nothing_new(stage, root, "99_fake", nb) is None
    (stage / "figures" / "99_fake_b.png").unlink()
    assert rn.nothing_new(stage, root, "99_fake", nb)
    del nb.metadata[rn.SOURCES_KEY]  # published before the digest existed
    assert rn.nothing_new(stage, root, "99_fake", nb) is None


def test_a_failed_run_changes_no_committed_file(tmp_path):
    nb = _fake_repo(tmp_path)
    assert rn.main([str(nb)], root=tmp_path) == 0
    _fake_repo(tmp_path, fail=True, payload="Z")  # the notebook now writes other bytes, then fails
    before = _state(tmp_path)
    assert rn.main([str(nb)], root=tmp_path) == 1
    assert _state(tmp_path) == before
    assert (tmp_path / "build" / "failed" / "99_fake.ipynb").exists()


@pytest.mark.parametrize(
    "argv,where",
    [
        (["-p", "payload", "B"], "build/default"),
        (["--profile", "smoke"], "build/smoke"),
    ],
)
def test_a_run_with_any_override_publishes_nothing(tmp_path, argv, where):
    nb = _fake_repo(tmp_path)
    assert rn.main([str(nb)], root=tmp_path) == 0
    before = _state(tmp_path)
    assert rn.main([*argv, str(nb)], root=tmp_path) == 0
    assert _state(tmp_path) == before
    assert (tmp_path / where / "notebooks" / "99_fake.ipynb").exists()
    assert (tmp_path / where / "figures" / "99_fake_curve.png").exists()


def test_a_seed_shifted_run_publishes_nothing(tmp_path, monkeypatch, capsys):
    nb = _fake_repo(tmp_path)
    assert rn.main([str(nb)], root=tmp_path) == 0
    before = _state(tmp_path)
    monkeypatch.setenv(rn.SEED_OFFSET_ENV, "3")
    assert rn.main([str(nb)], root=tmp_path) == 0
    assert _state(tmp_path) == before and (tmp_path / "build" / "default" / "figures" / "99_fake_curve.png").exists()
    assert "DML_SEED_OFFSET=3 moves every run seed" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        rn.main(["--profile", "smoke", "--baseline", str(nb)], root=tmp_path)
    assert e.value.code == 2 and "baselines are made at the committed seeds" in capsys.readouterr().err


def test_a_figure_the_run_no_longer_makes_is_removed(tmp_path):
    nb = _fake_repo(tmp_path)
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "99_fake_old.png").write_bytes(b"old")
    (tmp_path / "figures" / "98_other_keep.png").write_bytes(b"other notebook")
    assert rn.main([str(nb)], root=tmp_path) == 0
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["98_other_keep.png", "99_fake_curve.png"]


def test_publishing_needs_the_default_profile_in_the_parameters_cell(tmp_path, capsys):
    nb = _fake_repo(tmp_path, profile="smoke")
    assert rn.main([str(nb)], root=tmp_path) == 2
    assert 'does not set profile = "default"' in capsys.readouterr().err
    assert not (tmp_path / "figures").exists()


def test_the_staging_folder_is_not_left_set(tmp_path):
    nb = _fake_repo(tmp_path)
    rn.main([str(nb)], root=tmp_path)
    assert rn.OUTPUT_ENV not in os.environ


def test_only_the_repositorys_numbered_notebooks_run(tmp_path, capsys):
    """A notebook from elsewhere was once 'published' and rewritten in place; README.md as a
    notebook gave a raw NotJSONError."""
    nb = _fake_repo(tmp_path)
    outside = tmp_path / "elsewhere" / "99_fake.ipynb"
    outside.parent.mkdir()
    outside.write_bytes(nb.read_bytes())
    (tmp_path / "README.md").write_text("# not a notebook\n")
    (tmp_path / "notebooks" / "98_broken.ipynb").write_text("{ not json")
    before = _state(tmp_path)
    for path, phrase in (
        (outside, "is not a numbered notebook of this repository (notebooks/NN_*.ipynb"),
        (tmp_path / "README.md", "is not a numbered notebook of this repository"),
        (tmp_path / "notebooks" / "98_broken.ipynb", "is not a readable notebook (NotJSONError): restore it with"),
    ):
        assert rn.main([str(path)], root=tmp_path) == 2
        assert phrase in capsys.readouterr().err
    assert _state(tmp_path) == before


def test_a_second_run_of_one_notebook_at_once_is_refused_and_a_stale_lock_taken_over(tmp_path, capsys):
    nb = _fake_repo(tmp_path)
    lock = tmp_path / "build" / "stage" / "99_fake.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(str(os.getpid()))  # a live process holds it
    assert rn.main([str(nb)], root=tmp_path) == 1
    assert "another run of 99_fake is in progress (process" in capsys.readouterr().err
    assert not (tmp_path / "figures").exists()
    lock.write_text("999999999")  # no such process: the run that held it is gone
    assert rn.main([str(nb)], root=tmp_path) == 0 and not lock.exists()
    assert (tmp_path / "figures" / "99_fake_curve.png").exists()


def test_an_interrupted_run_keeps_its_partial_notebook_and_changes_nothing(tmp_path, monkeypatch, capsys):
    nb = _fake_repo(tmp_path)
    before = _state(tmp_path)

    def interrupted(src, out, **kwargs):
        Path(out).write_text("partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(rn.pm, "execute_notebook", interrupted)
    assert rn.main([str(nb)], root=tmp_path) == 130
    err = capsys.readouterr().err
    assert "interrupted during 99_fake.ipynb: no committed file changed; the partial run is in build/failed/" in err
    assert "Traceback" not in err and _state(tmp_path) == before
    assert (tmp_path / "build" / "failed" / "99_fake.ipynb").read_text() == "partial"
    assert not (tmp_path / "build" / "stage" / "99_fake.lock").exists()


def test_a_full_profile_run_keeps_its_results_json_and_nothing_else(tmp_path, monkeypatch):
    nb = _fake_repo(tmp_path, profile="full")
    assert rn.main(["--profile", "full", str(nb)], root=tmp_path) == 0
    kept = tmp_path / "results" / "full" / "99_fake.json"
    assert kept.read_text() == "{}"
    assert not (tmp_path / "figures").exists() and not (tmp_path / "results" / "99_fake.json").exists()
    before = _state(tmp_path)
    assert rn.main(["--profile", "full", "-p", "payload", "B", str(nb)], root=tmp_path) == 0  # a parameter: not kept
    monkeypatch.setenv(rn.SEED_OFFSET_ENV, "3")
    assert rn.main(["--profile", "full", str(nb)], root=tmp_path) == 0  # a seed shift: not kept
    assert _state(tmp_path) == before
    monkeypatch.delenv(rn.SEED_OFFSET_ENV)
    _fake_repo(tmp_path, profile="full", fail=True, payload="Z")
    before = _state(tmp_path)
    assert rn.main(["--profile", "full", str(nb)], root=tmp_path) == 1  # a failed run keeps nothing either
    assert _state(tmp_path) == before and kept.read_text() == "{}"


def test_a_second_check_keeps_its_results_json_under_its_name_and_nothing_else(tmp_path, monkeypatch, capsys):
    nb = _fake_repo(tmp_path)
    monkeypatch.setattr(rn, "check_values", lambda notebook, check: {"payload": "C"})
    assert rn.main(["--check", "small", str(nb)], root=tmp_path) == 0
    kept = tmp_path / "results" / "checks" / "99_fake.small.json"
    assert kept.read_text() == "{}"
    assert (tmp_path / "build" / "check-small" / "figures" / "99_fake_curve.png").read_bytes() == b"C"
    assert not (tmp_path / "figures").exists() and not (tmp_path / "results" / "99_fake.json").exists()
    assert "--check runs the default profile" not in capsys.readouterr().err
    before = _state(tmp_path)
    for argv in (["--check", "small", "-p", "payload", "B"], ["--check", "small", "--profile", "smoke"]):
        with pytest.raises(SystemExit):  # a check runs with its own values only
            rn.main([*argv, str(nb)], root=tmp_path)
        assert "--check runs the default profile with the check's own values" in capsys.readouterr().err
    _fake_repo(tmp_path, fail=True)
    before = _state(tmp_path)
    assert rn.main(["--check", "small", str(nb)], root=tmp_path) == 1  # a failed check keeps nothing
    assert _state(tmp_path) == before and kept.read_text() == "{}"


def test_an_unknown_check_names_the_checks_a_notebook_has():
    with pytest.raises(ValueError, match=r"06_one_protocol has no check 'cifar'; its checks: \['fashion-mnist'\]"):
        rn.check_values("06_one_protocol", "cifar")
    with pytest.raises(ValueError, match="has no check 'fashion-mnist'; its checks: none"):
        rn.check_values("03_yukawa_vs_contrastive_mnist", "fashion-mnist")


def test_the_run_cache_is_resolved_where_the_command_ran_and_refused_when_unusable(tmp_path):
    """DML_RUN_CACHE relative to the command's folder (not the kernels' notebooks/), created if
    missing; a file, or a folder that cannot be created, refused with the variable's name."""
    where, problem = rn.run_cache_location("cache/runs", tmp_path)
    assert problem is None and where == (tmp_path / "cache" / "runs").resolve() and where.is_dir()
    assert rn.run_cache_location("  ", tmp_path) == (None, None)  # empty: no cache
    (tmp_path / "afile").write_text("x")
    _, problem = rn.run_cache_location("afile", tmp_path)
    assert problem.startswith("DML_RUN_CACHE='afile' is ") and "a file, not a folder" in problem
    _, problem = rn.run_cache_location("afile/below", tmp_path)
    assert "DML_RUN_CACHE='afile/below'" in problem and "cannot be created" in problem
    assert "set it empty for no cache" in problem


def test_an_unusable_run_cache_stops_the_run_before_any_notebook(tmp_path, monkeypatch, capsys):
    (tmp_path / "afile").write_text("x")
    monkeypatch.setenv(rn.CACHE_ENV, str(tmp_path / "afile"))
    before = NB03.stat().st_mtime_ns
    assert rn.main(["--profile", "smoke", str(NB03)]) == 2
    assert "DML_RUN_CACHE=" in capsys.readouterr().err
    assert NB03.stat().st_mtime_ns == before


def test_a_python_without_the_environment_is_told_which_to_use():
    """Run by a Python that lacks the packages (here: this one without its site-packages, -S)."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-S", str(ROOT / "scripts" / "run_notebooks.py"), "--help"], capture_output=True, text=True
    )
    assert out.returncode == 1
    assert "is not installed in this Python" in out.stderr and ".venv/bin/python scripts/run_notebooks.py" in out.stderr


def test_a_run_starts_its_kernel_on_ipc_sockets_without_the_tcp_warning_and_leaves_no_socket(
    tmp_path, capfd, monkeypatch
):
    from jupyter_client.manager import AsyncKernelManager

    nb = _fake_repo(tmp_path)
    with monkeypatch.context() as m:  # the control: over TCP, the kernel warns (so the check below can fail)
        m.setattr(rn, "ipc_kernel_manager", lambda folder: AsyncKernelManager)
        assert rn.main([str(nb), "-p", "payload", "'B'"], root=tmp_path) == 0
        assert "without encryption" in capfd.readouterr().err
    before = set(Path(tempfile.gettempdir()).glob("dml-kernel-*"))
    assert rn.main([str(nb)], root=tmp_path) == 0
    err = capfd.readouterr().err
    assert "without encryption" not in err
    assert not list((tmp_path / "notebooks").glob("kernel*")) and not list(tmp_path.glob("kernel*"))
    assert set(Path(tempfile.gettempdir()).glob("dml-kernel-*")) <= before  # its socket folder is gone


@pytest.mark.parametrize(
    "offset, phrase",
    [
        ("two", "DML_SEED_OFFSET='two' is not an integer"),
        (str(10**20), f"DML_SEED_OFFSET={10**20} is outside 0 … 2**62"),
        ("-1", "DML_SEED_OFFSET=-1 is outside 0 … 2**62"),
    ],
)
def test_a_seed_shift_the_generators_cannot_take_is_refused_before_running(monkeypatch, capsys, offset, phrase):
    monkeypatch.setenv(rn.SEED_OFFSET_ENV, offset)
    before = NB03.stat().st_mtime_ns
    with pytest.raises(SystemExit) as e:
        rn.main([str(NB03)])
    assert e.value.code == 2 and phrase in capsys.readouterr().err and NB03.stat().st_mtime_ns == before


def test_a_zero_shift_written_00_is_no_shift_and_publishes(tmp_path, monkeypatch, capsys):
    nb = _fake_repo(tmp_path)
    monkeypatch.setenv(rn.SEED_OFFSET_ENV, "00")
    assert rn.main([str(nb)], root=tmp_path) == 0
    assert (tmp_path / "results" / "99_fake.json").exists() and "moves every run seed" not in capsys.readouterr().out


def test_a_ledger_fill_at_its_budget_stops_cleanly_publishing_nothing(tmp_path, monkeypatch, capsys):
    nb = _fake_repo(tmp_path, profile="full")
    before = _state(tmp_path)

    class Stopped(Exception):  # what papermill raises for the kernel's LedgerStop
        ename, evalue = "LedgerStop", "finals: 12 runs left to other slices or a later fill (first: final seed 3)"

    def at_budget(src, out, **kwargs):
        Path(out).write_text("partial")
        raise Stopped("LedgerStop")

    monkeypatch.setattr(rn.pm, "execute_notebook", at_budget)
    assert rn.main(["--profile", "full", str(nb)], root=tmp_path) == 0
    out = capsys.readouterr().out
    assert "ledger fill stopped cleanly, 99_fake.ipynb: finals: 12 runs left" in out and "nothing published" in out
    assert "run the same command again to continue: 99_fake.ipynb" in out
    assert _state(tmp_path) == before and not (tmp_path / "results" / "full" / "99_fake.json").exists()
