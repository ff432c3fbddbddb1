"""The study folders and their registry: each study in one place, and the import graph runs one way
(a notebook imports its study, a study the general modules, never the other way round)."""

import ast
from pathlib import Path

import pytest

from dml_utils import studies
from dml_utils.config import ConfigError
from dml_utils.runs import module_imports

PACKAGE = Path(__file__).resolve().parents[1] / "dml_utils"
STUDY_DIRS = sorted(p for p in (PACKAGE / "studies").iterdir() if (p / "__init__.py").exists())


def _imports(path: Path) -> set[str]:
    """The dml_utils modules a file imports (relative imports resolved), at any depth of the file."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    module = ".".join(parts[:-1] if path.name == "__init__.py" else parts)
    return module_imports(module, path)


def test_every_notebook_has_one_study_folder_with_its_five_parts():
    notebooks = sorted(p.stem for p in (PACKAGE.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert sorted(studies.STUDIES) == notebooks
    assert sorted(s.name for s in studies.STUDIES.values()) == [p.name for p in STUDY_DIRS]
    for folder in STUDY_DIRS:
        parts = {p.stem for p in folder.glob("*.py")}
        five = {"__init__", "parameters", "plan", "study", "figures", "schema"}
        assert five <= parts and all(p.startswith("plan_") for p in parts - five), parts  # more plans: plan_<name>


def test_no_general_module_imports_a_study():
    for path in PACKAGE.glob("*.py"):
        up = sorted(m for m in _imports(path) if m.startswith("dml_utils.studies"))
        assert not up, f"{path.name} imports {up}: a general module must not depend on a study"


def test_no_study_imports_another_study():
    for folder in STUDY_DIRS:
        for path in folder.glob("*.py"):
            others = sorted(
                m
                for m in _imports(path)
                if m.startswith("dml_utils.studies.") and not m.startswith(f"dml_utils.studies.{folder.name}")
            )
            assert not others, f"{folder.name}/{path.name} imports {others}"


def test_parameters_and_schema_import_no_study_steps():
    """The registry loads every study's parameters and schema; they must not pull in the steps."""
    for folder in STUDY_DIRS:
        for part in ("parameters", "schema"):
            steps = sorted(m for m in _imports(folder / f"{part}.py") if m.endswith((".study", ".figures")))
            assert not steps, f"{folder.name}/{part}.py imports {steps}"


def test_a_plan_holds_the_run_code_and_none_of_the_analysis():
    """The run cache keys a run on the source of its task's module and what that imports: the
    task lives in ``plan``, which imports no ``study`` or ``figures``, so editing a claim, a table
    or a figure leaves every cache key as it was."""
    import importlib
    import inspect

    from dml_utils.runs import code_modules

    for folder in STUDY_DIRS:
        steps = sorted(m for m in _imports(folder / "plan.py") if m.endswith((".study", ".figures")))
        assert not steps, f"{folder.name}/plan.py imports {steps}"
        plan = importlib.import_module(f"dml_utils.studies.{folder.name}.plan")
        tasks = [
            f
            for f in vars(plan).values()
            if inspect.isfunction(f)
            and f.__module__ == plan.__name__
            and list(inspect.signature(f).parameters)[:3] == ["cfg", "data", "spec"]
        ]
        assert tasks, f"{folder.name}/plan.py has no task (a function of cfg, data, spec)"
        for task in tasks:
            keyed = code_modules(task.__module__)
            assert not [m for m in keyed if m.endswith((".study", ".figures", ".schema"))], keyed


def test_the_registry_resolves_by_name_and_names_the_known_ones():
    cfg = studies.config("04_sampling_matters", "smoke")
    assert cfg.notebook == "04_sampling_matters" and cfg.params.iterations == cfg.iterations
    assert studies.known_parameters("04_sampling_matters") == set(cfg.values)
    with pytest.raises(ConfigError, match=r"unknown notebook '04_sampling_matter'.*Did you mean '04_sampling_matters'"):
        studies.config("04_sampling_matter")
    with pytest.raises(ValueError, match="no regression summary for notebook 'nope'"):
        studies.summarize({"notebook": "nope"})


def test_a_record_holds_what_its_summary_reads():
    """The schema is one place: the keys ``summary`` reads are keys ``record`` writes."""
    import inspect

    for s in studies.STUDIES.values():
        written = set()
        for node in ast.walk(ast.parse(inspect.getsource(s.schema.record))):
            if isinstance(node, ast.Dict):
                written |= {k.value for k in node.keys if isinstance(k, ast.Constant)}
        read = set()
        for node in ast.walk(ast.parse(inspect.getsource(s.schema.summary))):
            if (
                isinstance(node, ast.Subscript)
                and isinstance(node.value, ast.Name)
                and node.value.id == "doc"
                and isinstance(node.slice, ast.Constant)
            ):
                read.add(node.slice.value)
        assert read and read - {"data"} <= written, (s.name, sorted(read - written))


def test_an_installed_package_holds_every_study():
    """pyproject finds packages (not a fixed list), so a non-editable install carries dml_utils.studies.*."""
    import tomllib

    import setuptools

    find = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    found = set(setuptools.find_packages(where=PACKAGE.parent, include=find["include"]))
    on_disk = {".".join(p.parent.relative_to(PACKAGE.parent).parts) for p in PACKAGE.rglob("__init__.py")}
    assert on_disk <= found and "dml_utils.studies.batch_hard_collapse" in found
