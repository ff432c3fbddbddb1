"""Results files: the JSON a notebook's last cell writes, with its provenance (commit, machine,
libraries, the code digests of its plans), reading one back with its role named, and the kept
results of other designs (full profile, second checks, the runs before a fix) a notebook shows
beside its own. Claims are ``claims``'s and their statistics ``stats``'s; both are re-exported
here, so a notebook's ``results.claims_table`` and a study's ``results.paired_claim`` keep working."""

from __future__ import annotations

import json
import math
import os
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .claims import (  # noqa: F401  (re-exported: notebooks and studies call results.<name>)
    CLAIM_COLUMNS,
    CLAIM_ID,
    EQUIVALENCE_MARGINS,
    FAMILY_COLUMNS,
    FAMILY_LEVEL,
    FAMILY_METHOD,
    HOWS,
    KINDS,
    VERDICTS,
    _margin,
    beats_baselines_claim,
    before_after,
    binary_claim,
    binary_verdict,
    claim_index,
    claim_key,
    claims_outline,
    claims_table,
    equivalence_claim,
    family_adjusted,
    family_summary,
    find_claim,
    format_claims,
    format_interval,
    interval_claim,
    interval_how,
    interval_verdict,
    mean_std,
    of_kind,
    paired_claim,
    same_verdicts_claim,
    slug,
    verdict_text,
    verdicts_beside,
    with_id,
)
from .config import Config
from .machine import library_versions
from .stats import (  # noqa: F401  (re-exported, as above)
    detectable_effect,
    discordant_needed,
    finite_values,
    paired_binary,
    paired_interval,
    paired_tests,
    seeds_needed,
    share_interval,
    summary_interval,
    zero_p,
)


def git_commit(root: Path) -> str:
    """HEAD's hash, with '+dirty' when tracked files differ from it; 'unknown' outside git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else str(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_results(cfg: Config, payload: dict[str, Any], data_sources: list[dict[str, Any]]) -> Path:
    """Write ``results/NN_slug.json`` (or build/<profile>/results/) atomically: a run that fails
    halfway leaves the previous file whole."""
    import torch

    from .machine import cpu_fingerprint
    from .seeds import seed_offset

    doc = {
        "notebook": cfg.notebook,
        "profile": cfg.profile,
        "config": cfg.as_dict(),
        "data": data_sources,
        "libraries": library_versions(),
        "git_commit": git_commit(cfg.root),
        "torch_threads": torch.get_num_threads(),
        "machine": cpu_fingerprint(),  # same seed, same machine: same numbers (see dml_utils/machine.py)
        "seed_offset": seed_offset(),  # DML_SEED_OFFSET: every run seed moved by this (dml_utils/seeds.py)
        "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "run_log": cfg.run_log,  # per training run: its key, where it ran, whether it came from the run cache
        "plan_codes": plan_codes(cfg),  # the code its runs execute: stale_codes says whether it still is this code
        **payload,
    }
    cfg.results_dir.mkdir(parents=True, exist_ok=True)
    path = cfg.results_dir / f"{cfg.notebook}.json"
    text = json.dumps(_jsonable(doc), indent=1, allow_nan=False) + "\n"  # fails before touching any file
    fd, tmp = tempfile.mkstemp(dir=cfg.results_dir, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are for every reader
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


class ResultsFileError(ValueError):
    """A JSON file a script reads that is missing, unreadable, truncated or not a JSON object."""


def read_json(path: Path | str, role: str) -> dict[str, Any]:
    """The JSON object at ``path``, or a ResultsFileError that says which file (``role``: what the
    caller reads it as, e.g. "the rerun's results") failed and how to get a good one. The scripts'
    own reader: ``json.loads`` alone ends a truncated file in a traceback that names neither."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ResultsFileError(f"{role} {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ResultsFileError(f"{role} {path} cannot be read ({type(err).__name__}: {err})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise ResultsFileError(
            f"{role} {path} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}): a truncated or "
            f"hand-edited file? Restore it (git checkout -- {path}) or make it again"
        ) from None
    if not isinstance(doc, dict):
        raise ResultsFileError(f"{role} {path} holds a JSON {type(doc).__name__}, not the object a results file is")
    return doc


def study_plan_codes(package: str) -> dict[str, str]:
    """The code digest (``runs.code_digest``) of every plan module of a study package
    (``dml_utils/studies/<study>/plan*.py``: the modules whose functions its runs execute; by the
    layout's rule no run's task lives elsewhere)."""
    import importlib.util

    from .runs import code_digest

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"{package!r} is not a study package")
    folder = Path(next(iter(spec.submodule_search_locations)))
    return {f"{package}.{f.stem}": code_digest(f"{package}.{f.stem}") for f in sorted(folder.glob("plan*.py"))}


def plan_codes(cfg: Config) -> dict[str, str]:
    """The plan modules' code digests of the study whose Parameters ``cfg`` holds (none without one)."""
    if cfg.parameters is None:
        return {}
    return study_plan_codes(cfg.parameters.__module__.rpartition(".")[0])


def stale_codes(doc: dict[str, Any], root: Path | None = None) -> dict[str, tuple[str | None, str | None]]:
    """Where a results JSON is no longer what this checkout makes: module → (digest recorded there,
    digest now) for every plan module whose code moved, was added or was removed; ``{"plan_codes":
    (None, None)}`` when the file records none (written before they were recorded). A recorded
    digest that carries forward to today's (``lineage.ancestors``, the lineage of the repository at
    ``root``, this checkout by default) is fresh. Empty: fresh."""
    from .lineage import ancestors

    recorded = doc.get("plan_codes")
    if not recorded:
        return {"plan_codes": (None, None)}
    root = Path(root) if root is not None else Path(__file__).resolve().parents[1]
    package = next(iter(recorded)).rpartition(".")[0]
    now = study_plan_codes(package)
    return {
        m: (recorded.get(m), now.get(m))
        for m in sorted(set(recorded) | set(now))
        if recorded.get(m) != now.get(m) and not (now.get(m) and recorded.get(m) in ancestors(m, now[m], root))
    }


