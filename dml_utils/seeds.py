"""Run seeds and the seed shift: one machine draws another CPU's training outcomes.

Another CPU computes the same training in other last bits, and training amplifies them within a
few dozen steps, so a CPU change acts like new seeds. ``DML_SEED_OFFSET=k`` moves every *run
seed* by k: the seeds a notebook's ``seeds`` / ``sweep_seeds`` entries or a test hand to a training
run, wherever the package turns them into a generator (Python's, NumPy's and torch's global
state, the initial weights, dropout, batch samplers, the pairs a run trains on, a run's fixed
evaluation batches and probe rows). A check that passes at shifts 0, 1000, 2000 and 3000 (larger
than the seeds any test uses, so the draws do not overlap) does not hang on one seed's outcome,
so it does not hang on one CPU's.

Not shifted: what is the same for every seed of a notebook, and so is the data rather than a draw
— splits and subsets by ``SPLIT_SEED`` / ``PAIR_SEED``, the synthetic HPatches release by its
``release_seed``, Monte-Carlo checks of closed forms, the fixed batches of arithmetic (gradients
near collapse), the analysis draws of a fixed seed on a given embedding. Another CPU leaves those
alone too, up to float rounding.

A run records the shift it ran under (``results.write_results``), and the run script refuses to
publish a shifted run.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from .parameters import ConfigError

SEED_OFFSET_ENV = "DML_SEED_OFFSET"


def seed_offset() -> int:
    """The shift ``DML_SEED_OFFSET`` asks for: 0 when unset or empty; an integer otherwise."""
    raw = os.environ.get(SEED_OFFSET_ENV, "").strip()
    if not raw:
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(
            f"{SEED_OFFSET_ENV}={raw!r} is not an integer; set it to a whole number "
            f"(e.g. {SEED_OFFSET_ENV}=1) or unset it for the committed seeds"
        ) from None
    if value < 0:
        raise ConfigError(f"{SEED_OFFSET_ENV}={value} is negative: seeds must stay >= 0; use a positive shift")
    if value > 2**62:  # dml_utils.parameters.MAX_SEED: a seed plus the shift stays below torch's 2**64
        raise ConfigError(
            f"{SEED_OFFSET_ENV}={value} is above 2**62: a shifted seed must stay below 2**64, which torch's "
            f"generators take; use a small shift, e.g. {SEED_OFFSET_ENV}=1000"
        )
    return value


def shifted(seed: int) -> int:
    """The seed a run with ``seed`` actually draws from: ``seed + DML_SEED_OFFSET``."""
    return int(seed) + seed_offset()


def run_rng(seed: int) -> np.random.Generator:
    """NumPy generator of a run seed (shifted)."""
    return np.random.default_rng(shifted(seed))


def run_generator(seed: int) -> torch.Generator:
    """torch generator of a run seed (shifted), e.g. for a DataLoader."""
    return torch.Generator().manual_seed(shifted(seed))


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch with the run seed (shifted); return a torch.Generator seeded
    the same, for DataLoaders."""
    s = shifted(seed)
    random.seed(s)
    np.random.seed(s % 2**32)
    torch.manual_seed(s)
    return torch.Generator().manual_seed(s)
