"""Progress bars: widgets in JupyterLab, plain lines in a headless run.

``bar`` is ``tqdm.auto.tqdm`` (an ipywidgets bar in the Lab, which ``leave=False`` removes when
it ends), except in a run of ``scripts/run_notebooks.py`` or the nbval replay, which set
``DML_PROGRESS=text``: there it is tqdm's text bar on stderr, which papermill's log shows as it
runs and which the run script strips from the notebooks it commits (``is_progress_output``), so
no committed notebook carries bar residue or an empty stderr box.
"""

from __future__ import annotations

import os
import re

ENV = "DML_PROGRESS"

# One tqdm status line: "desc:  40%|████      | 16/40 [00:04<00:06,  3.93it/s, loss=0.0180]"
_BAR_LINE = re.compile(r"^.*\d+%\|.*\| *[\d.]+[kMG]?/[\d.?]+[kMG]? \[.*\]\s*$")


def bar(iterable=None, **kwargs):
    """A tqdm bar over ``iterable`` with tqdm's keyword arguments."""
    if os.environ.get(ENV) == "text":
        from tqdm.std import tqdm
    else:
        from tqdm.auto import tqdm
    return tqdm(iterable, **kwargs)


def is_progress_output(output: dict) -> bool:
    """True for a notebook output that holds only tqdm bars and blanks (a text bar's stderr
    stream, or a widget bar's display), i.e. progress residue that says nothing about results."""
    kind = output.get("output_type")
    if kind == "stream" and output.get("name") == "stderr":
        lines = re.split(r"[\r\n]", output.get("text", ""))
        return all(not ln.strip() or _BAR_LINE.match(ln) for ln in lines)
    if kind == "display_data":
        data = output.get("data", {})
        return (
            set(data) <= {"application/vnd.jupyter.widget-view+json", "text/plain"}
            and "application/vnd.jupyter.widget-view+json" in data
        )
    return False
