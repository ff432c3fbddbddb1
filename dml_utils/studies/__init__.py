"""The six studies, one folder each (one per notebook), and the registry for callers that know a
study only by its notebook's name (the run script, the regression check, the tests).

Each folder holds what belongs to its study alone:

- ``parameters``: ``NOTEBOOK``, the typed ``Parameters`` dataclass, ``PROFILES`` and ``validate``;
- ``study``: the notebook's steps: its data, its plan of runs, its analysis and its claims;
- ``figures``: the figures only this study draws;
- ``schema``: ``record`` (the results JSON the notebook writes), ``summary`` (the numbers of it the
  smoke regression compares) and ``SEED_DRAWS``.

The general modules of ``dml_utils`` never import from here; a notebook imports its own study's
folder, and the registry below imports only the parameters and schema of each, not its steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from dml_utils.config import Config, ConfigError, _suggest
from dml_utils.config import config as _config
from dml_utils.config import known_parameters as _known_parameters

from .batch_hard_collapse import parameters as _p05
from .batch_hard_collapse import schema as _s05
from .circle_vs_triplet import parameters as _p01
from .circle_vs_triplet import schema as _s01
from .hdml_triplet_vs_npair import parameters as _p02
from .hdml_triplet_vs_npair import schema as _s02
from .one_protocol import parameters as _p06
from .one_protocol import schema as _s06
from .sampling_matters import parameters as _p04
from .sampling_matters import schema as _s04
from .yukawa_vs_contrastive import parameters as _p03
from .yukawa_vs_contrastive import schema as _s03


@dataclass(frozen=True)
class Study:
    """A study as the registry knows it: its folder name, its parameters and its results schema."""

    name: str  # the folder, dml_utils/studies/<name>/
    parameters: ModuleType
    schema: ModuleType

    @property
    def notebook(self) -> str:
        return self.parameters.NOTEBOOK


STUDIES: dict[str, Study] = {
    p.NOTEBOOK: Study(name, p, s)
    for name, p, s in (
        ("circle_vs_triplet", _p01, _s01),
        ("hdml_triplet_vs_npair", _p02, _s02),
        ("yukawa_vs_contrastive", _p03, _s03),
        ("sampling_matters", _p04, _s04),
        ("batch_hard_collapse", _p05, _s05),
        ("one_protocol", _p06, _s06),
    )
}


def study(notebook: str) -> Study:
    """The study of a notebook (its file name without ``.ipynb``), or a ConfigError naming the known ones."""
    if notebook not in STUDIES:
        known = sorted(STUDIES)
        raise ConfigError(f"unknown notebook {notebook!r}; known: {known}.{_suggest(str(notebook), known)}")
    return STUDIES[notebook]


def config(notebook: str, profile: str = "default", root: Path | None = None, **overrides: Any) -> Config:
    """``dml_utils.config.config`` for a notebook given by name."""
    return _config(study(notebook).parameters, profile, root=root, **overrides)


def known_parameters(notebook: str) -> set[str]:
    """Every name a notebook's config accepts, ``profile`` aside."""
    return _known_parameters(study(notebook).parameters)


def summarize(doc: dict[str, Any]) -> dict[str, tuple[str, float | None]]:
    """The named numbers of a results JSON that the regression check compares: name -> (kind, value)."""
    name = doc.get("notebook")
    if name not in STUDIES:
        raise ValueError(f"no regression summary for notebook {name!r}; known: {sorted(STUDIES)}")
    return STUDIES[name].schema.summary(doc)


__all__ = ["STUDIES", "Study", "config", "known_parameters", "study", "summarize"]
