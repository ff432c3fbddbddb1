"""Every committed results file is what this checkout's code makes (issue 49: no committed result
stale against the code). A file records the code digest of each plan module of its study
(``results.plan_codes``); one that moved fails here with the command that republishes the file."""

from pathlib import Path

import pytest

from dml_utils.results import republish_command, stale_codes

ROOT = Path(__file__).resolve().parents[1]
# results/before/ holds runs of earlier designs and code kept as history (before/after tables), not this code's;
# results/cross_cpu_verdicts.json is made from verdicts, not runs (scripts/cross_cpu_verdicts.py), and
# results/code_lineage.json records which code's runs carry forward (dml_utils.lineage)
COMMITTED = sorted(
    p.relative_to(ROOT)
    for folder in ("results", "results/full", "results/checks")
    for p in (ROOT / folder).glob("*.json")
    if p.name not in ("cross_cpu_verdicts.json", "code_lineage.json")
)


def test_there_are_committed_results_to_check():
    assert {p.name for p in COMMITTED if p.parent == Path("results")} >= {
        f"{nb}.json"
        for nb in (
            "01_circle_vs_triplet_margin",
            "02_hdml_triplet_vs_npair",
            "03_yukawa_vs_contrastive_mnist",
            "04_sampling_matters",
            "05_batch_hard_collapse",
            "06_one_protocol",
        )
    }


@pytest.mark.parametrize("rel", COMMITTED, ids=str)
def test_a_committed_results_file_was_made_by_this_code(rel):
    import json

    doc = json.loads((ROOT / rel).read_text())
    stale = stale_codes(doc)
    assert not stale, (
        f"{rel} is not what this checkout makes: "
        + "; ".join(f"{m}: {old} there, {new} here" for m, (old, new) in stale.items())
        + f". Republish it: {republish_command(rel, doc)}"
    )


@pytest.mark.parametrize("rel", COMMITTED, ids=str)
def test_every_committed_claim_declares_its_kind(rel):
    """The README counts verdicts by kind (identities and closed forms apart from replications): a
    committed claim without a kind would be counted nowhere."""
    import json

    from dml_utils.results import KINDS

    doc = json.loads((ROOT / rel).read_text())
    missing = [c["claim"] for c in doc.get("claims", []) if c.get("kind") not in KINDS]
    assert not missing, f"{rel}: {len(missing)} claims without a kind (first: {missing[0]!r}). Republish it: " + (
        republish_command(rel, doc)
    )


CLAIM_IDS = ROOT / "tests" / "claim_ids.json"  # every notebook's claim ids, as committed


def test_no_claim_id_disappears_or_repeats():
    """What refers to a claim (06's rankings, the cross-CPU verdicts, the README) finds it by its id:
    an id that vanishes or repeats would silently break the reference. A change of the ids is made
    on purpose: update tests/claim_ids.json with it (and whatever refers to the old id)."""
    import json

    expected = json.loads(CLAIM_IDS.read_text())
    for rel in (p for p in COMMITTED if p.parent == Path("results")):
        doc = json.loads((ROOT / rel).read_text())
        ids = [c.get("id") for c in doc["claims"]]
        assert len(set(ids)) == len(ids), f"{rel}: an id names two claims: {sorted(i for i in ids if ids.count(i) > 1)}"
        want = expected.get(doc["notebook"], [])
        gone, new = sorted(set(want) - set(ids)), sorted(set(ids) - set(want))
        assert not gone and not new, (
            f"{rel}: claim ids gone {gone}, new {new}; if on purpose, update {CLAIM_IDS.relative_to(ROOT)} and "
            f"whatever refers to the old ids"
        )
