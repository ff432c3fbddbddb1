"""Results JSON with provenance, and the claims table every notebook ends with."""
from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import tempfile
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from .config import Config

LIBRARIES = ("torch", "torchvision", "pytorch-metric-learning", "numpy", "scipy", "scikit-learn",
             "mlxtend", "umap-learn", "seaborn", "matplotlib", "pandas")


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit(root: Path) -> str:
    """HEAD's hash, with '+dirty' when tracked files differ from it; 'unknown' outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
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

    doc = {
        "notebook": cfg.notebook,
        "profile": cfg.profile,
        "config": cfg.as_dict(),
        "data": data_sources,
        "libraries": library_versions(),
        "git_commit": git_commit(cfg.root),
        "torch_threads": torch.get_num_threads(),
        "machine": cpu_fingerprint(),  # same seed, same machine: same numbers (see dml_utils/machine.py)
        "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
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


# ---------------------------------------------------------------- claims
VERDICTS = ("reproduced", "partly", "not reproduced", "not testable here")


def mean_std(values, digits: int = 3, scale: float = 1.0) -> str:
    """'m ± s (n=k)' over seeds."""
    v = np.asarray(values, dtype=float) * scale
    if len(v) == 1:
        return f"{v[0]:.{digits}f} (n=1)"
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f} (n={len(v)})"


def difference_verdict(diff_mean: float, p_value: float, wins: int, n: int, alpha: float = 0.05) -> str:
    """For a claim "A beats B": reproduced if A wins on average with paired p < alpha,
    partly if A wins on average (or on most seeds) without significance, else not reproduced."""
    if diff_mean > 0 and p_value == p_value and p_value < alpha:
        return "reproduced"
    if diff_mean > 0 or wins > n / 2:
        return "partly"
    return "not reproduced"


def paired_claim(claim: str, reported: str, a: str, a_values, b: str, b_values, scale: float = 1.0,
                 digits: int = 3, unit: str = "", lower_wins: bool = False) -> dict[str, str]:
    """A claims-table row for "a beats b", values paired by seed; with lower_wins, beating means lower."""
    from .evaluate import paired_comparison

    a_values, b_values = np.asarray(a_values, dtype=float), np.asarray(b_values, dtype=float)
    sign = -1.0 if lower_wins else 1.0
    pc = paired_comparison(sign * a_values, sign * b_values)
    ours = (f"{a} {mean_std(a_values, digits, scale)}{unit} vs {b} {mean_std(b_values, digits, scale)}{unit}; "
            f"{a} − {b} = {sign * pc['mean_diff'] * scale:+.{digits}f}{unit}{' (lower wins)' if lower_wins else ''}, "
            f"{a} ahead on {pc['wins']}/{pc['n']} seeds, paired t p={pc['t_p']:.3g}")
    return {"claim": claim, "reported": reported, "ours": ours,
            "verdict": difference_verdict(pc["mean_diff"], pc["t_p"], pc["wins"], pc["n"]),
            "why": "" if pc["n"] > 1 else "one seed: no test"}


def claims_table(rows: list[dict[str, str]]):
    """A DataFrame with columns claim, reported, ours, verdict (and why)."""
    import pandas as pd

    for r in rows:
        if r["verdict"] not in VERDICTS:
            raise ValueError(f"verdict {r['verdict']!r} is not one of {VERDICTS}")
    return pd.DataFrame(rows, columns=["claim", "reported", "ours", "verdict", "why"])


def format_claims(table) -> str:
    """Plain text, one block per claim: stable to compare (nbval) and readable in any viewer."""
    lines = []
    for i, r in enumerate(table.itertuples(index=False), 1):
        lines += [f"[{i}] {r.claim}", f"    reported: {r.reported}", f"    ours:     {r.ours}",
                  f"    verdict:  {r.verdict}" + (f" ({r.why})" if r.why else "")]
    return "\n".join(lines)


def claims_outline(table) -> str:
    """What a claims table asks and in which terms, without the measured numbers or the verdicts
    they give: the columns, each claim with what was reported, and whether every verdict is one of
    VERDICTS. No CPU can change it, so nbval checks it (the numbers are checked in pytest)."""
    lines = [f"columns: {', '.join(table.columns)}", f"verdicts drawn from: {', '.join(VERDICTS)}",
             f"every verdict is one of them: {bool(table['verdict'].isin(VERDICTS).all())}"]
    for i, r in enumerate(table.itertuples(index=False), 1):
        lines += [f"[{i}] {r.claim}", f"    reported: {r.reported}"]
    return "\n".join(lines)
