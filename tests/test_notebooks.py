"""Every numbered notebook is runnable by papermill and has a regression baseline (GPflow style:
count them, so a renamed notebook cannot silently drop out of the suite)."""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
EXPECTED = 6  # raise when a notebook is added


def test_notebook_count():
    assert len(NOTEBOOKS) == EXPECTED, [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_well_formed(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"  # papermill needs a kernelspec
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    params = [c for c in code if "parameters" in c["metadata"].get("tags", [])]
    assert len(params) == 1 and "profile" in "".join(params[0]["source"])
    assert not any(o.get("output_type") == "error" for c in code for o in c.get("outputs", []))
    assert any("NBVAL_CHECK_OUTPUT" in "".join(c["source"]) for c in code)
    baseline = ROOT / "tests" / "regression" / path.name
    assert baseline.exists(), "no nbval baseline; run `make baselines`"
    injected = [
        c for c in json.loads(baseline.read_text())["cells"] if "injected-parameters" in c["metadata"].get("tags", [])
    ]
    assert injected and 'profile = "smoke"' in "".join(injected[0]["source"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_baseline_replays_the_notebooks_own_cells(path):
    """nbval replays tests/regression/<name>.ipynb: its code cells must be the notebook's (run `make baselines` after an edit)."""

    def sources(p):
        cells = json.loads(p.read_text())["cells"]
        return [
            "".join(c["source"])
            for c in cells
            if c["cell_type"] == "code" and "injected-parameters" not in c["metadata"].get("tags", [])
        ]

    assert sources(ROOT / "tests" / "regression" / path.name) == sources(path), "stale baseline: run `make baselines`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_parameter_reaches_the_config(path):
    """The parameters cell holds literal assignments only, each of a name the notebook's config
    knows; the setup passes them all (notebook_config(…, globals())); no later cell rebinds one,
    so re-running the setup in JupyterLab reads what the parameters cell says."""
    import ast

    from dml_utils.config import parameter_cell_names
    from dml_utils.studies import known_parameters, study

    nb = json.loads(path.read_text())
    code = [
        c
        for c in nb["cells"]
        if c["cell_type"] == "code" and "injected-parameters" not in c["metadata"].get("tags", [])
    ]
    names = parameter_cell_names("".join(code[0]["source"]))
    assert "parameters" in code[0]["metadata"]["tags"] and names and names[0] == "profile"
    assert set(names) - {"profile"} == known_parameters(path.stem), (
        "the parameters cell lists every parameter the profiles set (papermill warns of any other as unknown): "
        f"missing {sorted(known_parameters(path.stem) - set(names))}"
    )
    assert all(isinstance(n, ast.AnnAssign) for n in ast.parse("".join(code[0]["source"])).body), (
        "annotate every parameter"
    )
    setup = "".join(code[1]["source"])
    assert f"from dml_utils.studies.{study(path.stem).name} import" in setup  # its own study's folder
    assert "cfg_lib.notebook_config(parameters, globals())" in setup
    for c in code[1:]:
        for node in ast.walk(ast.parse("".join(c["source"]))):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                assert node.id not in names, f"a later cell rebinds the parameter {node.id!r}"


def test_every_module_has_its_test_file():
    """tests/ mirrors dml_utils/: a module without tests/test_<module>.py is a module nobody checks;
    a study folder's tests are tests/test_<study>.py (its parameters: test_parameters.py)."""
    package = ROOT / "dml_utils"
    modules = {p.stem for p in package.glob("*.py")} - {
        "__init__",
        "errors",
    }  # errors: two exception classes, raised in test_data
    missing = sorted(m for m in modules if not (ROOT / "tests" / f"test_{m}.py").exists())
    studies = {p.name for p in (package / "studies").iterdir() if (p / "__init__.py").exists()}
    missing += sorted(s for s in studies | {"studies"} if not (ROOT / "tests" / f"test_{s}.py").exists())
    assert not missing, f"no test file for {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_committed_notebook_has_one_source_per_parameter(path):
    """What a reader types in the parameters cell is what runs: no papermill injected cell after
    it (scripts/run_notebooks.py publishes without injecting), and no progress-bar residue
    (text bars in stderr boxes, or widget views with no widget state) among the outputs."""
    from dml_utils.progress import is_progress_output

    nb = json.loads(path.read_text())
    assert not [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])], (
        "a stale injected-parameters cell: publish with scripts/run_notebooks.py (make reproduce)"
    )
    residue = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"] if is_progress_output(o)]
    assert not residue, f"{len(residue)} progress-bar outputs committed"
    assert not [
        o
        for c in nb["cells"]
        if c["cell_type"] == "code"
        for o in c["outputs"]
        if o.get("name") == "stderr" and not "".join(o.get("text", "")).strip()
    ], "empty stderr boxes"


# Text that would send a reader of a clone to a file it does not have.
OUTSIDE = [f"shared/{n}" for n in ("reports", "TARGETS", "DESIGN", "STYLE")] + ["../" + "shared"]


def test_nothing_refers_to_a_path_outside_the_repository():
    import subprocess

    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    hits = []
    for name in files:
        p = ROOT / name
        if p.suffix in {".png", ".gz", ".mat", ".jpg"} or not p.is_file():
            continue
        text = p.read_text(errors="ignore")
        hits += [f"{name}: {s}" for s in [*OUTSIDE, str(ROOT) + "/", str(Path.home()) + "/"] if s in text]
    assert not hits, hits


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_papermill_reads_every_parameter_with_its_whole_help(path, caplog):
    """`papermill --help-notebook` and `-p NAME` know a parameter only when papermill's own parser
    reads its line (it fails on a "=" inside the comment, and shows only a comment's first line)."""
    import ast

    import papermill

    nb = json.loads(path.read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    body = ast.parse("".join(cell["source"])).body
    names = {t.target.id for t in body if isinstance(t, ast.AnnAssign)} | {
        t.targets[0].id for t in body if isinstance(t, ast.Assign)
    }
    with caplog.at_level("WARNING", logger="papermill"):
        read = papermill.inspect_notebook(str(path))
    assert set(read) == names, f"papermill cannot read {sorted(names - set(read))} of {path.name}: {caplog.text}"
    continued = [
        line for line in "".join(cell["source"]).splitlines() if line.lstrip().startswith("#") and line.startswith(" ")
    ]
    assert not continued, f"{path.name}: a parameter's help continues on a comment line papermill drops: {continued}"
