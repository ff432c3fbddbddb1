"""Jupyter server settings for ``make lab`` (scripts/lab.sh passes ``--config`` with this file).

The Lab must not change what ``make reproduce`` publishes: the committed notebooks (``notebooks/``),
figures (``figures/``) and results (``results/``). Its autosave and Save would write an edited
parameters cell or a half-run notebook over them, and its file browser deletes, renames, moves and
uploads over files. Every such write through the contents API is refused (HTTP 403) with a message
that says where to work instead; opening, running and copying out of them is unchanged.

Written here because Jupyter offers a ``pre_save_hook`` for saves only; deletes and renames go
through the contents manager's ``delete_file`` and ``rename_file``, so the guard is a subclass of
the server's default manager that checks every path a write touches.
"""

from pathlib import Path

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from tornado.web import HTTPError

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ("notebooks", "figures", "results")  # what only `make reproduce` writes
SCRATCH = Path("build") / "lab"  # where the Lab's own copies go (created when the Lab starts)


def published_folder(root_dir: str, path: str) -> str | None:
    """The published folder of the repository (``PUBLISHED``) that ``path`` (relative to the Lab's
    root) lies in or is, else None."""
    target = (Path(root_dir) / path.lstrip("/")).resolve()
    for name in PUBLISHED:
        folder = ROOT / name
        if target == folder or folder in target.parents:
            return name
    return None


def refusal(folder: str, path: str, action: str) -> HTTPError:
    name = Path(path).name
    if folder == "notebooks":
        what = (
            f"notebooks/{name} is a committed notebook, and the Lab does not save into notebooks/ "
            f"(nor delete, rename or move its files: refused {action}). Keep your edits with "
            f"File > Save Notebook As... under {SCRATCH}/ (e.g. {SCRATCH}/{name}); 'make reproduce' republishes "
            f"notebooks/, and 'git checkout -- notebooks/{name}' restores one"
        )
    else:
        what = (
            f"{folder}/ holds what 'make reproduce' publishes, and the Lab does not change it (refused {action} "
            f"of {folder}/{name}). A notebook run in the Lab writes its figures and results under build/; copy a "
            f"file out to {SCRATCH}/ to work on it; 'git checkout -- {folder}/' restores the committed files"
        )
    return HTTPError(403, what)


class GuardedContentsManager(AsyncLargeFileManager):
    """The server's default contents manager, refusing every write into ``PUBLISHED``."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        (Path(self.root_dir) / SCRATCH).mkdir(parents=True, exist_ok=True)

    def _guard(self, path: str, action: str) -> None:
        folder = published_folder(self.root_dir, path)
        if folder is not None:
            raise refusal(folder, path, action)

    async def save(self, model, path=""):
        self._guard(path, "a save")
        return await super().save(model, path)

    async def delete_file(self, path):
        self._guard(path, "a delete")
        return await super().delete_file(path)

    async def rename_file(self, old_path, new_path):
        self._guard(old_path, "a rename")
        self._guard(new_path, "a move")
        return await super().rename_file(old_path, new_path)


c = get_config()  # noqa: F821  (Jupyter runs this file with get_config defined)
c.ServerApp.contents_manager_class = GuardedContentsManager
# no news feed, no update check: this machine reaches the package registries only, and the toast that asks
# about news hides the messages that matter (the Lab's page then has news disabled, so it never asks)
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
# Kernels on local IPC sockets next to their connection files, not TCP ports: nothing listens on the network,
# and ipykernel drops its "running over TCP without encryption" warning from every kernel's log.
c.KernelManager.transport = "ipc"
