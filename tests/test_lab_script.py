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


def test_a_port_out_of_range():
    for port in ("99999", "0", "123456789012345678901234567890"):
        r = _run(ROOT, PORT=port)
        assert r.returncode == 1 and f"PORT must be between 1 and 65535, got '{port}'" in r.stderr, r.stderr
        assert "Traceback" not in r.stderr


def test_a_bad_ip_is_blamed_on_the_ip_not_the_port():
    for ip, says in (
        ("999.1.1.1", "IP '999.1.1.1' is not an address"),
        ("10.254.254.254", "not an address of this machine"),
    ):
        r = _run(ROOT, IP=ip, PORT="8897")
        assert r.returncode == 1 and says in r.stderr and "IP=127.0.0.1" in r.stderr, r.stderr
        assert "another Lab" not in r.stderr


def test_the_labs_contents_api_refuses_to_save_into_the_committed_notebooks(tmp_path):
    """The Lab saves (autosave too) through the contents API: with make lab's config a PUT into
    notebooks/ is refused with where to save instead, the committed bytes stay, and a save under
    build/lab/ works."""
    import json
    import time
    import urllib.error
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = "t" * 24
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "jupyter"),
            "server",
            "--config=scripts/lab_config.py",
            f"--port={port}",
            "--port-retries=0",
            f"--ServerApp.root_dir={ROOT}",
            f"--IdentityProvider.token={token}",
            "--no-browser",
            "--allow-root",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    name = "03_yukawa_vs_contrastive_mnist.ipynb"
    committed = (ROOT / "notebooks" / name).read_bytes()
    scratch = ROOT / "build" / "lab" / f"test_lab_save_{port}.ipynb"

    def call(method, path, body=None):
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/contents/{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    try:
        for _ in range(120):  # the server takes a few seconds to start
            try:
                status, model = call("GET", f"notebooks/{name}")
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.5)
        assert status == 200
        edited = {"type": "notebook", "format": "json", "content": model["content"]}
        edited["content"]["cells"][0]["source"] = "edited in the Lab"
        status, err = call("PUT", f"notebooks/{name}", edited)
        assert status == 403 and "does not save into notebooks/" in err["message"]
        assert f"build/lab/{name}" in err["message"] and "git checkout -- notebooks/" in err["message"]
        assert (ROOT / "notebooks" / name).read_bytes() == committed
        status, _ = call("PUT", f"build/lab/{scratch.name}", edited)  # Save As under build/lab/, made at start
        assert status in (200, 201) and "edited in the Lab" in scratch.read_text()
        # the file browser's delete, rename, move and upload: each refused inside what make reproduce publishes
        results = sorted((ROOT / "results").glob("[0-9][0-9]_*.json"))[0]
        figure = sorted((ROOT / "figures").glob("*.png"))[0]
        kept = {f: f.read_bytes() for f in (ROOT / "notebooks" / name, results, figure)}
        refused = [
            ("DELETE", f"notebooks/{name}", None, "refused a delete"),
            ("PATCH", f"notebooks/{name}", {"path": f"build/lab/moved_{port}.ipynb"}, "refused a rename"),
            ("PATCH", f"build/lab/{scratch.name}", {"path": f"notebooks/{scratch.name}"}, "refused a move"),
            ("DELETE", f"results/{results.name}", None, "refused a delete of results/"),
            ("PATCH", f"figures/{figure.name}", {"path": f"figures/x_{port}.png"}, "refused a rename of figures/"),
            ("PUT", f"results/lab_upload_{port}.json", {"type": "file", "format": "text", "content": "{}"}, "a save"),
        ]
        for method, path, body, says in refused:
            status, err = call(method, path, body)
            assert status == 403 and says in err["message"], (method, path, status, err)
        assert all(f.read_bytes() == b for f, b in kept.items())
        assert not (ROOT / "results" / f"lab_upload_{port}.json").exists()
        assert not (ROOT / "notebooks" / scratch.name).exists() and scratch.exists()
    finally:
        server.terminate()
        server.wait(timeout=30)
        scratch.unlink(missing_ok=True)


def test_the_lab_makes_the_folder_its_message_sends_edits_to(tmp_path):
    """The refusal sends edits to build/lab/: the Lab's contents manager creates it at start."""
    import runpy

    from traitlets.config import Config

    conf = runpy.run_path(str(ROOT / "scripts" / "lab_config.py"), init_globals={"get_config": Config})
    manager = conf["GuardedContentsManager"](root_dir=str(tmp_path))
    assert (tmp_path / "build" / "lab").is_dir()
    assert conf["published_folder"](str(ROOT), "notebooks/x.ipynb") == "notebooks"
    assert conf["published_folder"](str(ROOT), "build/lab/x.ipynb") is None
    assert conf["published_folder"](str(ROOT / "notebooks"), "../results/a.json") == "results"
    assert manager.root_dir == str(tmp_path)
    # no news toast, no update check (issue 48: noise that hides the messages that matter)
    assert (
        conf["c"].LabApp.news_url is None
        and conf["c"].LabApp.check_for_updates_class == "jupyterlab.NeverCheckForUpdate"
    )
    assert conf["c"].KernelManager.transport == "ipc"  # no kernel on TCP: no "without encryption" warning
