"""Notebook 06: every loss of the five reports under one protocol. Each method's hyperparameters
(and Adam's learning rate) are tuned with the same budget of trials on validation classes carved
out of the training classes; each method's best setting is then trained with every seed on all
training classes and scored on the unseen classes; each report's ranking claim is decided paired by
seed, beside the verdict of that report's own notebook.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dml_utils import class_disjoint
from dml_utils.claims import beats_baselines_claim, claims_table, paired_claim, verdicts_beside, with_id
from dml_utils.class_disjoint import RetrievalData, patch_retrieval_data
from dml_utils.config import Config, ConfigError
from dml_utils.evaluate import ONE_PROTOCOL
from dml_utils.methods import method, search_space
from dml_utils.progress import bar
from dml_utils.results import check_results
from dml_utils.retrieval_run import baselines as _baselines
from dml_utils.ruler import NO_RESOLUTION, Rule, judged, measure_with_controls, run_controls
from dml_utils.ruler import format_ruler as _format_ruler
from dml_utils.runs import run_plan
from dml_utils.stats import paired_interval
from dml_utils.tuning import best_setting, tune

from .parameters import CHECKS, DATASETS, RULER, Ruler
from .plan import final_data, final_plan, final_run, folds, trial_plan, trial_run
from .plan_controls import control_plan, control_run
from .schema import LABELS, METRICS  # noqa: F401  (the notebook reads op.METRICS)


def prepare(cfg: Config) -> RetrievalData:
    """The data of ``cfg.dataset``: the many-class patches (``class_disjoint.patch_retrieval_data``),
    or Fashion-MNIST / a report's image folder (``class_disjoint.prepare``: balanced training
    classes, held-out images of them, the unseen classes). The folds are checked here, before any
    run: each must hold out >= 2 classes and keep >= ``classes_per_batch`` to train on, and so must
    the finals' validation fold (1 of ``final_val_folds``)."""
    if cfg.dataset not in DATASETS:
        raise ConfigError(f"dataset {cfg.dataset!r}: notebook 06 runs on {DATASETS}")
    if cfg.dataset == "patches":
        data = patch_retrieval_data(cfg.patch_per_sequence)
    else:
        data = class_disjoint.prepare(replace(cfg, values={**cfg.values, "imbalance_ratio": 1}))
    try:
        folds(cfg, data)
    except ValueError as err:
        raise ConfigError(f"{cfg.dataset}: {err}") from None
    try:
        final_data(cfg, data)
    except ValueError as err:
        raise ConfigError(
            f"{cfg.dataset}: the finals' validation classes (final_val_folds={cfg.final_val_folds}): {err}"
        ) from None
    return data


def data_check(data: RetrievalData) -> dict[str, Any]:
    """The data looked at before any ranking (``data_audit.audit``): groups of identical images that
    carry two labels within or across the splits (the training images and the held-out views of
    their classes share class ids; the unseen classes are their own), the nearest other class per
    split, and the ceiling: what a perfect embedding of the unseen images scores under the protocol
    (identical images given one vector: no net can do better)."""
    from dml_utils.data_audit import audit, ceiling

    out = audit(
        {
            "training": (data.x_train, data.y_train),
            "held-out views": (data.x_val, data.y_val),
            "unseen": (data.x_test, data.y_test),
        },
        same_classes=[{"training", "held-out views"}],
    )
    out["ceiling"] = ceiling(ONE_PROTOCOL, data.y_test, data.x_test)
    return out


def format_data_check(check: dict[str, Any]) -> str:
    lines = [
        f"identical images with two labels: {check['conflicts']} groups ({check['classes_in_conflict']} classes)",
        "ceiling (the best embedding of the unseen images any net could give): "
        + ", ".join(f"{k} {v:.3f}" for k, v in check["ceiling"].items()),
    ]
    for name, row in check["per_split"].items():
        lines.append(
            f"{name}: {row['classes']} classes; nearest other class: class means cosine {row['max_class_mean_cosine']:.3f}, "
            f"images cosine {row['max_image_cosine']:.3f}"
        )
    return "\n".join(lines)


def baselines(cfg: Config, data: RetrievalData) -> pd.DataFrame:
    """The untrained net (each final seed's initial weights) and raw pixels, scored like the finals."""
    return pd.DataFrame(_baselines(cfg, data, ONE_PROTOCOL))


