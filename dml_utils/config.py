"""Resolved configuration, output folders and seeding for the notebooks.

Each study's parameters live in its folder (``dml_utils.studies.<study>.parameters``: its
``NOTEBOOK``, its ``Parameters`` dataclass typing every parameter, ``Literal`` for a choice; its
``PROFILES``, override dicts of values; its ``validate``, the rules between values). A notebook's
``parameters`` cell holds plain literals; its setup cell calls
``notebook_config(parameters, globals())`` with its study's parameters module, which passes every
parameter the cell (or papermill) set to ``config(parameters, profile, **overrides)``: one
resolved, validated ``Config``. A ``None`` value means "the profile's value"; a name the notebook
does not know is an error. This module takes the study's module as an argument and imports no
study: callers that know a notebook only by name go through ``dml_utils.studies``.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from .parameters import PROFILE_NAMES as PROFILES
from .parameters import ConfigError
from .seeds import SEED_OFFSET_ENV, seed_everything, seed_offset  # seed_everything: re-exported for the notebooks

__all__ = [
    "Config",
    "ConfigError",
    "PROFILES",
    "config",
    "output_base",
    "notebook_config",
    "known_parameters",
    "resolve_device",
    "seed_everything",
    "make_deterministic",
    "repo_root",
]


@dataclass
class Config:
    notebook: str
    profile: str
    values: dict[str, Any]  # in the profile's order, as the results record them
    root: Path
    parameters: type | None = field(default=None, repr=False)  # the study's Parameters dataclass
    run_log: list[dict[str, Any]] = field(default_factory=list, repr=False)  # per run: where, cached (dml_utils.runs)
    figures_dir: Path = field(init=False)
    results_dir: Path = field(init=False)

    def __post_init__(self) -> None:
        base = output_base(self.root, self.profile)
        self.figures_dir = base / "figures"
        self.results_dir = base / "results"

    def outputs_note(self) -> str:
        """Where this run writes, for the setup cell to print (and the seed shift, when one is set)."""
        shift, note = seed_offset(), self._outputs_note()
        if shift:
            seeds = self.values.get("seeds", [])
            note += (
                f"; {SEED_OFFSET_ENV}={shift}: every run seed draws as seed + {shift} "
                f"(seeds {seeds} run as {[s + shift for s in seeds]}), and nothing is published"
            )
        return note

    def _outputs_note(self) -> str:
        rel = {k: _relative(d, self.root) for k, d in (("figures", self.figures_dir), ("results", self.results_dir))}
        if os.environ.get(OUTPUT_ENV):
            return (
                f"{self.notebook} at the {self.profile} profile, run by scripts/run_notebooks.py: figures and results "
                f"are staged in {_relative(output_base(self.root, self.profile), self.root)}/ and copied into figures/ "
                f"and results/ only when the whole notebook has run"
            )
        return (
            f"{self.notebook} at the {self.profile} profile: figures -> {rel['figures']}/, results -> "
            f"{rel['results']}/ (figures/ and results/ change only through `make reproduce`, after a complete default run)"
        )

    @property
    def params(self):
        """The values as the notebook's typed, frozen ``Parameters`` dataclass
        (``dml_utils.studies.<study>.parameters.Parameters``): ``cfg.params.lr`` has a type and completes."""
        if self.parameters is None:
            raise AttributeError(f"{self.notebook}: this config was made without its study's Parameters")
        return self.parameters(**self.values)

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("values", {})
        if name in values:
            return values[name]
        raise AttributeError(f"config has no parameter {name!r}; known: {sorted(values)}")

    def __dir__(self):  # completion in the Lab offers the parameters too
        return sorted({*super().__dir__(), *self.__dict__.get("values", {})})

    @property
    def prefix(self) -> str:
        return self.notebook.split("_", 1)[0]

    def as_dict(self) -> dict[str, Any]:
        return {"notebook": self.notebook, "profile": self.profile, **self.values}


OUTPUT_ENV = "DML_UTILS_OUTPUT_DIR"


def output_base(root: Path, profile: str) -> Path:
    """The folder a run writes its figures/ and results/ into: ``build/<profile>/`` for every run
    (JupyterLab, plain papermill, nbconvert, any profile), or the staging folder that
    ``scripts/run_notebooks.py`` names in ``DML_UTILS_OUTPUT_DIR``. The run script alone copies a
    complete, successful default run from there into the committed ``figures/`` and ``results/``,
    so a run that fails halfway, or that sets any parameter, never touches a committed file."""
    staged = os.environ.get(OUTPUT_ENV)
    if staged:
        base = Path(staged).resolve()
        if base in {(root / "figures").resolve(), (root / "results").resolve(), Path(root).resolve()}:
            raise ConfigError(
                f"{OUTPUT_ENV}={staged} would write straight into committed files; unset it "
                f"(the run script sets it to a folder under build/)"
            )
        return base
    return root / "build" / profile


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path(root).resolve()))
    except ValueError:
        return str(path)


def repo_root() -> Path:
    """The repository folder: where this package sits when installed editable, else the cwd."""
    here = Path(__file__).resolve().parents[1]
    if (here / "pyproject.toml").exists() and (here / "notebooks").exists():
        return here
    return Path.cwd()


def _suggest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def known_parameters(study: ModuleType) -> set[str]:
    """Every name a study's config accepts (the union over its profiles), ``profile`` aside;
    ``study`` is its parameters module."""
    return {k for p in study.PROFILES.values() for k in p}


_PLAIN = ("Constant", "List", "Tuple", "Dict", "Set", "UnaryOp", "USub", "UAdd", "Load")


def _plain_value(node) -> bool:
    """A literal, or ``float('nan')`` / ``float('inf')`` inside one: what papermill injects for a
    non-finite number (so such a value reaches the config, which refuses it by name)."""
    import ast

    def ok(n) -> bool:
        if isinstance(n, ast.Call):
            return (
                isinstance(n.func, ast.Name)
                and n.func.id == "float"
                and len(n.args) == 1
                and not n.keywords
                and isinstance(n.args[0], ast.Constant)
                and isinstance(n.args[0].value, str)
            )
        return type(n).__name__ in _PLAIN and all(ok(c) for c in ast.iter_child_nodes(n))

    return ok(node)


def _assignments(source: str):
    """The (name, value node) of every top-level assignment of a cell, or None when the cell holds
    anything else (or does not parse)."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    out = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            out.append((node.targets[0].id, node.value))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            out.append((node.target.id, node.value))
        else:
            return None
    return out


