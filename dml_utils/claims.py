"""Claims: each a row with a stable id, a kind, what the report said, what we measured and a verdict
by a rule fixed before the runs; the claims table every notebook ends with, its formatting, a
notebook's claims as one family (Holm), and verdicts set beside another run's. The statistics the
rules use are ``stats``'s; results files and their provenance are ``results``'s."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from .stats import (
    detectable_effect,
    finite_values,
    paired_binary,
    paired_interval,
    share_interval,
    zero_p,
)

# "no resolution": the proxy a ranking was decided on failed its ruler (too little headroom over the
# floor, or a control ordered wrong), so its interval says nothing about the methods (issue 47)
VERDICTS = ("reproduced", "not reproduced", "inconclusive", "no resolution", "not testable here")


# how a claim is *not reproduced* (issue 47): the opposite was shown; the two sides are the same within the
# claim's equivalence margin; or what the claim says occurs did not occur in any run
HOWS = ("reversed", "equivalent", "not observed")


# what a claim is, declared with it before the runs that decide it (issue 47: identities and closed forms are
# counted apart from replications; issue 51's kinds). A row names its kind with ``of_kind``
KINDS = {
    "replication": "a measured effect (the report's, or one we add), decided by its rule on runs",
    "identity": "an identity or closed form (a count, a formula, an exact property), checked by computing it",
    "existence": "that something occurs (a NaN, a collapse), decided by whether a run shows it",
    "ranking": "one method or setting scores above another on a proxy, judged under the proxy's ruler",
}


CLAIM_ID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*(/[a-z0-9]+(-[a-z0-9]+)*)*")  # words joined by "-", parts by "/"


def with_id(claim_id: str, row: dict[str, str]) -> dict[str, str]:
    """``row`` with its stable id (issue 51): lowercase words joined by "-" (a claim asked per
    dataset, metric or scale adds its part after "/"). Whatever refers to a claim (06's rankings,
    the cross-CPU verdicts, the README) uses the id, never the claim's text, so rewording a claim
    loses nothing; ``claims_table`` refuses a row without one or an id used twice."""
    if not isinstance(claim_id, str) or not CLAIM_ID.fullmatch(claim_id):
        raise ValueError(
            f"claim id {claim_id!r}: lowercase words joined by '-' (parts by '/'), e.g. 'circle-beats-triplet'"
        )
    return {**row, "id": claim_id}


def slug(text: str) -> str:
    """``text`` as a part of a claim id: lowercase letters and digits, runs of anything else as one "-"."""
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")


def of_kind(kind: str, row: dict[str, str]) -> dict[str, str]:
    """``row`` declared a claim of ``kind`` (one of ``KINDS``)."""
    if kind not in KINDS:
        raise ValueError(f"claim kind {kind!r} is not one of {tuple(KINDS)}")
    return {**row, "kind": kind}


def interval_how(ci: dict[str, float], margin: float = 0.0) -> str:
    """How an interval verdict is *not reproduced* (``interval_verdict``, claimed side > 0):
    *equivalent* when the interval lies inside ±``margin``, else *reversed* (it lies below 0)."""
    if margin > 0 and -margin <= ci["lo"] and ci["hi"] <= margin:
        return "equivalent"
    if ci["hi"] < 0:
        return "reversed"
    raise ValueError(f"the interval [{ci['lo']:g}, {ci['hi']:g}] does not decide 'not reproduced' at margin {margin:g}")


# Equivalence margins: a paired difference whose whole 95 % interval lies inside ±margin is "no
# difference" (a claim of "A beats B" is then not reproduced). One per metric, each the size of an
# effect too small to matter for that metric, and at most half the smallest effect a report claims.
EQUIVALENCE_MARGINS: dict[str, tuple[float, str]] = {
    "map_at_r": (
        0.01,
        "1 point of MAP@R: below the spread of reruns of one method in 'A Metric Learning Reality Check'",
    ),
    "accuracy": (0.0025, "0.25 points of pair accuracy: half the smallest gap report 003 gives (97.76 vs 97.26 %)"),
    "distance": (0.01, "0.01 in embedding distance: half report 003's positive-pair gap (0.030 vs 0.052)"),
    "collapse_share": (
        0.1,
        "a tenth of the runs: a difference of collapse rates smaller than one run in ten is no difference",
    ),
    "recall": (0.01, "1 point of Recall@K: fewer than one query in a hundred answered differently"),
    "f1": (0.01, "1 point of clustering F1, as for Recall@K"),
    "hpatches_map": (0.01, "1 point of HPatches mAP: below the gaps between the descriptors the benchmark paper ranks"),
}


def mean_std(values, digits: int = 3, scale: float = 1.0) -> str:
    """'m ± s (n=k)' over seeds."""
    v = np.asarray(values, dtype=float) * scale
    if len(v) == 1:
        return f"{v[0]:.{digits}f} (n=1)"
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f} (n={len(v)})"


def interval_verdict(ci: dict[str, float], margin: float = 0.0) -> str:
    """For a claim that the difference is > 0: *reproduced* when the interval excludes 0 on the
    claimed side; *not reproduced* when it excludes 0 on the other side, or lies inside ±margin
    (equivalence); *inconclusive* otherwise (one seed included: no interval)."""
    lo, hi = ci["lo"], ci["hi"]
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "inconclusive"
    if lo > 0:
        return "reproduced"
    if hi < 0 or (margin > 0 and -margin <= lo and hi <= margin):
        return "not reproduced"
    return "inconclusive"


def format_interval(ci: dict[str, float], digits: int = 3, scale: float = 1.0, unit: str = "") -> str:
    if ci["n"] < 2:
        return f"{ci['mean'] * scale:+.{digits}f}{unit} (n=1: no interval)"
    return f"{ci['mean'] * scale:+.{digits}f}{unit}, 95 % CI [{ci['lo'] * scale:+.{digits}f}, {ci['hi'] * scale:+.{digits}f}] (n={ci['n']})"


def _margin(metric: str | float | tuple[float, str]) -> tuple[float, str]:
    """The equivalence margin and its reason: a metric's (``EQUIVALENCE_MARGINS``), a number stated
    with the claim, or a (number, reason) pair a study fixed in its parameters."""
    if isinstance(metric, tuple):
        return float(metric[0]), str(metric[1])
    if isinstance(metric, str):
        if metric not in EQUIVALENCE_MARGINS:
            raise ValueError(
                f"no equivalence margin for {metric!r}; known: {sorted(EQUIVALENCE_MARGINS)} (or pass a number, 0 for none)"
            )
        return EQUIVALENCE_MARGINS[metric]
    return float(metric), "stated with the claim" if metric else ""


def interval_claim(
    claim: str,
    reported: str,
    diffs,
    metric: str | float,
    ours: str = "",
    label: str = "difference",
    lower_wins: bool = False,
    digits: int = 3,
    scale: float = 1.0,
    unit: str = "",
    why: str = "",
) -> dict[str, str]:
    """A claims-table row for a claim that ``diffs`` (one independent value per seed) are > 0, or
    < 0 with ``lower_wins``; the verdict is interval_verdict's at the equivalence margin of ``metric``
    (a name in EQUIVALENCE_MARGINS, or a number; 0: no margin). The interval is printed in ``ours``."""
    d = finite_values(diffs, repr(claim))
    margin, margin_why = _margin(metric)
    ci = paired_interval(d)
    directed = paired_interval(-d if lower_wins else d)
    verdict = interval_verdict(directed, margin)
    text = f"{ours}; " if ours else ""
    text += f"{label} = {format_interval(ci, digits, scale, unit)}{' (lower wins)' if lower_wins else ''}"
    reasons = [why] if why else []
    reasons.append(
        f"equivalence margin ±{margin * scale:g}{unit} ({margin_why})" if margin > 0 else "no equivalence margin"
    )
    detectable = detectable_effect(ci["n"], ci["sd"])
    if np.isfinite(detectable):
        reasons.append(
            f"n={ci['n']} detects |{label}| ≥ {detectable * scale:.{digits}f}{unit} (80 % power at this spread)"
        )
    if verdict == "inconclusive" and np.isfinite(ci["seeds_needed"]):
        reasons.append(f"an effect of this size would need ≈{ci['seeds_needed']:.0f} seeds (80 % power)")
    row = {"claim": claim, "reported": reported, "ours": text, "verdict": verdict, "why": "; ".join(reasons)}
    row["p"] = zero_p(d)  # the test its interval inverts: the row is in its notebook's family (``family_adjusted``)
    return row | ({"how": interval_how(directed, margin)} if verdict == "not reproduced" else {})


def paired_claim(
    claim: str,
    reported: str,
    a: str,
    a_values,
    b: str,
    b_values,
    metric: str | float,
    scale: float = 1.0,
    digits: int = 3,
    unit: str = "",
    lower_wins: bool = False,
) -> dict[str, str]:
    """A claims-table row for "a beats b", values paired by seed (same initial weights and batches);
    with lower_wins, beating means lower. ``metric``: the equivalence margin (see interval_claim)."""
    a_values, b_values = finite_values(a_values, f"{a} in {claim!r}"), finite_values(b_values, f"{b} in {claim!r}")
    if a_values.shape != b_values.shape:
        raise ValueError(f"paired values need one per seed on each side; got {a_values.shape} and {b_values.shape}")
    diff = a_values - b_values
    wins = int(((-diff if lower_wins else diff) > 0).sum())
    ours = (
        f"{a} {mean_std(a_values, digits, scale)}{unit} vs {b} {mean_std(b_values, digits, scale)}{unit}; "
        f"{a} ahead on {wins}/{len(diff)} seeds"
    )
    return interval_claim(claim, reported, diff, metric, ours, f"{a} − {b}", lower_wins, digits, scale, unit)


def binary_verdict(test: dict[str, Any]) -> str:
    """For a claim that the outcome is more frequent under ``a``: *reproduced* when the exact test
    rejects equality on the claimed side, *not reproduced* when it rejects on the other side,
    *inconclusive* otherwise."""
    if test["p"] < 1 - test["level"]:
        return "reproduced" if test["only_a"] > test["only_b"] else "not reproduced"
    return "inconclusive"


def binary_claim(
    claim: str, reported: str, a: str, a_outcomes, b: str, b_outcomes, outcome: str, why: str = ""
) -> dict[str, str]:
    """A claims-table row for "``outcome`` happens more often under ``a`` than under ``b``", outcomes
    (booleans) paired by seed: each share with its exact interval, the discordant seeds, and the
    verdict of the exact McNemar test. An inconclusive row says how many discordant seeds a
    decision needs at least."""
    test = paired_binary(a_outcomes, b_outcomes)
    sa, sb = share_interval(test["a"], test["n"]), share_interval(test["b"], test["n"])
    ours = (
        f"{outcome}: {a} {sa['k']}/{sa['n']} (95 % CI [{sa['lo']:.2f}, {sa['hi']:.2f}]) vs {b} {sb['k']}/{sb['n']} "
        f"(95 % CI [{sb['lo']:.2f}, {sb['hi']:.2f}]); seeds where only {a}: {test['only_a']}, only {b}: "
        f"{test['only_b']}; exact McNemar p = {test['p']:.3g}"
    )
    verdict = binary_verdict(test)
    reasons = [why] if why else []
    reasons.append("binary outcome per seed: exact test on the discordant seeds, exact (Clopper–Pearson) shares")
    need, m = test["discordant_needed"], test["only_a"] + test["only_b"]
    if test["n"] < need:
        reasons.append(
            f"{test['n']} pairs cannot decide at 95 % whatever they show: an exact test needs {need} discordant "
            f"pairs, all one way"
        )
    else:
        reasons.append(f"{test['n']} pairs can decide a difference in share of {need}/{test['n']} or more")
        if verdict == "inconclusive":
            reasons.append(f"a decision needs at least {need} discordant pairs, all one way (here {m})")
    row = {"claim": claim, "reported": reported, "ours": ours, "verdict": verdict, "why": "; ".join(reasons)}
    row["p"] = test["p"]  # exact McNemar: the row is in its notebook's family (``family_adjusted``)
    return row | ({"how": "reversed"} if verdict == "not reproduced" else {})  # decided on the other side


def claims_table(rows: list[dict[str, str]]):
    """A DataFrame with columns id (``with_id``: one per claim), claim, kind (one of ``KINDS``),
    reported, ours, verdict, how (how a *not reproduced* verdict failed, one of ``HOWS``; empty for
    every other verdict) and why; then the table as one family (``family_adjusted``): p, p_adjusted
    and the adjusted verdict."""
    import pandas as pd

    rows = [_with_how(r) for r in rows]
    ids = [r.get("id") for r in rows]
    for r in rows:
        if not isinstance(r.get("id"), str) or not CLAIM_ID.fullmatch(r["id"]):
            raise ValueError(f"{r['claim']!r} has id {r.get('id')!r}: give it a stable one with results.with_id")
        if ids.count(r["id"]) > 1:
            raise ValueError(f"claim id {r['id']!r} is used by {ids.count(r['id'])} claims; an id names one claim")
        if r.get("kind") not in KINDS:
            raise ValueError(
                f"{r['claim']!r} has kind {r.get('kind')!r}: declare one of {tuple(KINDS)} with results.of_kind"
            )
        if r["verdict"] not in VERDICTS:
            raise ValueError(f"verdict {r['verdict']!r} is not one of {VERDICTS}")
        how = r.get("how", "")
        if r["verdict"] == "not reproduced" and how not in HOWS:
            raise ValueError(f"{r['claim']!r} is not reproduced: say how, one of {HOWS} (got {how!r})")
        if r["verdict"] != "not reproduced" and how:
            raise ValueError(f"{r['claim']!r} reads {r['verdict']!r}: only 'not reproduced' has a how ({how!r})")
    rows = family_adjusted([{**r, "how": r.get("how", "")} for r in rows])
    return pd.DataFrame(rows, columns=[*CLAIM_COLUMNS, *FAMILY_COLUMNS])


CLAIM_COLUMNS = ("id", "claim", "kind", "reported", "ours", "verdict", "how", "why")


# the notebook's family of tested claims (``family_adjusted``): the p of "no difference", Holm's adjusted
# p, and the verdict once the family's error rate is controlled
FAMILY_COLUMNS = ("p", "p_adjusted", "adjusted")


def _with_how(row: dict[str, str]) -> dict[str, str]:
    """``row`` with its *not reproduced* kind settled: a row built by hand states, under "how_if_not",
    what its rule shows when it fails (``HOWS``); that becomes its "how" only when it failed."""
    row = dict(row)
    fallback = row.pop("how_if_not", "")
    if row["verdict"] == "not reproduced" and not row.get("how"):
        row["how"] = fallback
    return row


def verdict_text(verdict: str, how: str = "") -> str:
    """A verdict with its kind when it has one: "not reproduced (reversed)"."""
    return f"{verdict} ({how})" if how else verdict


def format_claims(table) -> str:
    """Plain text, one block per claim: stable to compare (nbval) and readable in any viewer."""
    lines = []
    for i, r in enumerate(table.itertuples(index=False), 1):
        lines += [
            f"[{i}] {r.claim}",
            f"    id:       {r.id}",
            f"    kind:     {r.kind}",
            f"    reported: {r.reported}",
            f"    ours:     {r.ours}",
            f"    verdict:  {verdict_text(r.verdict, getattr(r, 'how', ''))}" + (f" ({r.why})" if r.why else ""),
        ]
        if getattr(r, "adjusted", r.verdict) != r.verdict:
            lines.append(
                f"    adjusted: {r.adjusted} (p = {r.p:.3g}; Holm over the notebook's {_tested(table)} tested "
                f"claims: {r.p_adjusted:.3g})"
            )
    return "\n".join(lines)


def _tested(table) -> int:
    return int(np.isfinite(table["p"].astype(float)).sum()) if "p" in table else 0


def claims_outline(table) -> str:
    """What a claims table asks and in which terms, without the measured numbers or the verdicts
    they give: the columns, each claim with what was reported, and whether every verdict is one of
    VERDICTS. No CPU can change it, so nbval checks it (the numbers are checked in pytest)."""
    lines = [
        f"columns: {', '.join(c for c in table.columns if c not in FAMILY_COLUMNS)}",
        f"verdicts drawn from: {', '.join(VERDICTS)}",
        f"every verdict is one of them: {bool(table['verdict'].isin(VERDICTS).all())}",
    ]
    for i, r in enumerate(table.itertuples(index=False), 1):
        lines += [f"[{i}] {r.claim}", f"    id:       {r.id}", f"    kind:     {r.kind}", f"    reported: {r.reported}"]
    return "\n".join(lines)


def equivalence_claim(
    claim: str, reported: str, log_ratios, tolerance: float, ours: str = "", why: str = ""
) -> dict[str, str]:
    """A row for a claim that two costs are the same: ``log_ratios`` (one per independent repeat)
    estimate log(A / B). *reproduced* when the 95 % interval of the ratio lies within
    [1/(1 + tolerance), 1 + tolerance]; *not reproduced* when it lies wholly outside that band;
    *inconclusive* otherwise."""
    ci = paired_interval(finite_values(log_ratios, repr(claim)))
    bound = float(np.log1p(tolerance))
    if not (np.isfinite(ci["lo"]) and np.isfinite(ci["hi"])):
        verdict = "inconclusive"
    elif -bound <= ci["lo"] and ci["hi"] <= bound:
        verdict = "reproduced"
    elif ci["lo"] > bound or ci["hi"] < -bound:
        verdict = "not reproduced"
    else:
        verdict = "inconclusive"
    text = (f"{ours}; " if ours else "") + (
        f"ratio {np.exp(ci['mean']):.3f}, 95 % CI [{np.exp(ci['lo']):.3f}, {np.exp(ci['hi']):.3f}] "
        f"over {ci['n']} interleaved repeats"
    )
    reasons = ([why] if why else []) + [f"the same = the ratio's interval within ±{tolerance:.0%}"]
    row = {"claim": claim, "reported": reported, "ours": text, "verdict": verdict, "why": "; ".join(reasons)}
    return row | ({"how": "reversed"} if verdict == "not reproduced" else {})  # shown to differ


def beats_baselines_claim(claim: str, trained: dict[str, Any], untrained, raw: float, metric: str) -> dict[str, str]:
    """A row for "every trained net beats the untrained network (same seed: same initial weights)
    and raw pixels": per net, the per-seed margin over the better baseline with its 95 % interval.
    *reproduced* when every net's interval is above 0, *not reproduced* when any net's is below 0
    or inside the equivalence margin, *inconclusive* otherwise."""
    untrained = finite_values(untrained, f"the untrained baseline in {claim!r}")
    raw = float(finite_values([raw], f"the raw-pixel baseline in {claim!r}")[0])
    margin, margin_why = _margin(metric)
    parts, verdicts, hows, ps = [], [], [], []
    for name, values in trained.items():
        v = finite_values(values, f"{name} in {claim!r}")
        if v.shape != untrained.shape:
            raise ValueError(
                f"{name}: one value per seed, as the untrained baseline ({untrained.shape}), got {v.shape}"
            )
        ci = paired_interval(v - np.maximum(untrained, raw))
        verdicts.append(interval_verdict(ci, margin))
        if verdicts[-1] == "not reproduced":
            hows.append(interval_how(ci, margin))
        ps.append((zero_p(v - np.maximum(untrained, raw)), hows[-1] if verdicts[-1] == "not reproduced" else ""))
        parts.append(f"{name} {v.mean():.3f}: {format_interval(ci)}")
    verdict = (
        "reproduced"
        if all(v == "reproduced" for v in verdicts)
        else "not reproduced"
        if "not reproduced" in verdicts
        else "inconclusive"
    )
    ours = (
        f"untrained {untrained.mean():.3f}, raw pixels {raw:.3f}; margin over the better baseline, per seed: "
        + "; ".join(parts)
    )
    row = {
        "claim": claim,
        "kind": "ranking",  # trained nets above the baselines, on a proxy
        "reported": "not reported",
        "ours": ours,
        "verdict": verdict,
        "why": f"every net must be above both; equivalence margin ±{margin:g} ({margin_why})",
        # every net must pass (an intersection–union test): the claim's p is the largest of the nets'; a
        # claim reversed by some net is decided by the smallest p among the reversed ones
        "p": _union_p(ps),
    }
    return row | ({"how": "reversed" if "reversed" in hows else "equivalent"} if hows else {})


def _union_p(nets: list[tuple[float, str]]) -> float:
    """The p of ``beats_baselines_claim``'s verdict from its nets' (``zero_p``, how): reproduced only
    when every net passes (intersection–union: the largest p); reversed when a net lies below 0
    (the smallest p among those nets); NaN when a net has no p."""
    ps = [p for p, _ in nets]
    if not ps or not all(np.isfinite(ps)):
        return float("nan")
    reversed_ps = [p for p, how in nets if how == "reversed"]
    return min(reversed_ps) if reversed_ps else max(ps)


# Each notebook asks tens of claims at 95 %: when no effect exists anywhere, chance alone turns about one in
# twenty tested claims into a finding. The claims of a notebook whose verdict rests on rejecting "no
# difference" (their row carries that test's p) form its family; Holm's step-down adjustment keeps the chance
# of one or more false rejections in the family at 5 %. Holm, not Benjamini–Hochberg: every verdict here is
# read on its own (a reader quotes one claim, not the share of findings that are true), and the claims of a
# notebook share seeds and runs, so their tests are dependent, which Holm allows and BH's proof does not.
FAMILY_METHOD = "holm"


FAMILY_LEVEL = 0.95


def family_adjusted(rows: list[dict[str, Any]], level: float = FAMILY_LEVEL) -> list[dict[str, Any]]:
    """``rows`` (one notebook's claims) with ``p_adjusted`` (statsmodels' ``multipletests``, Holm,
    over the family: the rows whose "p" is finite and whose verdict their test decided, so not a
    *no resolution*, which a failed ruler decided whatever the test said; NaN elsewhere) and
    ``adjusted``: the verdict once the family's error rate is controlled. A verdict that rests on a
    rejection (*reproduced*, or *not reproduced* as *reversed*) whose adjusted p is not below
    1 − ``level`` becomes *inconclusive*; every other verdict is kept (an equivalence, an identity,
    a count without a test)."""
    from statsmodels.stats.multitest import multipletests

    rows = [dict(r) for r in rows]
    tested = [i for i, r in enumerate(rows) if _in_family(r)]
    adjusted = multipletests([float(rows[i]["p"]) for i in tested], method=FAMILY_METHOD)[1] if tested else []
    for r in rows:
        r["p"] = float(r["p"]) if _finite(r.get("p")) else float("nan")
        r["p_adjusted"] = float("nan")
    for i, q in zip(tested, adjusted):
        rows[i]["p_adjusted"] = float(q)
    for r in rows:
        rejected = r["verdict"] == "reproduced" or (r["verdict"] == "not reproduced" and r.get("how") == "reversed")
        moved = rejected and _in_family(r) and not r["p_adjusted"] < 1 - level
        r["adjusted"] = "inconclusive" if moved else r["verdict"]
    return rows


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float, np.floating, np.integer)) and bool(np.isfinite(value))


def _in_family(row: dict[str, Any]) -> bool:
    """Whether a claim's verdict was decided by its test of no difference (``family_adjusted``)."""
    return _finite(row.get("p")) and row["verdict"] in ("reproduced", "not reproduced", "inconclusive")


