"""One source for every number a reader sees: README's results section is what
scripts/readme_results.py writes from results/*.json, and a notebook's verdict prose cites only
numbers that its own outputs print, at the same rounding."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import scripts_under_test

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
APPROX = re.compile(r"≈\d+(?:\.\d+)?")
DECIMAL = re.compile(r"(?<![\w.])[-−+]?\d+\.\d+(?:e[-−+]?\d+)?(?![\d])")


def _readme_script():
    return scripts_under_test.load("readme_results")


def test_readme_results_section_is_generated_from_the_results():
    script = _readme_script()
    readme = (ROOT / "README.md").read_text()
    assert script.rewrite(readme, script.section()) == readme, (
        "README.md is stale: run `python scripts/readme_results.py`"
    )


def test_readme_section_quotes_every_claim_of_every_results_file():
    text = (ROOT / "README.md").read_text()
    for path in sorted((ROOT / "results").glob("[0-9][0-9]_*.json")):
        for claim in json.loads(path.read_text())["claims"]:
            assert claim["ours"].replace("|", "\\|") in text, (path.name, claim["claim"])


def _numbers(text: str) -> set[str]:
    return {m.group(0).lstrip("+−-") for m in DECIMAL.finditer(text)}


def _outputs(nb) -> str:
    parts = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stdout":
                parts.append("".join(out["text"]))
            for kind in ("text/plain", "text/html"):
                parts.append("".join(out.get("data", {}).get(kind, "")))
    return "\n".join(parts)


def verdict_cells(nb) -> list[str]:
    """The Markdown cells from the "## Verdict" heading to the end."""
    cells = [("".join(c["source"]), c["cell_type"]) for c in nb["cells"]]
    start = next(
        (i for i, (src, kind) in enumerate(cells) if kind == "markdown" and src.startswith("## Verdict")), None
    )
    return [] if start is None else [src for src, kind in cells[start:] if kind == "markdown"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_verdict_prose_cites_only_printed_numbers(path):
    nb = json.loads(path.read_text())
    prose = verdict_cells(nb)
    assert prose, f"{path.name} has no '## Verdict' cell"
    printed = _numbers(_outputs(nb))
    missing = sorted(n for cell in prose for n in _numbers(cell) if n not in printed)
    assert not missing, f"{path.name}: the verdict cites numbers no output prints (at that rounding): {missing}"
    estimates = set(APPROX.findall(_outputs(nb)))  # "≈23 seeds": integers a decimal matcher does not see
    stale = sorted(n for cell in prose for n in APPROX.findall(cell) if n not in estimates)
    assert not stale, f"{path.name}: the verdict cites estimates no output prints: {stale}"


def test_the_number_matcher_respects_rounding():
    assert _numbers("MAP@R 0.433 vs 0.44, p = 0.002, −0.18 pt, 1e-11, m = 0.5") == {
        "0.433",
        "0.44",
        "0.002",
        "0.18",
        "0.5",
    }
    assert "0.43" not in _numbers("0.433")


def test_a_second_checks_verdicts_get_their_own_column(tmp_path):
    claim = {
        "id": "a-beats-b",
        "claim": "A beats B",
        "kind": "ranking",
        "reported": "r",
        "ours": "o",
        "verdict": "inconclusive",
    }
    doc = {
        "notebook": "06_one_protocol",
        "profile": "default",
        "config": {"seeds": [0, 1]},
        "claims": [
            claim,
            {**claim, "id": "c-beats-d", "claim": "C beats D"},
            {**claim, "id": "e-is-f", "claim": "E is F", "kind": "identity", "verdict": "reproduced"},
        ],
        "second_check": {  # found by its id though its text was reworded since
            "name": "fashion-mnist",
            "verdicts": [{"id": "a-beats-b", "claim": "A beats B (old words)", "verdict_other": "reproduced"}],
        },
    }
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "06_one_protocol.json").write_text(json.dumps(doc))
    text = _readme_script().section(tmp_path)
    assert "| claim | kind | reported | ours | verdict | verdict on fashion-mnist (second check) |" in text
    assert (
        "| A beats B | ranking | r | o | **inconclusive** | reproduced |" in text
        and "| C beats D | ranking | r | o | **inconclusive** | — |" in text
    )
    assert "By kind of claim: identity 1: 1 *reproduced*; ranking 2: 2 *inconclusive*." in text
    assert "Family of claims: not recorded" in text  # no claim carries its p


def test_the_family_line_names_what_holm_moves(tmp_path):
    rows = [
        {"id": "a", "verdict": "reproduced", "p": 0.03, "p_adjusted": 0.06, "adjusted": "inconclusive"},
        {"id": "b", "verdict": "reproduced", "p": 0.04, "p_adjusted": 0.06, "adjusted": "inconclusive"},
        {"id": "c", "verdict": "not reproduced", "how": "equivalent", "p": None, "adjusted": "not reproduced"},
    ]
    text = _readme_script()._family(rows)
    assert "2 verdicts rest on a test of no difference" in text and "≈0.1 of them" in text
    assert "moves 2: `a` reproduced → inconclusive (p 0.03, adjusted 0.06); `b`" in text
    assert _readme_script()._family(rows[2:]).endswith("moves none.")


def test_a_truncated_results_file_stops_the_readme_script_with_its_name(tmp_path, capsys, monkeypatch):
    script = _readme_script()
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "01_x.json").write_text('{"notebook": "01_x", "config": {')
    (tmp_path / "README.md").write_text((ROOT / "README.md").read_text())
    monkeypatch.setattr(script, "ROOT", tmp_path)
    before = (tmp_path / "README.md").read_text()
    assert script.main([]) == 2
    assert "the committed results" in capsys.readouterr().err and (tmp_path / "README.md").read_text() == before
