"""Study 05's plan of runs: the collapse map and progressive growth, as specs and the task that
carries one out (``map_run``, ``progressive_spec_run``), with what a run executes and nothing else.

A run's cache key holds the source of this module and what it imports (dml_utils.runs), not the
study's analysis: editing a claim or a table in ``study`` retrains nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch

from dml_utils.batch_hard import Setting, progressive_run, run
from dml_utils.collapse import spread_collapsed
from dml_utils.hpatches import IMAGE_TYPES, PatchSequence
from dml_utils.runs import RunSpec

from .parameters import VARIANTS

PATCH_INPUT = 32  # the network's patch side, as HardNet's


def patch_arrays(
    seqs: dict[str, PatchSequence], names: list[str], size: int = PATCH_INPUT
) -> tuple[torch.Tensor, np.ndarray]:
    """The views of every patch of ``names`` as (N·16, size, size) float32, standardized per
    patch, and the class of each (one class per patch of a sequence)."""
    xs, ys, first = [], [], 0
    for name in names:
        s = seqs[name]
        views = np.stack([s.patches[t] for t in IMAGE_TYPES], axis=1)  # (N, 16, 65, 65)
        t = torch.as_tensor(views.reshape(-1, 1, *views.shape[2:]), dtype=torch.float32) / 255.0
        t = torch.nn.functional.interpolate(t, size=size, mode="area").reshape(-1, size, size)
        mean, std = t.mean(dim=(1, 2), keepdim=True), t.std(dim=(1, 2), keepdim=True)
        xs.append((t - mean) / (std + 1e-3))  # a flat patch stays near zero instead of blowing up
        ys.append(np.repeat(np.arange(first, first + s.n), len(IMAGE_TYPES)))
        first += s.n
    if not xs:
        raise ValueError("no sequences given")
    return torch.cat(xs), np.concatenate(ys)


@torch.no_grad()
def descriptors(
    model: torch.nn.Module, seqs: dict[str, PatchSequence], size: int = PATCH_INPUT, normalize: bool = False
) -> dict[str, dict[str, np.ndarray]]:
    """``descriptors[seq][image type]`` (N, D) for the HPatches measures (L2-normalized when the
    model was trained on normalized descriptors)."""
    model.eval()
    out = {}
    for name in seqs:
        x, _ = patch_arrays(seqs, [name], size)
        d = model(x)
        if normalize:
            d = torch.nn.functional.normalize(d, dim=1)
        d = d.reshape(seqs[name].n, len(IMAGE_TYPES), -1).numpy().astype(np.float64)
        out[name] = {t: d[:, k] for k, t in enumerate(IMAGE_TYPES)}
    return out


HERMANS = {"p": 32, "k": 4, "lr": 3e-4, "variant": "soft"}  # Hermans et al. 2017: P 32 × K 4, soft margin, Adam 3e-4


def variant_of(setting: Setting) -> str:
    """The name of a setting's loss variant in ``parameters.VARIANTS``."""

    key = (setting.soft, setting.squared, setting.normalize)
    return next(name for name, v in VARIANTS.items() if v == key)


def make_setting(cfg, pk, lr: float, variant: str) -> Setting:

    soft, squared, normalize = VARIANTS[variant]
    return Setting(int(pk[0]), int(pk[1]), float(lr), soft, squared, normalize, cfg.margin)


def _pk(s) -> str:
    return f"{s.p}×{s.k}"


@dataclass
class PatchData:
    x: torch.Tensor  # training views (N·16, size, size)
    y: np.ndarray  # their patch (class) ids
    map_seqs: dict  # test sequences cut to map_patches: the collapse map's matching mAP
    table_seqs: dict  # test sequences cut to table_patches: the retrieval table
    pairs: dict  # verification pairs on table_seqs
    keep: dict  # retrieval: which reference patches may be drawn
    provenance: dict


