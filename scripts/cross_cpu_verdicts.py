"""Record the verdicts of a default-profile rerun under another float path beside the committed ones.

    ATEN_CPU_CAPABILITY=default <run every notebook at the default profile in a copy of the repository>
    python scripts/cross_cpu_verdicts.py --setting ATEN_CPU_CAPABILITY=default /path/to/copy/results

writes results/cross_cpu_verdicts.json: per notebook, the other run's verdict for each claim, and
prints every claim whose verdict moved. A notebook the folder has no rerun of keeps what the file
recorded for it (rerun one notebook, update its entry). A move between *reproduced* and *not reproduced* is a
failure (exit 1): such a verdict is noise, not a result.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OPPOSED = {frozenset({"reproduced", "not reproduced"})}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("other_results", type=Path, help="the results/ folder of the rerun")
    ap.add_argument(
        "--setting", required=True, help="what made the rerun's float path differ, e.g. ATEN_CPU_CAPABILITY=default"
    )
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from dml_utils.results import ResultsFileError, read_json

    try:
        return _compare(args, read_json)
    except ResultsFileError as err:
        sys.exit(f"error: {err}")


def _compare(args, read_json) -> int:
    from dml_utils.claims import claim_index, find_claim

    recorded = ROOT / "results" / "cross_cpu_verdicts.json"
    before = read_json(recorded, "the recorded cross-CPU verdicts") if recorded.exists() else {}
    out, flips = {}, 0
    for path in sorted((ROOT / "results").glob("[0-9][0-9]_*.json")):
        other_path = args.other_results / path.name
        if not other_path.exists():
            print(f"{path.name}: no rerun in {args.other_results}; its recorded verdicts are kept", file=sys.stderr)
            if path.stem in before:
                out[path.stem] = before[path.stem]
            continue
        ours, other = read_json(path, "the committed results"), read_json(other_path, "the rerun's results")
        if ours["config"] != other["config"]:
            sys.exit(f"{path.name}: the rerun has another config; rerun with the committed parameters")
        theirs = claim_index(other["claims"])
        rows = []
        for c in ours["claims"]:
            o = find_claim(theirs, c) or {"verdict": "—", "ours": ""}
            rows.append({"id": c.get("id"), "claim": c["claim"], "verdict": o["verdict"], "ours": o["ours"]})
            if o["verdict"] != c["verdict"]:
                bad = frozenset({c["verdict"], o["verdict"]}) in OPPOSED
                flips += bad
                print(f"{'FLIP' if bad else 'moved'} {path.stem}: {c['claim']}: {c['verdict']} -> {o['verdict']}")
        out[path.stem] = {"setting": args.setting, "machine": other.get("machine"), "claims": rows}
    (ROOT / "results" / "cross_cpu_verdicts.json").write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    print(f"{flips} verdict(s) flipped between reproduced and not reproduced")
    return 1 if flips else 0


if __name__ == "__main__":
    sys.exit(main())
