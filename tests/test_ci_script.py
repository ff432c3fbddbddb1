""".ci/run keeps inside CI's time limit on a slow CPU of this kind: `make test` and the shifted
tests that train always run; a stage on the other float path that would end past the budget is
skipped with a line that says how to run it by hand. Run with a stand-in `make` that records
what it was asked and a browser-test set-up that fails (no install)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run_ci(tmp_path: Path, budget_min: int) -> tuple[list[str], str]:
    (tmp_path / ".ci").mkdir()
    shutil.copy(ROOT / ".ci" / "run", tmp_path / ".ci" / "run")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "lab_test_deps.sh").write_text("exit 1\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    fake = bin_dir / "make"
    fake.write_text(f'#!/usr/bin/env bash\necho "${{ATEN_CPU_CAPABILITY:-}}|${{DML_SEED_OFFSET:-}}|$*" >> {calls}\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "CI_BUDGET_MIN": str(budget_min)}
    env.pop("ATEN_CPU_CAPABILITY", None)
    env.pop("DML_SEED_OFFSET", None)
    out = subprocess.run(
        ["bash", str(tmp_path / ".ci" / "run")], env=env, capture_output=True, text=True, check=True
    ).stdout
    return calls.read_text().splitlines(), out


def test_every_stage_runs_when_the_budget_allows(tmp_path):
    calls, out = _run_ci(tmp_path, budget_min=75)
    assert calls == [
        "||test",
        "|1000|train-tests",
        "default||train-tests",
        "default||regression",
    ]
    assert "skipped" not in out.replace("lab-test skipped", "") and "lab-test skipped" in out


def test_the_other_float_path_is_skipped_with_a_reason_past_the_budget(tmp_path):
    calls, out = _run_ci(tmp_path, budget_min=0)
    assert calls == ["||test", "|1000|train-tests"]
    assert "== skipped: the tests that train on the other float path" in out
    assert "run it by hand: ATEN_CPU_CAPABILITY=default make regression" in out
