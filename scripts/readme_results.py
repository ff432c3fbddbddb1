"""Write README.md's results section from results/*.json (and results/cross_cpu_verdicts.json).

    python scripts/readme_results.py          # rewrite the section between the markers
    python scripts/readme_results.py --check  # exit 1 when README.md differs from what this writes

Every number a reader sees in that section comes from a results JSON; tests/test_readme.py fails
when README.md and this script disagree.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN = "<!-- BEGIN results: written by scripts/readme_results.py from results/*.json; do not edit by hand -->"
END = "<!-- END results -->"


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _title(notebook: str) -> str:
    nb = json.loads((ROOT / "notebooks" / f"{notebook}.ipynb").read_text())
    first = "".join(nb["cells"][0]["source"]).splitlines()[0]
    return first.lstrip("# ").strip()


def section(root: Path = ROOT) -> str:
    """The results section: one table per notebook, claim by claim, as its results JSON has it."""
    sys.path.insert(0, str(ROOT))
    from dml_utils.claims import claim_index, find_claim
    from dml_utils.results import read_json

    cross_path = root / "results" / "cross_cpu_verdicts.json"
    cross = read_json(cross_path, "the cross-CPU verdicts") if cross_path.exists() else {}
    out = [BEGIN]
    total = moved = flipped = 0
    words: dict[str, int] = {}
    hows: dict[str, int] = {}
    everything: list[dict] = []
    for path in sorted((root / "results").glob("[0-9][0-9]_*.json")):
        doc = read_json(path, "the committed results")
        name, cfg = doc["notebook"], doc["config"]
        seeds = cfg.get("seeds")
        sources = "; ".join(f"{d['name']}: {d['source']}" for d in doc.get("data", []))
        other = cross.get(name)
        out += [
            "",
            f"### {_title(name)}",
            f"Profile `{doc['profile']}`, seeds {seeds}; data: {sources}. Numbers: [`results/{path.name}`](results/{path.name}).",
            "",
        ]
        header = ["claim", "kind", "reported", "ours", "verdict"]
        other_verdicts = {}
        if other:
            header.append(f"verdict with {other['setting']}")
            other_verdicts = claim_index(other["claims"])
        check = doc.get("second_check") or {}
        check_verdicts = claim_index(check.get("verdicts") or [])
        if check_verdicts:  # notebook 06: the same protocol on a second dataset (results/checks/)
            header.append(f"verdict on {check['name']} (second check)")
        out += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for c in doc["claims"]:
            row = [
                c["claim"],
                c.get("kind", "—"),
                c["reported"],
                c["ours"],
                f"**{c['verdict']}**" + (f" ({c['how']})" if c.get("how") else ""),
            ]
            if other:
                theirs = (find_claim(other_verdicts, c) or {"verdict": "—"})["verdict"]
                row.append(theirs)
                total += 1
                moved += theirs != c["verdict"]
                flipped += {theirs, c["verdict"]} == {"reproduced", "not reproduced"}
            if check_verdicts:
                row.append((find_claim(check_verdicts, c) or {"verdict_other": "—"})["verdict_other"])
            out.append("| " + " | ".join(_cell(x) for x in row) + " |")
        here = _count([c["verdict"] for c in doc["claims"]])
        kinds = _count([c["how"] for c in doc["claims"] if c.get("how")])
        out += ["", f"Verdicts: {_words(here, kinds)}.", "", f"By kind of claim: {_by_kind(doc['claims'])}."]
        out += ["", _family(doc["claims"])]
        everything += doc["claims"]
        for word, n in here.items():
            words[word] = words.get(word, 0) + n
        for how, n in kinds.items():
            hows[how] = hows.get(how, 0) + n
    out += ["", f"All notebooks: {_words(words, hows)}.", "", f"By kind of claim: {_by_kind(everything)}."]
    if total:
        out += [
            "",
            f"On the other float path {moved} of {total} verdicts moved; {flipped} flipped between *reproduced* "
            f"and *not reproduced*.",
            "",
        ]
    out.append(END)
    return "\n".join(out)


def _family(claims: list[dict]) -> str:
    """One notebook's claims as a family (``results.family_summary``): how many rest on a test of
    "no difference", how many of those chance alone would decide at 95 %, and what Holm's
    adjustment moves (raw and adjusted verdict side by side)."""
    sys.path.insert(0, str(ROOT))
    from dml_utils.claims import family_summary

    fam = family_summary(claims)
    if fam["tested"] is None:
        return "Family of claims: not recorded (published before the p of each test was kept; republish to add it)."
    text = (
        f"Family of claims: {fam['tested']} verdicts rest on a test of no difference; if no effect existed, "
        f"chance alone would decide ≈{fam['by_chance']:g} of them at 95 %. Holm's adjustment over them "
    )
    if not fam["moved"]:
        return text + "moves none."
    by_id = {c["id"]: c for c in claims}
    moved = "; ".join(
        f"`{i}` {by_id[i]['verdict']} → {by_id[i]['adjusted']} (p {by_id[i]['p']:.3g}, adjusted {by_id[i]['p_adjusted']:.3g})"
        for i in fam["moved"]
    )
    return text + f"moves {len(fam['moved'])}: {moved}."


def _count(verdicts: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in verdicts:
        out[v] = out.get(v, 0) + 1
    return out


def _by_kind(claims: list[dict]) -> str:
    """The verdicts counted per kind of claim (``results.KINDS``: identities and closed forms apart
    from replications, existence claims and rankings), in the vocabulary's order."""
    sys.path.insert(0, str(ROOT))
    from dml_utils.claims import KINDS

    groups: dict[str, list[dict]] = {}
    for c in claims:
        groups.setdefault(c.get("kind", "kind not stated"), []).append(c)
    order = [k for k in KINDS if k in groups] + sorted(set(groups) - set(KINDS))
    return "; ".join(
        f"{k} {len(groups[k])}: "
        + _words(_count([c["verdict"] for c in groups[k]]), _count([c["how"] for c in groups[k] if c.get("how")]))
        for k in order
    )


def _words(counts: dict[str, int], hows: dict[str, int] | None = None) -> str:
    """Counts by verdict word, in the vocabulary's order (``results.VERDICTS``); *not reproduced*
    split by how (``results.HOWS``: reversed, equivalent, not observed) when ``hows`` counts them."""
    sys.path.insert(0, str(ROOT))
    from dml_utils.claims import HOWS, VERDICTS

    order = [v for v in VERDICTS if v in counts] + sorted(set(counts) - set(VERDICTS))
    parts = []
    for v in order:
        text = f"{counts[v]} *{v}*"
        if v == "not reproduced" and hows:
            text += " (" + ", ".join(f"{hows[h]} {h}" for h in HOWS if h in hows) + ")"
        parts.append(text)
    return ", ".join(parts)


def rewrite(readme: str, new_section: str) -> str:
    if BEGIN not in readme or END not in readme:
        raise SystemExit(f"README.md has no results markers; add the lines\n{BEGIN}\n{END}")
    head, rest = readme.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return head + new_section + tail


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    readme = ROOT / "README.md"
    text = readme.read_text()
    sys.path.insert(0, str(ROOT))
    from dml_utils.results import ResultsFileError

    try:
        new = rewrite(text, section(ROOT))
    except ResultsFileError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.check:
        if new != text:
            print(
                "README.md's results section differs from results/*.json; run: python scripts/readme_results.py",
                file=sys.stderr,
            )
            return 1
        return 0
    readme.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
