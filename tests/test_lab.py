"""JupyterLab in a real browser (``make lab-test``): ``scripts/lab.sh`` starts the Lab from .venv,
headless Chromium (Debian's ``chromium``, driven by Playwright; no browser download) opens each
numbered notebook, and for each: the kernel starts, the committed figures render, no error dialog
appears, and the parameters cell edited to the smoke profile plus the setup cell run and report
outputs under build/smoke/. A screenshot per notebook lands in build/lab/.

The Lab serves a copy of notebooks/ (autosave must never rewrite a committed notebook); the
kernels still import this clone's dml_utils. Skipped, saying how to install them, where Chromium or
Playwright are missing (``make lab-test`` installs both).
"""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TOKEN = "labtest" + "0" * 17
# As root on a machine without outside network: no sandbox, no GPU, no background connections.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

playwright = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed: run `make lab-test`")
if not Path(CHROMIUM).exists():
    pytest.skip(
        "Debian's chromium is not installed: run `make lab-test` (apt-get install chromium)", allow_module_level=True
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def _start_lab(folder: Path, serve: Path, docmanager: dict):
    """``scripts/lab.sh`` serving ``serve`` with the test's own Lab settings under ``folder``: every
    cell rendered (no windowing, so every figure is in the page), no news or update check, and the
    document manager's settings ``docmanager`` (autosave on or off). Yields the Lab's base URL."""
    settings = folder / "settings" / "@jupyterlab"
    for plugin, value in (
        ("notebook-extension/tracker", {"windowingMode": "none"}),
        ("docmanager-extension/plugin", docmanager),
        ("apputils-extension/notification", {"fetchNews": "false", "checkForUpdates": False}),
    ):
        (settings / plugin).parent.mkdir(parents=True, exist_ok=True)
        (settings / f"{plugin}.jupyterlab-settings").write_text(json.dumps(value))
    port = _free_port()
    log = open(folder / "lab.log", "w")
    proc = subprocess.Popen(
        ["bash", str(ROOT / "scripts" / "lab.sh")],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={
            **{k: v for k, v in os.environ.items() if k != "DML_PROGRESS"},  # the Lab's own bars
            "PORT": str(port),
            "TOKEN": TOKEN,
            "LAB_DIR": str(serve),
            "JUPYTERLAB_SETTINGS_DIR": str(folder / "settings"),
        },
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(360):
            try:
                _get(f"{base}/api/status?token={TOKEN}")
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"make lab exited with {proc.returncode}: {(folder / 'lab.log').read_text()[-2000:]}")
                time.sleep(0.5)
        else:
            pytest.fail(f"the Lab did not answer within 180 s: {(folder / 'lab.log').read_text()[-2000:]}")
        printed = (folder / "lab.log").read_text()
        assert f"http://127.0.0.1:{port}/lab/tree/notebooks?token={TOKEN}" in printed and "ssh -N -L" in printed
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):  # make lab may have exited already (the failure above)
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The Lab on a copy of notebooks/, autosave off: the smoke runs edit every notebook."""
    served = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "notebooks", served / "notebooks")
    yield from _start_lab(served, served, {"autosave": False})


@pytest.fixture()
def live_lab(tmp_path):
    """The Lab as ``make lab`` serves it, on this clone itself, autosave every 2 s: what a user's
    edits meet. The test using it restores any file it finds changed, then fails."""
    yield from _start_lab(tmp_path, ROOT, {"autosave": True, "autosaveInterval": 2})


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _kernel_idle(base: str, name: str, timeout: float = 180) -> None:
    end = time.time() + timeout
    while time.time() < end:
        sessions = [s for s in _get(f"{base}/api/sessions?token={TOKEN}") if s["path"].endswith(name)]
        if sessions and sessions[0]["kernel"]["execution_state"] == "idle":
            return
        time.sleep(0.5)
    raise AssertionError(f"the kernel of {name} did not start (or stayed busy) within {timeout:.0f} s")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_notebook_opens_renders_and_runs_its_setup_at_smoke(lab, browser, path):
    committed = (path.read_bytes(), path.stat().st_mtime_ns)
    figures = sum(
        "image/png" in o.get("data", {}) for c in json.loads(path.read_text())["cells"] for o in c.get("outputs", [])
    )
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        # a workspace of its own: the Lab would otherwise also restore the notebooks an earlier test opened
        page.goto(f"{lab}/lab/workspaces/{path.stem}/tree/notebooks/{path.name}?reset&token={TOKEN}")
        page.wait_for_selector(".jp-NotebookPanel:visible .jp-CodeCell", state="attached", timeout=60_000)
        panel = page.locator(".jp-NotebookPanel:visible")
        _kernel_idle(lab, path.name)
        assert page.locator(".jp-Dialog").count() == 0, (
            "an error dialog: " + page.locator(".jp-Dialog").first.inner_text()
        )
        # every committed figure is an <img> the browser decoded
        page.wait_for_function(
            f"document.querySelectorAll('.jp-RenderedImage img').length >= {figures}", timeout=30_000
        )
        decoded = page.evaluate("""async () => { const imgs = [...document.querySelectorAll('.jp-RenderedImage img')];
                                   await Promise.all(imgs.map(i => i.decode().catch(() => null)));
                                   return imgs.filter(i => i.complete && i.naturalWidth > 0).length; }""")
        assert decoded >= figures, f"{decoded} of {figures} committed figures rendered"
        # the parameters cell, edited as a reader would, then the setup cell
        cell = panel.locator(".jp-CodeCell").first
        cell.scroll_into_view_if_needed()
        cell.locator(".cm-content").click()
        page.keyboard.press("Control+a")
        page.keyboard.insert_text('profile = "smoke"')
        page.keyboard.press("Shift+Enter")
        page.keyboard.press("Shift+Enter")
        time.sleep(1)
        _kernel_idle(lab, path.name)
        setup = panel.locator(".jp-CodeCell").nth(1).locator(".jp-OutputArea").inner_text()
        assert "smoke profile: figures -> build/smoke/figures/" in setup, setup[-1500:]
        assert "Error" not in setup and "Traceback" not in setup, setup[-1500:]
        # a progress bar of the package renders as a widget, with no stderr box
        page.keyboard.press("Escape")
        page.keyboard.press("a")  # a new cell above the active one
        page.keyboard.press("Enter")
        page.keyboard.insert_text(
            "from dml_utils.progress import bar\nfor _ in bar(range(3), desc='widget check'): pass"
        )
        page.keyboard.press("Shift+Enter")
        time.sleep(1)
        _kernel_idle(lab, path.name)
        check = panel.locator(".jp-CodeCell").filter(has_text="widget check").first.locator(".jp-OutputArea")
        check.locator(".widget-hprogress, .widget-progress").first.wait_for(timeout=15_000)
        assert check.locator("[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
        shown = check.inner_text().replace("\u2007", " ")  # tqdm's widget pads with figure spaces
        assert "widget check: 100%" in shown and "3/3" in shown, shown
        assert page.locator(".jp-Dialog").count() == 0
        (ROOT / "build" / "lab").mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ROOT / "build" / "lab" / f"{path.stem}.png"))
    finally:
        page.close()
    assert (path.read_bytes(), path.stat().st_mtime_ns) == committed


def _dialog(page, timeout: float = 30_000) -> str:
    """The text of the next dialog the Lab shows, which is then closed with its last button."""
    page.wait_for_selector(".jp-Dialog", timeout=timeout)
    text = page.locator(".jp-Dialog").first.inner_text()
    page.locator(".jp-Dialog .jp-Dialog-button").last.click()
    page.wait_for_selector(".jp-Dialog", state="detached", timeout=10_000)
    return text


def _edit_first_code_cell(page, text: str) -> None:
    page.wait_for_selector(".jp-NotebookPanel:visible .jp-CodeCell", timeout=60_000)
    page.locator(".jp-NotebookPanel:visible .jp-CodeCell").first.locator(".cm-content").click()
    page.keyboard.insert_text(text)


def test_a_users_saves_deletes_and_renames_of_a_committed_notebook_are_refused(live_lab, browser):
    """Issue 48: the user's path, in the Lab serving this clone. An edit is autosaved, then saved
    with Ctrl+S: both refused with the message that sends edits to build/lab/; Save As there works;
    the file browser's Move to Trash and Rename of the notebook are refused. The committed notebook
    keeps its bytes and its modification time throughout."""
    name = "04_sampling_matters.ipynb"
    path = ROOT / "notebooks" / name
    committed = (path.read_bytes(), path.stat().st_mtime_ns)
    saved_as = ROOT / "build" / "lab" / f"saved_as_{os.getpid()}.ipynb"
    renamed = ROOT / "notebooks" / f"renamed_{os.getpid()}.ipynb"
    checkpoints = ROOT / "notebooks" / ".ipynb_checkpoints"  # the Lab's own copy on opening (git ignores it)
    had_checkpoints = checkpoints.exists()
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    refusal = f"notebooks/{name} is a committed notebook, and the Lab does not save into notebooks/"
    try:
        page.goto(f"{live_lab}/lab/workspaces/user-path/tree/notebooks/{name}?reset&token={TOKEN}")
        _edit_first_code_cell(page, "# edited in the Lab\n")
        said = _dialog(page)  # autosave, 2 s after the edit
        assert said.startswith(f"File Save Error for {name}") and refusal in said and "refused a save" in said
        assert f"Save Notebook As... under build/lab/ (e.g. build/lab/{name})" in said
        # Ctrl+S, in the Lab reloaded with autosave off (so the only save is the user's)
        settings = {"raw": json.dumps({"autosave": False})}
        request = urllib.request.Request(
            f"{live_lab}/lab/api/settings/@jupyterlab/docmanager-extension:plugin",
            data=json.dumps(settings).encode(),
            method="PUT",
            headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=10).close()
        page.reload()
        _edit_first_code_cell(page, "# edited again\n")
        page.keyboard.press("Control+s")
        said = _dialog(page)
        assert refusal in said and "refused a save" in said
        # File > Save Notebook As... under build/lab/: works, and the Lab offers to discard the refused edits
        page.keyboard.press("Control+Shift+s")
        page.wait_for_selector(".jp-Dialog input", timeout=30_000)
        page.locator(".jp-Dialog input").fill(str(saved_as.relative_to(ROOT)))
        page.locator(".jp-Dialog .jp-mod-accept").click()
        for _ in range(40):
            if saved_as.exists():
                break
            time.sleep(0.25)
        assert saved_as.exists() and "# edited again" in saved_as.read_text()
        if page.locator(".jp-Dialog").count():  # "Save changes in 04_… before closing?"
            page.locator(".jp-Dialog .jp-Dialog-button", has_text="Discard").click()
        # the file browser: Move to Trash, then Rename
        page.goto(f"{live_lab}/lab/workspaces/user-path-browser/tree/notebooks?reset&token={TOKEN}")
        item = page.locator(f".jp-DirListing-item:has-text('{name}')").first
        item.wait_for(timeout=30_000)
        item.click(button="right")
        page.locator(".lm-Menu-item:has-text('Move to Trash')").first.click()
        page.wait_for_selector(".jp-Dialog", timeout=10_000)
        page.locator(".jp-Dialog .jp-mod-accept").click()  # "Are you sure …?"
        page.wait_for_selector(".jp-Dialog:has-text('Delete Failed')", timeout=10_000)
        said = _dialog(page)
        assert refusal in said and "refused a delete" in said
        item.click(button="right")
        page.locator(".lm-Menu-item:has-text('Rename')").first.click()
        page.locator(".jp-DirListing-editor").wait_for(timeout=10_000)
        page.keyboard.press("Control+a")
        page.keyboard.insert_text(renamed.name)
        page.keyboard.press("Enter")
        said = _dialog(page)
        assert said.startswith("Rename Error") and refusal in said and "refused a rename" in said
    finally:
        page.close()
        changed = (path.read_bytes(), path.stat().st_mtime_ns) != committed
        if path.read_bytes() != committed[0]:
            path.write_bytes(committed[0])
        saved_as.unlink(missing_ok=True)
        renamed.unlink(missing_ok=True)
        if not had_checkpoints:  # leave the clone as the test found it
            shutil.rmtree(checkpoints, ignore_errors=True)
    assert not changed, f"the Lab changed the committed notebooks/{name} (restored)"
    assert not renamed.exists()