def task_scores(desc: dict, data: PatchData, cfg, prefix: str = "") -> dict[str, float]:
    """The benchmark's three tasks on ``desc`` (descriptors of ``data.table_seqs``), flat: matching
    mAP per difficulty and mean; verification AP (imbalanced) inter / intra and ROC AUC (balanced),
    means over difficulties; retrieval mAP per pool, mean over difficulties."""
    from dml_utils import hpatches as hp

    out = {f"{prefix}matching_{k}": v for k, v in hp.matching_map(desc).items()}
    ver = hp.verification_ap(desc, data.pairs)
    for kind in ("inter", "intra"):
        out[f"{prefix}verification_ap_{kind}"] = float(np.mean([ver[d][kind]["ap"] for d in ver]))
        out[f"{prefix}verification_auc_{kind}"] = float(np.mean([ver[d][kind]["auc"] for d in ver]))
    ret = hp.retrieval_map(desc, cfg.retrieval_queries, tuple(cfg.retrieval_pools), keep=data.keep)
    for pool in cfg.retrieval_pools:
        out[f"{prefix}retrieval_{pool}"] = float(np.mean([ret[d][pool] for d in ret]))
    return out


def map_settings(cfg) -> list[tuple[str, Setting]]:
    """The collapse map's cells as (group, setting): "grid" = every P × K × lr × distance variant;
    "extra" = the extra variants at the largest P × K and the highest lr; "low lr" = the low-lr
    variants at low_lr at the largest P × K; "hermans" = Hermans et al.'s own setting."""
    largest = max(cfg.pk_grid, key=lambda pk: (pk[0] * pk[1], pk[1]))
    out = [
        ("grid", make_setting(cfg, pk, lr, v))
        for v in cfg.distance_variants
        for pk in cfg.pk_grid
        for lr in cfg.lr_grid
    ]
    out += [
        ("extra", make_setting(cfg, largest, max(cfg.lr_grid), v))
        for v in cfg.extra_variants
        if v not in cfg.distance_variants
    ]
    out += [("low lr", make_setting(cfg, largest, cfg.low_lr, v)) for v in cfg.low_lr_variants]
    if cfg.hermans_setting:
        out.append(("hermans", make_setting(cfg, (HERMANS["p"], HERMANS["k"]), HERMANS["lr"], HERMANS["variant"])))
    seen, unique = set(), []
    for group, s in out:
        if s not in seen:
            seen.add(s)
            unique.append((group, s))
    return unique


def _row(r: dict, s: Setting, group: str) -> dict[str, Any]:
    return {
        "group": group,
        "pk": _pk(s),
        "p": s.p,
        "k": s.k,
        "lr": s.lr,
        "variant": variant_of(s),
        "seed": r["seed"],
        "collapsed": bool(r["collapsed"]),
        "collapsed_at": r["collapsed_at"],
        "reason": r["reason"],
        "loss_step0": r["step_loss"][0],
        "final_loss": r["final_loss"],
        "final_spread": r["final_spread"],
        "collapsed_at_end": spread_collapsed(r["final_spread"]),
        "ms_per_iteration": r["ms_per_iteration"],
    }


def _trace(r: dict) -> dict[str, list]:
    return {
        "loss": r["step_loss"],
        "steps": [m["step"] for m in r["monitor"]],
        "spread": [m["spread"] for m in r["monitor"]],
        "collapsed_at": r["collapsed_at"],
        "growth": r.get("growth"),
    }


def map_plan(cfg) -> list[RunSpec]:
    """The collapse map's runs: every cell of ``map_settings`` × seed."""
    return [
        RunSpec.of(cfg.notebook, "collapse map", seed, {"group": group, **asdict(s)}, iterations=cfg.iterations)
        for group, s in map_settings(cfg)
        for seed in cfg.seeds
    ]


def settle_plan(cfg) -> list[RunSpec]:
    """The runs that check whether the map's outcomes are settled: every cell of ``settle_cells``
    ([P, K, lr]) × distance variant × seed, ``settle_factor`` × the map's iterations. A run draws the
    same initial weights and batches as the map's run of its seed (the sampler's stream does not
    depend on the length), so its first ``iterations`` steps are the map's run."""
    return [
        RunSpec.of(
            cfg.notebook,
            "collapse map",
            seed,
            {"group": "settled", **asdict(make_setting(cfg, (p, k), lr, v))},
            iterations=cfg.iterations * cfg.settle_factor,
        )
        for p, k, lr in cfg.settle_cells
        for v in cfg.distance_variants
        for seed in cfg.seeds
    ]


def _setting(spec: RunSpec) -> Setting:
    return Setting(**{f.name: spec[f.name] for f in fields(Setting)})