def parameter_cell_names(source: str) -> list[str] | None:
    """The names a cell of plain value assignments sets (``name = literal`` or ``name: type =
    literal``, comments allowed; ``float('nan')`` and ``float('inf')`` count as plain, as papermill
    writes them), or None when the cell holds anything else."""
    found = _assignments(source)
    if found is None or not all(_plain_value(value) for _, value in found):
        return None
    return [name for name, _ in found]


def _check_parameter_cell(source: str) -> None:
    """A cell that sets ``profile`` is a parameters cell (the notebook's or papermill's injected
    one): a statement in it that is not a plain value would drop every value of the cell, so it
    stops the run, named."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return
    sets_profile = any(
        isinstance(n, (ast.Assign, ast.AnnAssign))
        and any(
            isinstance(t, ast.Name) and t.id == "profile"
            for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
        )
        for n in tree.body
    )
    if not sets_profile or parameter_cell_names(source) is not None:
        return
    bad = next(
        ast.get_source_segment(source, n) or ast.dump(n)
        for n in tree.body
        if _assignments(ast.unparse(n)) is None or not _plain_value(_assignments(ast.unparse(n))[0][1])
    )
    raise ConfigError(
        f"the parameters cell (the cell that sets profile) holds {bad.strip()!r}, which is not a plain value: "
        "give every parameter a literal (a number, string, list, dict, True/False/None), and compute nothing there"
    )


def notebook_config(study: ModuleType, namespace: dict[str, Any], root: Path | None = None) -> Config:
    """The config of a running notebook from its namespace (pass ``globals()``); ``study`` is the
    parameters module of the notebook's study (``dml_utils.studies.<study>.parameters``).

    The parameters are the names set by the cells that ran so far and hold only literal
    assignments including ``profile``: the ``parameters`` cell, and papermill's injected cell (in
    IPython's input history ``In``). Every such name reaches ``config``, so a value typed in the
    parameters cell or given with ``papermill -p`` always takes effect, and a name the notebook
    does not know fails here, before any work, with the list of known ones.
    """
    notebook = study.NOTEBOOK
    _check_kernel()
    _check_not_written_over(notebook, Path(root) if root else repo_root())
    cells = [c for c in namespace.get("In", []) if isinstance(c, str)]
    names: list[str] = []
    for src in cells:
        _check_parameter_cell(src)
        found = parameter_cell_names(src)
        if found and "profile" in found:
            names += [n for n in found if n not in names]
    if not names:  # outside IPython, or no parameters cell ran: take the known names the namespace holds
        names = [n for n in ["profile", *sorted(known_parameters(study))] if n in namespace]
    if "profile" not in namespace:
        raise ConfigError(f"{notebook}: run the parameters cell first (it sets profile)")
    overrides = {n: namespace[n] for n in names if n != "profile"}
    return config(study, namespace["profile"], root=root, **overrides)


def _check_not_written_over(notebook: str, root: Path) -> None:
    """papermill writes its output notebook as it runs, from the first cell on: a run whose output
    is the committed notebook itself (``papermill notebooks/X.ipynb notebooks/X.ipynb``) has already
    put an unfinished copy there, papermill's run metadata without an end time. Stop it before any
    work, and say how to restore the committed one."""
    import json

    path = root / "notebooks" / f"{notebook}.ipynb"
    try:
        meta = json.loads(path.read_text()).get("metadata", {}).get("papermill", {})
    except (OSError, ValueError):
        return
    if meta.get("start_time") and meta.get("end_time") is None:
        raise ConfigError(
            f"notebooks/{notebook}.ipynb is being written by this papermill run (its output is the committed "
            f"notebook): give papermill another output path, e.g. build/{notebook}.ipynb; restore the committed "
            f"notebook with `git checkout -- notebooks/{notebook}.ipynb`"
        )


def _check_kernel(cwd: Path | None = None) -> None:
    """A notebook opened in notebooks/ of a clone must run this clone's dml_utils: a kernel of
    another environment that has some other copy installed would run other code silently."""
    here = Path(__file__).resolve().parent
    cwd = Path.cwd() if cwd is None else cwd
    for folder in (cwd, *cwd.parents[:2]):
        clone = folder / "dml_utils"
        if (clone / "config.py").is_file() and (folder / "pyproject.toml").is_file():
            if clone.resolve() != here:
                raise ConfigError(
                    f"this kernel imports dml_utils from {here}, not from the repository you opened "
                    f"({clone}): choose the kernel of that repository's .venv (start the Lab with "
                    f"`make lab` there), or install it into this kernel with `pip install -e {folder}`"
                )
            return


def config(study: ModuleType, profile: str = "default", root: Path | None = None, **overrides: Any) -> Config:
    """Resolve ``profile`` for a study (its parameters module, ``dml_utils.studies.<study>.parameters``)
    and apply the non-None ``overrides``. By notebook name: ``dml_utils.studies.config``."""
    notebook = study.NOTEBOOK
    if profile not in PROFILES:
        raise ConfigError(
            f"unknown profile {profile!r}; use one of {list(PROFILES)}"
            f" (smoke: a quick check, default: the committed results, paper: the report's scale).{_suggest(str(profile), list(PROFILES))}"
        )
    if profile not in study.PROFILES:
        raise ConfigError(
            f"notebook {notebook} has no {profile!r} profile yet; use one of "
            f"{[p for p in PROFILES if p in study.PROFILES]}"
        )
    values = {**study.PROFILES["common"], **study.PROFILES[profile]}
    known = known_parameters(study)
    for key, value in overrides.items():
        if key not in known:
            raise ConfigError(
                f"unknown parameter {key!r} for {notebook}; known: {sorted(known)}.{_suggest(key, sorted(known))}"
            )
        if value is not None:
            values[key] = value
    study.validate(values)
    if "device" in values:
        resolve_device(values["device"])
    study.Parameters(**values)  # every name a field of the study's dataclass
    return Config(
        notebook=notebook,
        profile=profile,
        values=values,
        root=Path(root) if root else repo_root(),
        parameters=study.Parameters,
    )


def resolve_device(name: str) -> torch.device:
    """The torch device for a name: "auto" (CUDA when available, else the CPU), "cpu", or "cuda[:N]"
    where CUDA is. The committed results are CPU runs; a GPU gives other (not bit-identical) numbers."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if isinstance(name, str) and name.split(":")[0] == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name!r}: this machine has no CUDA GPU; use device='cpu' or 'auto'")
        return torch.device(name)
    raise ConfigError(f"unknown device {name!r}; use 'auto', 'cpu' or 'cuda'")


def make_deterministic(threads: int) -> None:
    """Deterministic kernels and a pinned thread count: results differ between 1 and 2 threads."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(threads)
