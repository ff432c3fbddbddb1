"""scripts/lab.sh (make lab) refuses, saying what to do, before starting anything."""

import shutil
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(cwd: Path, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "scripts/lab.sh"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **env},
    )


def test_no_venv(tmp_path):
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "lab.sh", tmp_path / "scripts" / "lab.sh")
    r = _run(tmp_path)
    assert r.returncode == 1 and "no JupyterLab in .venv" in r.stderr and "make env" in r.stderr


def test_a_port_in_use():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = _run(ROOT, PORT=str(port))
    assert (
        r.returncode == 1
        and f"cannot listen on 127.0.0.1:{port}" in r.stderr
        and f"make lab PORT={port + 2}" in r.stderr
    )


def test_a_port_that_is_not_a_number():
    r = _run(ROOT, PORT="88a8")
    assert r.returncode == 1 and "PORT must be a number, got '88a8'" in r.stderr