# ---------------------------------------------------------------- tuning
def tune_method(cfg: Config, data: RetrievalData, name: str, pbar=None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``cfg.trials`` settings of ``name`` drawn by the seeded TPE sampler in rounds of
    ``cfg.per_round``; each setting's score is its mean validation MAP@R over the folds (NaN when a
    fold's run diverged: a failed trial). Returns the best setting and one row per trial."""
    space = search_space(name, cfg.tune_lr)
    rows: list[dict[str, Any]] = []

    def evaluate(settings):
        plan = trial_plan(cfg, name, settings)
        done = list(run_plan(plan, trial_run, cfg=cfg, data=data, desc=f"{name}: trials", progress=False).values())
        values = []
        for i, setting in enumerate(settings):
            runs = done[i * cfg.folds : (i + 1) * cfg.folds]
            scores = [r.get("val_map_at_r", math.nan) for r in runs]
            value = float(np.mean(scores))
            values.append(value)
            rows.append(
                {
                    "method": name,
                    "trial": len(rows),
                    "setting": dict(setting),
                    "val_map_at_r": value,
                    "fold_scores": scores,
                    "diverged": sum(bool(r["diverged"]) for r in runs),
                }
            )
        if pbar is not None:
            pbar.update(len(settings))
        return values

    study = tune(space, evaluate, cfg.trials, cfg.tune_seed, cfg.per_round, name)
    return best_setting(study), rows


def tune_all(cfg: Config, data: RetrievalData, progress: bool = True) -> tuple[dict[str, dict[str, Any]], pd.DataFrame]:
    """Every method tuned with the same budget: best settings by method, and the trials table."""
    best, rows = {}, []
    with bar(total=len(cfg.methods) * cfg.trials, desc="tuning (trials)", disable=not progress) as pbar:
        for name in cfg.methods:
            pbar.set_postfix_str(name)
            best[name], trials = tune_method(cfg, data, name, pbar)
            rows += trials
    return best, pd.DataFrame(rows)


def tuning_table(best: dict[str, dict[str, Any]], trials: pd.DataFrame) -> pd.DataFrame:
    """Per method: its best setting, that setting's validation MAP@R, the worst and the median
    finished trial (how much tuning moved the score) and the trials that diverged."""
    rows = []
    for name, g in trials.groupby("method", sort=False):
        ok = g["val_map_at_r"].to_numpy(dtype=float)
        ok = ok[np.isfinite(ok)]
        rows.append(
            {
                "method": name,
                "best setting": ", ".join(f"{k}={v:.3g}" for k, v in best[name].items()),
                "best val MAP@R": float(ok.max()) if len(ok) else math.nan,
                "median": float(np.median(ok)) if len(ok) else math.nan,
                "worst": float(ok.min()) if len(ok) else math.nan,
                "trials": len(g),
                "diverged": int((g["diverged"] > 0).sum()),
            }
        )
    return pd.DataFrame(rows)


def search_spaces(cfg: Config) -> pd.DataFrame:
    """What each method tunes, over which range, and what it keeps fixed (the notebook prints it)."""
    rows = []
    for name in cfg.methods:
        m = method(name)
        for key, dist in search_space(name, cfg.tune_lr).items():
            rows.append(
                {
                    "method": name,
                    "hyperparameter": key,
                    "low": dist.low,
                    "high": dist.high,
                    "log": dist.log,
                    "fixed": ", ".join(f"{k}={v}" for k, v in m.fixed.items()),
                }
            )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- finals
def finals(
    cfg: Config, data: RetrievalData, best: dict[str, dict[str, Any]], progress: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each method at its best setting, every seed, trained to its plateau (``plan.final_run``);
    scores on the unseen classes at the best validation checkpoint. Returns one row per final and
    the learning curves (method, seed, iteration, validation MAP@R, and the unseen classes' MAP@R
    at that check, recorded only: nothing is chosen on it)."""
    done = list(
        run_plan(final_plan(cfg, best), final_run, cfg=cfg, data=data, desc="finals", progress=progress).values()
    )
    curves = [{"method": r["method"], "seed": r["seed"], **row} for r in done for row in r.get("curve", [])]
    rows = [{k: v for k, v in r.items() if k != "curve"} for r in done]
    return pd.DataFrame(rows), pd.DataFrame(
        curves, columns=["method", "seed", "iteration", "val_map_at_r", "test_map_at_r"]
    )


def plateau_table(finals: pd.DataFrame, curves: pd.DataFrame) -> pd.DataFrame:
    """Per method: how many finals plateaued, where they stopped and which checkpoint was scored
    (medians over seeds), the unseen MAP@R at that checkpoint and at the last check, and what the
    best check of the unseen curve would have given (``peak``: chosen on the test set, so never a
    score, only how much checkpoint selection on validation classes leaves)."""
    rows = []
    for name, g in finals.groupby("method", sort=False):
        c = curves[curves["method"] == name]
        last = c.loc[c.groupby("seed")["iteration"].idxmax(), "test_map_at_r"] if len(c) else pd.Series(dtype=float)
        peak = c.groupby("seed")["test_map_at_r"].max() if len(c) else pd.Series(dtype=float)
        ok = g[~g["diverged"].astype(bool)]
        rows.append(
            {
                "method": name,
                "plateaued": f"{int(ok['plateaued'].astype(bool).sum())}/{len(g)}" if "plateaued" in g else "—",
                "stopped at": float(ok["iterations"].median()) if len(ok) else math.nan,
                "best checkpoint": float(ok["best_iteration"].median()) if len(ok) else math.nan,
                "MAP@R at checkpoint": float(ok["map_at_r"].mean()) if len(ok) else math.nan,
                "MAP@R at last check": float(last.mean()) if len(last) else math.nan,
                "MAP@R at the unseen peak": float(peak.mean()) if len(peak) else math.nan,
            }
        )
    return pd.DataFrame(rows)


def not_plateaued(finals: pd.DataFrame) -> dict[str, int]:
    """Methods with finals that reached the most steps without meeting the plateau rule, with how
    many (a diverged final has no score: the claims leave its seed out and say so)."""
    if "plateaued" not in finals:
        return {}
    ran = ~finals["diverged"].astype(bool)
    bad = finals[ran & ~finals["plateaued"].fillna(False).astype(bool)]
    return {str(k): int(v) for k, v in bad.groupby("method").size().items()}


def tuning_curves(trials: pd.DataFrame) -> pd.DataFrame:
    """Best validation MAP@R so far against the number of trials, per method (a failed trial
    counts as a trial that found nothing): would more trials change the choice?"""
    rows = []
    for name, g in trials.groupby("method", sort=False):
        best = g.sort_values("trial")["val_map_at_r"].astype(float).fillna(-math.inf).cummax()
        for i, v in enumerate(best, start=1):
            rows.append({"method": name, "trials": i, "best_val_map_at_r": v if math.isfinite(v) else math.nan})
    return pd.DataFrame(rows)


def controls(cfg: Config, data: RetrievalData, best: dict[str, dict[str, Any]], progress: bool = True) -> pd.DataFrame:
    """The ruler's control runs (``plan_controls``): the controls' method trained 1/``control_fraction``
    of the finals' budget, and trained the full budget on shuffled training labels, every seed."""
    return run_controls(control_plan(cfg, best), control_run, cfg, data, progress)


def ruler(
    finals: pd.DataFrame,
    base: pd.DataFrame,
    ctrl: pd.DataFrame,
    data_check: dict[str, Any],
    metric: str = "map_at_r",
    rule: Ruler = RULER,
) -> dict[str, Any]:
    """The proxy measured before it ranks (``dml_utils.ruler.measure``): floor (the better of the
    untrained net and raw pixels), ceiling (``data_check``), headroom, each method's seed-to-seed
    spread beside the fixed margin, and the two controls (``plan_controls``) decided by the claims'
    own rule. ``resolves``: headroom >= ``headroom_margins`` × margin and both controls ordered
    right; else every ranking verdict on this proxy is *no resolution*."""
    return measure_with_controls(
        finals,
        finals[finals["method"] == rule.control_method],
        ctrl,
        (
            float(base.loc[base["loss"] == "untrained", metric].mean()),
            float(base.loc[base["loss"] == "raw pixels", metric].iloc[0]),
        ),
        float(data_check["ceiling"][metric]),
        Rule(rule.equivalence_margin, rule.headroom_margins, rule.control_fraction),
        metric,
        rule.control_method,
    )


def format_ruler(r: dict[str, Any]) -> str:
    return _format_ruler(r, LABELS.get(r["metric"], r["metric"]), "parameters.RULER")


def leaderboard(df: pd.DataFrame, metric: str = "map_at_r") -> pd.DataFrame:
    """Mean and 95 % t-interval of each method's ``metric`` over seeds, best first; diverged runs counted."""
    rows = []
    for name, g in df.groupby("method", sort=False):
        v = g[metric].to_numpy(dtype=float)
        ok = v[np.isfinite(v)]
        ci = paired_interval(ok) if len(ok) > 1 else {"mean": float(np.mean(ok)) if len(ok) else math.nan}
        rows.append(
            {
                "method": name,
                metric: ci["mean"],
                "lo": ci.get("lo", math.nan),
                "hi": ci.get("hi", math.nan),
                "seeds": len(v),
                "diverged": int((g["diverged"].astype(bool)).sum()),
            }
        )
    return pd.DataFrame(rows).sort_values(metric, ascending=False, ignore_index=True)


def versus_best(df: pd.DataFrame, metric: str = "map_at_r") -> pd.DataFrame:
    """Each method minus the best one (by mean ``metric``), paired by seed, with its 95 % interval:
    which methods can be told apart from the leader at this many seeds."""
    wide = df.pivot(index="seed", columns="method", values=metric)
    top = wide.mean().idxmax()
    rows = []
    for name in wide.columns:
        if name == top:
            continue
        d = (wide[name] - wide[top]).to_numpy(dtype=float)
        d = d[np.isfinite(d)]  # a seed where either final diverged has no pair
        ci = paired_interval(d) if len(d) > 1 else {"mean": math.nan, "lo": math.nan, "hi": math.nan}
        rows.append(
            {"comparison": f"{name} − {top}", "mean": ci["mean"], "lo": ci["lo"], "hi": ci["hi"], "pairs": len(d)}
        )
    return pd.DataFrame(rows).sort_values("mean", ascending=False, ignore_index=True)


# ---------------------------------------------------------------- claims
# Each report's ranking claim: (its id here, claim, a, b, where it comes from, the notebook that tested it there,
# the id of that notebook's own claim, or None when its notebook has no such claim)
RANKINGS = (
    (
        "yukawa-beats-contrastive",
        "Yukawa beats contrastive",
        "yukawa",
        "contrastive",
        "report of notebook 03 (mfmotta): Yukawa ahead on pair verification",
        "03_yukawa_vs_contrastive_mnist",
        "yukawa-better-retrieval/fashion-mnist/epoch-40",
    ),
    (
        "circle-beats-triplet",
        "circle beats triplet",
        "circle",
        "triplet",
        "report of notebook 01 (Nosrat 2022): circle gives better embeddings",
        "01_circle_vs_triplet_margin",
        "circle-better-unseen",
    ),
    (
        "npair-beats-triplet",
        "N-pair beats triplet",
        "npair",
        "triplet",
        "report of notebook 02 (Nazatto): N-pair ahead of triplet",
        "02_hdml_triplet_vs_npair",
        "npair-beats-triplet-recall/patches",
    ),
    (
        "margin-beats-triplet",
        "margin loss with distance-weighted sampling beats triplet",
        "margin",
        "triplet",
        "report of notebook 04 (Wu et al. 2017's reading notes): margin loss ahead of triplet",
        "04_sampling_matters",
        "margin-beats-triplet/unseen",
    ),
    (
        "margin-beats-contrastive",
        "margin loss with distance-weighted sampling beats contrastive",
        "margin",
        "contrastive",
        "report of notebook 04 (Wu et al. 2017's reading notes): margin loss ahead of contrastive",
        "04_sampling_matters",
        "margin-beats-contrastive/unseen",
    ),
    (
        "hdml-improves-npair",
        "HDML improves N-pair",
        "hdml_npair",
        "npair",
        "HDML paper (Zheng et al. 2019), the method of notebook 02's report (which could not run it): N-pair + HDML "
        "ahead of N-pair",
        "02_hdml_triplet_vs_npair",
        "hdml-improves-npair-recall-at-1/patches",
    ),
    (
        "hdml-improves-triplet",
        "HDML improves triplet",
        "hdml_triplet",
        "triplet_sum",
        "HDML paper (Zheng et al. 2019), the method of notebook 02's report (which could not run it): triplet + HDML "
        "ahead of triplet",
        "02_hdml_triplet_vs_npair",
        "hdml-improves-triplet-recall-at-1/patches",
    ),
    (
        "soft-beats-hard-margin",
        "batch-hard triplet: the soft margin beats the hard margin",
        "batch_hard_soft",
        "batch_hard",
        "Hermans, Beyer & Leibe 2017 (the paper behind notebook 05's report): soft margin ahead",
        "05_batch_hard_collapse",
        None,
    ),
)


def own_verdict(root: Path, notebook: str, claim_id: str | None) -> str:
    """The verdict of the claim ``claim_id`` in ``notebook``'s committed results (found by its id,
    so a reworded claim is still found), as "verdict (notebook NN)"; what is missing is said, not
    guessed."""
    if claim_id is None:
        return f"not tested in notebook {notebook[:2]}"
    path = root / "results" / f"{notebook}.json"
    if not path.exists():
        return f"notebook {notebook[:2]} has no results here (run it: make reproduce)"
    rows = [c for c in json.loads(path.read_text())["claims"] if c.get("id") == claim_id]
    if len(rows) != 1:
        return f"notebook {notebook[:2]}: {len(rows)} claims have the id {claim_id!r}"
    return f"{rows[0]['verdict']} (notebook {notebook[:2]})"


def unsettled(row: dict[str, str], still: dict[str, int], iterations: int) -> dict[str, str]:
    """A ranking claim's row when finals of its methods did not plateau (``still``: method → how
    many): *no resolution*, since a score still rising at the last step ranks a budget, not a method
    (the interval's own verdict is kept in the why); else the row unchanged."""
    if not still or row["verdict"] == NO_RESOLUTION:
        return row
    who = ", ".join(f"{m} on {n} seed(s)" for m, n in still.items())
    return {
        **{k: v for k, v in row.items() if k not in ("how", "how_if_not")},
        "verdict": NO_RESOLUTION,
        "why": f"finals did not plateau within {iterations} iterations ({who}): the interval alone would say "
        f"{row['verdict']}; " + row["why"],
    }


def _too_few(claim: str, reported: str, who: str, pairs: int, seeds: int) -> dict[str, str]:
    """The row of a claim whose finals diverged on all but ``pairs`` of ``seeds`` seeds: no interval."""
    return {
        "claim": claim,
        "kind": "ranking",
        "reported": reported,
        "ours": f"{pairs} of {seeds} seeds have finite scores for {who}",
        "verdict": "inconclusive",
        "why": "a final run diverged on the other seeds; an interval needs >= 2 pairs (lower the learning rate space "
        "or add seeds)",
    }


def claims(
    cfg: Config, df: pd.DataFrame, base: pd.DataFrame, metric: str = "map_at_r", measured: dict | None = None
) -> pd.DataFrame:
    """Each ranking claim whose two methods ran, paired by seed on the unseen classes (``metric``),
    at the equivalence margin of ``parameters.RULER``, with that report's own notebook's verdict in
    the ``why``; then "every method beats the baselines". ``measured``: the ``ruler`` of this proxy;
    when it cannot rank, a ranking's verdict is *no resolution* (the interval's own verdict is kept
    in the ``why``)."""
    wide = df.pivot(index="seed", columns="method", values=metric)
    still = not_plateaued(df)
    rows = []
    for claim_id, claim, a, b, reported, notebook, source in RANKINGS:
        if a not in wide.columns or b not in wide.columns:
            continue
        ok = np.isfinite(wide[a]) & np.isfinite(wide[b])  # a diverged final has no score
        if ok.sum() < 2:
            rows.append(with_id(claim_id, _too_few(claim, reported, f"{a} and {b}", int(ok.sum()), len(ok))))
            continue
        row = with_id(
            claim_id,
            paired_claim(
                f"{claim} (equal tuning; {LABELS.get(metric, metric)} on unseen classes)",
                reported,
                a,
                wide.loc[ok, a].to_numpy(),
                b,
                wide.loc[ok, b].to_numpy(),
                (
                    RULER.equivalence_margin,
                    f"{RULER.equivalence_margin * 100:g} point of MAP@R, fixed in parameters.RULER",
                ),
            ),
        )
        left_out = f"; {int((~ok).sum())} seed(s) left out: a final run diverged" if (~ok).any() else ""
        row["why"] = f"its own notebook: {own_verdict(cfg.root, notebook, source)}; " + row["why"] + left_out
        rows.append(unsettled(judged(row, measured), {k: v for k, v in still.items() if k in (a, b)}, cfg.iterations))
    every = wide.dropna()  # the seeds where no method's final diverged
    if len(every) < 2:
        rows.append(
            with_id(
                "beats-baselines",
                _too_few(
                    "every method, tuned, beats the baselines", "not reported", "every method", len(every), len(wide)
                ),
            )
        )
        return claims_table(rows)
    untrained = base[base["loss"] == "untrained"].set_index("seed")[metric]
    raw = float(base.loc[base["loss"] == "raw pixels", metric].iloc[0])
    rows.append(
        with_id(
            "beats-baselines",
            beats_baselines_claim(
                f"every method, tuned, beats the untrained net and raw pixels ({LABELS.get(metric, metric)}, unseen classes)",
                {m: every[m].to_numpy() for m in every.columns},
                untrained.loc[every.index].to_numpy(),
                raw,
                metric,
            ),
        )
    )
    return claims_table(rows)


# ---------------------------------------------------------------- before / after the patch layout (issue 47)
FIRST_LAYOUT = Path("results") / "before" / "06_one_protocol.shared_layout.json"
# the run on the patches with one label per point whose finals trained a fixed 400 iterations on every training
# class, scored at their last step (the run committed before the finals trained to a plateau)
FIXED_BUDGET = Path("results") / "before" / "06_one_protocol.fixed_budget.json"
BEFORE = {
    FIRST_LAYOUT: ("first layout (two labels per point)", "now (one label)"),
    FIXED_BUDGET: ("400 iterations, last step", "now (to a plateau, best checkpoint)"),
}


def before_after(
    cfg: Config,
    provenance: dict[str, Any],
    claims_now: pd.DataFrame,
    finals_now: pd.DataFrame,
    base_now: pd.DataFrame,
    earlier: Path = FIRST_LAYOUT,
):
    """This run beside a committed earlier run (``earlier``, one of ``BEFORE``: the first patch layout,
    where every point had two labels, or the finals of a fixed budget), row by row: the data's size,
    the baselines, each method's mean MAP@R and each claim's verdict. None (with why) off the
    patches at the default profile, or without that file."""
    if cfg.dataset != "patches" or cfg.profile != "default":
        return None, "the earlier runs are the default profile on the patches"
    path = cfg.root / earlier
    if not path.exists():
        return None, f"no {earlier}"
    old = json.loads(path.read_text())
    prov = old["data"][0]
    rows = [
        ("data", "training classes", prov["train_classes"], provenance["train_classes"]),
        ("data", "unseen classes", prov["unseen_classes"], provenance["unseen_classes"]),
    ]
    base_old = pd.DataFrame(old["baselines"])
    for name in ("untrained", "raw pixels"):
        rows.append(
            (
                "baseline MAP@R",
                name,
                float(base_old.loc[base_old["loss"] == name, "map_at_r"].mean()),
                float(base_now.loc[base_now["loss"] == name, "map_at_r"].mean()),
            )
        )
    fin_old = pd.DataFrame(old["finals"]).groupby("method")["map_at_r"].mean()
    fin_now = finals_now.groupby("method")["map_at_r"].mean()
    for name in fin_now.index:
        rows.append(("final MAP@R", name, float(fin_old.get(name, math.nan)), float(fin_now[name])))
    verdict_old = {c["claim"]: c["verdict"] for c in old["claims"]}
    for c in claims_now.itertuples():
        rows.append(("verdict", c.claim.split(" (")[0], verdict_old.get(c.claim, "—"), c.verdict))

    def shown(x):
        return f"{x:.3f}" if isinstance(x, float) else x

    rows = [(what, row, shown(a), shown(b)) for what, row, a, b in rows]
    table = pd.DataFrame(rows, columns=["what", "row", *BEFORE[earlier]])
    return table, f"{earlier} (commit {old.get('git_commit', '?')[:7]}, written {old.get('written_at', '?')[:10]})"


# ---------------------------------------------------------------- the second check
SECOND_CHECK = "fashion-mnist"
CHECK_COST = " (9 min here with a cold run cache when the finals had a fixed 400 iterations, 2026-12-07; longer now)"


def second_check(cfg: Config, here: pd.DataFrame) -> tuple[pd.DataFrame | None, str]:
    """This run's verdicts (its claims table ``here``) beside those of the Fashion-MNIST check (the
    same protocol on 6 training and 4 unseen Fashion-MNIST classes, ``parameters.CHECKS``), when
    this run is on the patches and the check's results were made by this code at the same seeds
    (``results.check_results``). Returns the verdicts side by side (or None) and where they come from
    or why there are none."""
    if cfg.dataset != "patches":
        return None, f"this run is on {cfg.dataset}, not the patches the check is read beside"
    doc, why = check_results(cfg, final_run.__module__, SECOND_CHECK, CHECKS[SECOND_CHECK], CHECK_COST)
    if doc is None:
        return None, why
    if doc["config"].get("seeds") != cfg.seeds:
        return None, f"{why} ran seeds {doc['config'].get('seeds')}, this run {cfg.seeds}: no pairing of verdicts"
    table = verdicts_beside(here, doc["claims"])
    table.attrs["ruler"] = doc.get("ruler")  # the check's own ruler (format_ruler): can that proxy rank?
    return table, why
