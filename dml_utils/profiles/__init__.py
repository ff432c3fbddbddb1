"""Each notebook's profiles, in a module named after its report module (``profiles.circle_vs_triplet``
for ``dml_utils.circle_vs_triplet``). ``dml_utils.config`` resolves them; nothing here imports torch."""

from __future__ import annotations

from types import ModuleType

from . import batch_hard_collapse, circle_vs_triplet, hdml_triplet_vs_npair, sampling_matters, yukawa_vs_contrastive
from .common import PROFILE_NAMES

NOTEBOOKS: dict[str, ModuleType] = {
    m.NOTEBOOK: m
    for m in (circle_vs_triplet, hdml_triplet_vs_npair, yukawa_vs_contrastive, sampling_matters, batch_hard_collapse)
}

__all__ = ["NOTEBOOKS", "PROFILE_NAMES"]