def family_summary(claims: list[dict[str, Any]], level: float = FAMILY_LEVEL) -> dict[str, Any]:
    """How much chance could move a notebook's verdicts: the claims tested against "no difference",
    how many of them chance alone would decide if no effect existed anywhere ((1 − level) × tested),
    and the verdicts Holm's adjustment moves (a results JSON's claims; None when they carry no p,
    i.e. were published before the family was recorded)."""
    if not any("p" in c for c in claims):
        return {"tested": None, "by_chance": None, "moved": None}
    tested = [c for c in claims if _in_family(c)]
    moved = [c["id"] for c in claims if c.get("adjusted", c["verdict"]) != c["verdict"]]
    return {"tested": len(tested), "by_chance": round((1 - level) * len(tested), 2), "moved": moved}


def claim_index(claims: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Claims keyed by their id and by their text (a file written before claims had ids is found by
    text; an id and a text cannot collide: an id has no spaces)."""
    out: dict[str, dict[str, Any]] = {}
    for c in claims:
        out[c["claim"]] = c
        if c.get("id"):
            out[c["id"]] = c
    return out


def find_claim(index: dict[str, dict[str, Any]], claim: dict[str, Any]) -> dict[str, Any] | None:
    """``claim`` (a row or a results file's claim) in ``index`` (``claim_index``): by its id, else by its text."""
    return index.get(claim.get("id") or "") or index.get(claim["claim"])


def verdicts_beside(here, there: list[dict[str, Any]], select=lambda claim: True):
    """Claim by claim (those ``select`` keeps), the verdict of this run's claims table ``here``
    beside the verdict of another design's claims ``there`` (a results JSON's "claims"), with each
    side's numbers and whether the verdict moved. A claim missing on either side is an error: two
    designs of one notebook ask the same questions."""
    import pandas as pd

    theirs = claim_index(there)
    rows = []
    for r in here.itertuples(index=False):
        if not select(r.claim):
            continue
        t = find_claim(theirs, r._asdict())
        if t is None:
            raise KeyError(f"the other design has no claim {r.claim!r}; were both made by this notebook?")
        rows.append(
            {
                "id": getattr(r, "id", None),
                "claim": r.claim,
                "verdict": r.verdict,
                "verdict_other": t["verdict"],
                "moved": r.verdict != t["verdict"],
                "ours": r.ours,
                "ours_other": t["ours"],
            }
        )
    return pd.DataFrame(rows, columns=["id", "claim", "verdict", "verdict_other", "moved", "ours", "ours_other"])


def same_verdicts_claim(claim: str, reported: str, beside, why_here: str, other: str) -> dict[str, str]:
    """A row for "this design gives the verdicts of the bigger one" from :func:`verdicts_beside`
    (``beside`` None: the other design's results are not at hand, ``why_here`` says why).
    *reproduced* when no verdict moves, *not reproduced* when any does: the verdicts are compared
    as they are, each already decided by its own rule at its own n; no second test is stacked on them."""
    if beside is None:
        return {"claim": claim, "reported": reported, "ours": "—", "verdict": "not testable here", "why": why_here}
    if beside.empty:
        raise ValueError(f"{claim!r}: no claim to compare; check the selection")
    moved = beside[beside["moved"]]
    ours = f"{len(beside) - len(moved)} of {len(beside)} verdicts the same"
    if len(moved):
        ours += "; moved: " + "; ".join(
            f"{r.claim} ({r.verdict} here, {r.verdict_other} with {other})" for r in moved.itertuples(index=False)
        )
    return {
        "claim": claim,
        "reported": reported,
        "ours": ours,
        "verdict": "not reproduced" if len(moved) else "reproduced",
        "why": f"every verdict decided by its own rule in both designs and compared as it is; the other: {why_here}",
    } | ({"how": "reversed"} if len(moved) else {})


def claim_key(text: str) -> str:
    """A claim's text with its numbers blanked: a claim that names its data's size ("400 unseen
    classes") is the same question on the data's new size."""
    import re

    return re.sub(r"\d+(\.\d+)?", "#", text)


def before_after(
    rows: list[tuple[str, str, Any, Any]],
    claims_before: list[dict[str, Any]],
    claims_now,
    labels: tuple[str, str] = ("first layout (two labels per point)", "now (one label)"),
):
    """A table of this run beside an earlier one: ``rows`` (what, row, before, now) first, then each
    claim of the claims table ``claims_now`` with its verdict before (matched by its id, or, in a run
    written before ids, by its text with the numbers blanked; "—" when the earlier run did not ask
    it) and now, and whether it moved;
    ``labels`` name the two columns."""
    import pandas as pd

    before = {claim_key(c["claim"]): c["verdict"] for c in claims_before}
    by_id = {c["id"]: c["verdict"] for c in claims_before if c.get("id")}  # an earlier run that had ids: by id

    def shown(x):
        return f"{x:.3f}" if isinstance(x, float) else x

    out = [(what, row, shown(a), shown(b)) for what, row, a, b in rows]
    for c in claims_now.itertuples(index=False):
        was = by_id.get(getattr(c, "id", None)) or before.get(claim_key(c.claim), "—")
        out.append(("verdict", c.claim, was, c.verdict))
    table = pd.DataFrame(out, columns=["what", "row", *labels])
    verdicts = table["what"] == "verdict"
    table["moved"] = ""
    table.loc[verdicts, "moved"] = [
        "yes" if a not in (b, "—") else "" for a, b in table.loc[verdicts, table.columns[2:4]].itertuples(index=False)
    ]
    return table