def map_run(cfg, data: PatchData, spec: RunSpec) -> dict[str, Any]:
    """One run of the collapse map, scored: its row and its trace."""
    s = _setting(spec)
    r = run(
        data.x,
        data.y,
        s,
        spec.seed,
        spec["iterations"],
        every=cfg.monitor_every,
        window=cfg.pinned_window,
        probe=cfg.probe,
        embedding_size=cfg.embedding_size,
    )
    row = _row(r, s, spec["group"])
    row.update(_scores(r["model"], data, cfg, s.normalize, table=table_scored(cfg, spec["group"], s)))
    return {"row": row, "trace": _trace(r)}


def table_scored(cfg, group: str, s: Setting) -> bool:
    """Whether a map run is scored on the benchmark's three tasks too (the retrieval table): Hermans
    et al.'s setting, the low-lr runs, and, when the grid spans learning rates, its lowest lr at its
    largest P × K (the settings meant not to collapse, at the batch that collapses most)."""
    largest = max(cfg.pk_grid, key=lambda pk: (pk[0] * pk[1], pk[1]))
    lowest = len(cfg.lr_grid) > 1 and group == "grid" and s.lr == min(cfg.lr_grid) and [s.p, s.k] == list(largest)
    return group in ("hermans", "low lr") or lowest


def _scores(model, data: PatchData, cfg, normalize: bool, table: bool) -> dict[str, float]:
    """Matching mAP on the map's test patches ("map_"), and with ``table`` the three tasks on the
    table's ("table_"); the map's patches are a prefix of the table's, so one forward pass serves both."""
    from dml_utils import hpatches as hp

    out = {}
    if table:
        desc = descriptors(model, data.table_seqs, cfg.patch_size, normalize)
        out.update(task_scores(desc, data, cfg, "table_"))
        if all(data.map_seqs[n].n <= data.table_seqs[n].n for n in data.map_seqs):
            short = {n: {t: d[: data.map_seqs[n].n] for t, d in desc[n].items()} for n in data.map_seqs}
            return {**{f"map_{k}": v for k, v in hp.matching_map(short).items()}, **out}
    desc = descriptors(model, data.map_seqs, cfg.patch_size, normalize)
    return {**{f"map_{k}": v for k, v in hp.matching_map(desc).items()}, **out}


def progressive_plan(cfg) -> list[RunSpec]:
    """Progressive growth along ``schedule`` and the large start at its last P × K, for every
    progressive variant × seed, at ``lr`` for ``progressive_iterations`` steps."""
    return [
        RunSpec.of(
            cfg.notebook,
            "progressive",
            seed,
            {"start": start, "variant": v, "lr": cfg.lr, "schedule": cfg.schedule},
            iterations=cfg.progressive_iterations,
        )
        for v in cfg.progressive_variants
        for seed in cfg.seeds
        for start in ("progressive", "large start")
    ]


def progressive_spec_run(cfg, data: PatchData, spec: RunSpec) -> dict[str, Any]:
    """One run of the progressive plan, scored on the retrieval table's patches: its row and trace."""
    start, schedule, n, seed = spec["start"], [tuple(pk) for pk in spec["schedule"]], spec["iterations"], spec.seed
    first = make_setting(cfg, schedule[0] if start == "progressive" else schedule[-1], spec["lr"], spec["variant"])
    if start == "progressive":
        r = progressive_run(
            data.x,
            data.y,
            schedule,
            spec["lr"],
            seed,
            n,
            first.soft,
            first.squared,
            first.normalize,
            cfg.margin,
            window=cfg.pinned_window,
            every=cfg.monitor_every,
            probe=cfg.probe,
            embedding_size=cfg.embedding_size,
            growth_window=cfg.growth_window,
        )
    else:
        r = run(
            data.x,
            data.y,
            first,
            seed,
            n,
            every=cfg.monitor_every,
            window=cfg.pinned_window,
            probe=cfg.probe,
            embedding_size=cfg.embedding_size,
        )
        r["growth"] = [(0, (first.p, first.k))]
    row = _row(r, first, start)
    row.update(
        {
            "growth": "; ".join(f"{p}×{k} at step {step}" for step, (p, k) in r["growth"]),
            "final_pk": "×".join(map(str, r["growth"][-1][1])),
        }
    )
    if start == "progressive":
        row["pk"] = " → ".join(f"{p}×{k}" for p, k in schedule)
    row.update(_scores(r["model"], data, cfg, first.normalize, table=True))
    return {"row": row, "trace": _trace(r)}