def republish_command(rel: Path, doc: dict[str, Any]) -> str:
    """The command that makes the committed results file ``rel`` (results/, results/full/ or
    results/checks/<notebook>.<check>.json) again from this checkout."""
    notebook = f"notebooks/{doc.get('notebook', rel.name.split('.')[0])}.ipynb"
    if rel.parent.name == "checks":
        return f"python scripts/run_notebooks.py --check {rel.name.split('.')[1]} {notebook}"
    return f"python scripts/run_notebooks.py --profile {doc.get('profile', 'default')} {notebook}"


FULL_RESULTS = Path("results") / "full"  # kept by scripts/run_notebooks.py --profile full


CHECK_RESULTS = Path("results") / "checks"  # kept by scripts/run_notebooks.py --check NAME


def full_profile_results(cfg: Config, plan_module: str, cost: str = "") -> tuple[dict[str, Any] | None, str]:
    """The results JSON the notebook's ``full`` profile last kept (results/full/<notebook>.json),
    when it was a complete run of this notebook at the committed seeds, made by the code its runs
    execute now (``plan_code``: ``runs.code_digest(plan_module)``, which the study's schema records);
    else None. The second value says which file it is, or why none is used and how to make one."""
    rel = FULL_RESULTS / f"{cfg.notebook}.json"
    make = f"make it with `python scripts/run_notebooks.py --profile full notebooks/{cfg.notebook}.ipynb`{cost}"
    return _kept_results(cfg, plan_module, rel, make, "full", {}, "full profile")


def check_results(
    cfg: Config, plan_module: str, check: str, overrides: dict[str, Any], cost: str = ""
) -> tuple[dict[str, Any] | None, str]:
    """The results JSON of the notebook's second check ``check`` (results/checks/<notebook>.<check>.json,
    kept by ``scripts/run_notebooks.py --check``): the default profile with ``overrides`` (the
    study's ``CHECKS[check]``), at the committed seeds, made by the code its runs execute now; else
    None, with why and how to make one (as :func:`full_profile_results`)."""
    rel = CHECK_RESULTS / f"{cfg.notebook}.{check}.json"
    make = f"make it with `python scripts/run_notebooks.py --check {check} notebooks/{cfg.notebook}.ipynb`{cost}"
    return _kept_results(cfg, plan_module, rel, make, "default", overrides, f"the {check} check")


def _kept_results(cfg, plan_module, rel: Path, make: str, profile: str, overrides: dict[str, Any], what: str):
    """A results JSON another run kept at ``rel``, when it is a run of this notebook at ``profile``
    with ``overrides`` and the committed seeds, made by the code ``plan_module``'s runs execute now."""
    from .runs import code_digest

    path = cfg.root / rel
    if not path.exists():
        return None, f"no {rel}: {make}"
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        return None, f"{rel} cannot be read ({type(err).__name__}: {err}); {make}"
    if doc.get("notebook") != cfg.notebook or doc.get("profile") != profile or doc.get("seed_offset"):
        return None, (
            f"{rel} is not a run of {cfg.notebook} at the {profile} profile and the committed seeds "
            f"(notebook {doc.get('notebook')!r}, profile {doc.get('profile')!r}, seed offset {doc.get('seed_offset')!r}); "
            + make
        )
    ran = doc.get("config", {})
    other = {k: ran.get(k) for k, v in overrides.items() if ran.get(k) != v}
    if other:
        return None, f"{rel} ran with {other}, not {what}'s {overrides}; {make}"
    now = code_digest(plan_module)
    if doc.get("plan_code") != now:
        return None, (
            f"{rel} was made by other code than this checkout's runs execute (code digest of {plan_module}: "
            f"{doc.get('plan_code')} there, {now} here), so its numbers may not be this code's; {make}"
        )
    return doc, f"{rel} ({what}, written {doc.get('written_at')}, commit {doc.get('git_commit')})"


FIRST_PATCH_LAYOUT = Path("results") / "before"  # <notebook>.shared_layout.json: the run on the first patch layout


def first_layout_results(cfg: Config) -> tuple[dict[str, Any] | None, str]:
    """The committed results JSON of this notebook's default run on the first patch layout (every
    physical point two labels; issue 47), kept at ``FIRST_PATCH_LAYOUT``: None (with why) at another
    profile or without that file; else the document and where it comes from."""
    return earlier_results(cfg, FIRST_PATCH_LAYOUT / f"{cfg.notebook}.shared_layout.json", "the first layout's run")


def earlier_results(cfg: Config, rel: Path, what: str) -> tuple[dict[str, Any] | None, str]:
    """A committed results JSON of this notebook's default run kept as history at ``rel`` (under
    results/before/; ``what`` names it): None (with why) at another profile or without that file;
    else the document and where it comes from."""
    if cfg.profile != "default":
        return None, f"{what} is the default profile, this is {cfg.profile!r}"
    path = cfg.root / rel
    if not path.exists():
        return None, f"no {rel}"
    doc = json.loads(path.read_text())
    return doc, f"{rel} (commit {str(doc.get('git_commit', '?'))[:7]}, written {str(doc.get('written_at', '?'))[:10]})"
