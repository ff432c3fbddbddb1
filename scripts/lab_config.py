"""Jupyter server settings for ``make lab`` (scripts/lab.sh passes ``--config`` with this file).

The Lab must not rewrite a committed notebook: its autosave (and Save) would otherwise write an
edited parameters cell or a half-run notebook over ``notebooks/``. Every save into the
repository's ``notebooks/`` is refused through the contents API, with a message that says where
to save instead; opening and running the notebooks is unchanged.
"""

from pathlib import Path

from tornado.web import HTTPError

COMMITTED = Path(__file__).resolve().parents[1] / "notebooks"


def refuse_committed(model, path, contents_manager, **kwargs):
    """A pre-save hook: a save whose target lies in the repository's notebooks/ is refused (403)."""
    target = (Path(contents_manager.root_dir) / path.lstrip("/")).resolve()
    if target == COMMITTED or COMMITTED in target.parents:
        name = target.name
        raise HTTPError(
            403,
            f"notebooks/{name} is a committed notebook, and the Lab does not save into notebooks/. "
            f"Keep your edits with File > Save Notebook As... under build/lab/ (e.g. build/lab/{name}); "
            f"'make reproduce' republishes notebooks/, and 'git checkout -- notebooks/{name}' restores one",
        )


c = get_config()  # noqa: F821  (Jupyter runs this file with get_config defined)
c.ContentsManager.pre_save_hook = refuse_committed
