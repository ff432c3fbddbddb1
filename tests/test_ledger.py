"""The run ledger's records (dml_utils.ledger): keyed by what a run is, filed by where it ran,
append-only, and refused when damaged, edited, incomplete or misplaced."""

import json
import math

import pytest

from dml_utils.ledger import (
    LedgerConflict,
    LedgerError,
    float_path_id,
    make_record,
    read_record,
    record_path,
    records,
    run_key,
    write_record,
)

IDENTITY = {
    "notebook": "06_one_protocol",
    "spec": {"kind": "final", "seed": 3, "setting": {"method": "triplet", "lr": 1e-3}},
    "inputs": {"iterations": 2000, "eval_every": 100},
    "data": "d" * 40,
    "code": "c" * 20,
}
HERE = {
    "torch_cpu_capability": "AVX512",
    "float_path_env": {"ATEN_CPU_CAPABILITY": None},
    "threads": 2,
    "libraries": {"torch": "2.14.1", "numpy": "2.4.6"},
    "cpu_model": "AMD EPYC",
    "seconds": 31.5,
    "seed_offset": 0,
}
SUMMARY = {"map_at_r": 0.7620515803319623, "iterations": 900, "plateaued": True, "p_at_1": math.nan}


def test_the_key_is_what_the_run_is_and_the_file_name_adds_where_it_ran(tmp_path):
    rec = make_record(IDENTITY, SUMMARY, HERE)
    assert rec["key"] == run_key(IDENTITY)  # where it ran and what it gave are not in the key
    assert run_key(IDENTITY) == make_record(IDENTITY, {"other": 1}, {**HERE, "seconds": 9.0, "cpu_model": "x"})["key"]
    assert run_key({**IDENTITY, "code": "e" * 20}) != rec["key"]  # other code: another run
    # the CPU's name and the seconds change no number: the same float path
    assert float_path_id(HERE) == float_path_id({**HERE, "cpu_model": "Intel", "seconds": 99})
    assert float_path_id({**HERE, "torch_cpu_capability": "DEFAULT"}) != float_path_id(HERE)
    path = write_record(tmp_path, rec)
    assert path == record_path(tmp_path, rec) and path.parent.parent.name == "06_one_protocol"
    assert path.name == f"{rec['key']}.{float_path_id(HERE)}.json"
    back = read_record(path)
    assert back["summary"]["map_at_r"] == SUMMARY["map_at_r"] and math.isnan(back["summary"]["p_at_1"])
    with pytest.raises(ValueError, match="missing \\['code'\\]"):
        run_key({k: v for k, v in IDENTITY.items() if k != "code"})


def test_records_are_append_only_and_a_second_float_path_sits_beside_the_first(tmp_path):
    first = write_record(tmp_path, make_record(IDENTITY, SUMMARY, HERE))
    before = first.read_bytes()
    again = write_record(tmp_path, make_record(IDENTITY, dict(SUMMARY), {**HERE, "seconds": 40.0}))
    assert again == first and first.read_bytes() == before  # the same run again: kept as it was
    other = {**HERE, "torch_cpu_capability": "DEFAULT", "float_path_env": {"ATEN_CPU_CAPABILITY": "default"}}
    beside = write_record(tmp_path, make_record(IDENTITY, {**SUMMARY, "map_at_r": 0.7621}, other))
    assert beside != first and beside.parent == first.parent
    both = records(tmp_path, "06_one_protocol", run_key(IDENTITY))
    assert sorted(r["where"]["torch_cpu_capability"] for r in both) == ["AVX512", "DEFAULT"]
    with pytest.raises(LedgerConflict, match=r"recorded with another summary.*0\.7620515803319623.*0\.5"):
        write_record(tmp_path, make_record(IDENTITY, {**SUMMARY, "map_at_r": 0.5}, HERE))
    assert first.read_bytes() == before


def test_two_slices_filling_one_ledger_write_different_files(tmp_path):
    a = write_record(tmp_path, make_record(IDENTITY, SUMMARY, HERE))
    b = write_record(tmp_path, make_record({**IDENTITY, "spec": {**IDENTITY["spec"], "seed": 4}}, SUMMARY, HERE))
    assert a != b and a.exists() and b.exists()
    assert not list(tmp_path.rglob("*.tmp"))  # no partial file left


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda t: t.replace("0.7620515803319623", "0.7620515803319624"), "does not match its content digest"),
        (lambda t: t.replace('"seed": 3', '"seed": 5'), "does not match its content digest"),
        (lambda t: t[: len(t) // 2], "cannot be read"),
        (lambda t: json.dumps({k: v for k, v in json.loads(t).items() if k != "summary"}), r"lacks \['summary'\]"),
        (lambda t: "[1, 2]", "is a JSON list"),
        (lambda t: json.dumps({**json.loads(t), "format": 99}), "has format 99"),
    ],
)
def test_a_damaged_or_edited_record_is_refused_with_its_file_named(tmp_path, damage, match):
    path = write_record(tmp_path, make_record(IDENTITY, SUMMARY, HERE))
    path.write_text(damage(path.read_text()))
    with pytest.raises(LedgerError, match=match) as err:
        read_record(path)
    assert str(path) in str(err.value)
    with pytest.raises(LedgerError):  # nor does writing over it go through
        write_record(tmp_path, make_record(IDENTITY, SUMMARY, HERE))


def test_a_record_filed_under_another_runs_name_is_refused(tmp_path):
    path = write_record(tmp_path, make_record(IDENTITY, SUMMARY, HERE))
    moved = path.with_name("0" * 24 + "." + path.name.split(".", 1)[1])
    path.rename(moved)
    with pytest.raises(LedgerError, match="filed under another run's name"):
        read_record(moved)


# ---------------------------------------------------------------- a plan filling and reading the ledger
TRAINED: list[int] = []  # seeds _scored trained, in this process


def _scored(cfg, data, spec):
    import numpy as np
    import torch

    TRAINED.append(spec.seed)
    return {"map_at_r": float(torch.rand(1)) * spec["scale"], "n": np.int64(len(data)), "curve": [{"i": 0}]}


def _plan(n=4):
    from dml_utils.runs import RunSpec

    return [RunSpec.of("06_one_protocol", "final", seed, {"scale": 1.0}) for seed in range(n)]


def _cfg(root, profile="smoke"):
    from dataclasses import replace

    from dml_utils.studies import config

    return replace(config("06_one_protocol", "smoke", root=root), profile=profile)


def test_a_fill_records_every_run_and_a_second_fill_trains_nothing(tmp_path):
    from dml_utils.ledger import Ledger
    from dml_utils.runs import run_plan

    cfg, data = _cfg(tmp_path), [1, 2, 3]
    TRAINED.clear()
    first = run_plan(_plan(), _scored, cfg=cfg, data=data, cache=False, ledger=Ledger(tmp_path, "fill"), progress=False)
    files = sorted((tmp_path / "results" / "ledger" / "06_one_protocol").rglob("*.json"))
    assert TRAINED == [0, 1, 2, 3] and len(files) == 4
    assert all(read_record(f)["where"]["seconds"] >= 0 for f in files)
    TRAINED.clear()
    again = run_plan(_plan(), _scored, cfg=cfg, data=data, cache=False, ledger=Ledger(tmp_path, "fill"), progress=False)
    assert TRAINED == [] and list(again.values()) == list(first.values())  # the same numbers, from the records
    assert all(entry["ledger"]["this_float_path"] for entry in again.log)
    # other data: other runs, trained and filed beside
    run_plan(_plan(2), _scored, cfg=cfg, data=[1, 2], cache=False, ledger=Ledger(tmp_path, "fill"), progress=False)
    assert TRAINED == [0, 1] and len(list((tmp_path / "results" / "ledger").rglob("*.json"))) == 6


def test_a_fill_stops_cleanly_at_its_budget_and_slices_split_the_runs(tmp_path):
    from dml_utils.ledger import Ledger, LedgerStop
    from dml_utils.runs import run_plan

    cfg, data = _cfg(tmp_path), [1]
    TRAINED.clear()
    spent = Ledger(tmp_path, "fill", budget_min=1e-9)  # spent before the first run starts
    with pytest.raises(LedgerStop, match="4 runs left .* the same command continues"):
        run_plan(_plan(), _scored, cfg=cfg, data=data, cache=False, ledger=spent, progress=False)
    assert TRAINED == []
    halves = []
    for i in (0, 1):
        TRAINED.clear()
        try:
            run_plan(
                _plan(),
                _scored,
                cfg=cfg,
                data=data,
                cache=False,
                ledger=Ledger(tmp_path, "fill", part=(i, 2)),
                progress=False,
            )
        except LedgerStop:
            pass
        halves.append(set(TRAINED))
    assert halves[0].isdisjoint(halves[1]) and halves[0] | halves[1] == {0, 1, 2, 3}
    TRAINED.clear()  # both slices filled: the whole plan reads from the ledger
    run_plan(
        _plan(), _scored, cfg=cfg, data=data, cache=False, ledger=Ledger(tmp_path, "fill", part=(0, 2)), progress=False
    )
    assert TRAINED == []


def test_only_the_deciding_profiles_read_the_ledger_unasked(tmp_path, monkeypatch):
    from dml_utils.ledger import LEDGER_ENV, Ledger

    monkeypatch.delenv(LEDGER_ENV, raising=False)
    assert Ledger.from_env(tmp_path, "default") is None and Ledger.from_env(tmp_path, "smoke") is None
    assert Ledger.from_env(tmp_path, "full").mode == "read" and Ledger.from_env(tmp_path, "paper").mode == "read"
    monkeypatch.setenv(LEDGER_ENV, "read")
    assert Ledger.from_env(tmp_path, "default").mode == "read"
    monkeypatch.setenv(LEDGER_ENV, "keep")
    with pytest.raises(ValueError, match="DML_LEDGER must be one of"):
        Ledger.from_env(tmp_path, "full")
    monkeypatch.setenv(LEDGER_ENV, "fill")
    monkeypatch.setenv("DML_LEDGER_SLICE", "2/2")
    with pytest.raises(ValueError, match="0 <= i < n, got 2/2"):
        Ledger.from_env(tmp_path, "full")


def test_a_result_the_ledger_cannot_keep_as_it_is_is_refused_by_name():
    import numpy as np

    from dml_utils.ledger import summary_of

    assert summary_of({"a": np.float64(0.5), "b": [1, 2]}, "x") == {"a": 0.5, "b": [1, 2]}
    with pytest.raises(LedgerError, match="run final seed 0: its result does not read back"):
        summary_of({"pair": (1, 2)}, "final seed 0")
    with pytest.raises(LedgerError, match="cannot be a ledger record"):
        summary_of({"w": np.zeros(3)}, "final seed 0")


BUMP: list[float] = [0.0]  # added to every score _drifting gives: a change the code digest does not see


def _drifting(cfg, data, spec):
    return {"map_at_r": 0.5 + spec.seed / 10 + BUMP[0]}


def test_an_audit_retrains_a_seeded_sample_and_names_a_record_it_does_not_reproduce(tmp_path, capsys):
    from dml_utils.ledger import AuditFailed, Ledger
    from dml_utils.runs import run_plan

    cfg, data = _cfg(tmp_path), [1]
    BUMP[0] = 0.0
    run_plan(_plan(), _drifting, cfg=cfg, data=data, cache=False, ledger=Ledger(tmp_path, "fill"), progress=False)
    out = run_plan(
        _plan(), _drifting, cfg=cfg, data=data, cache=False, ledger=Ledger(tmp_path, "audit", audit=2), progress=False
    )
    printed = capsys.readouterr().out
    assert "auditing 2 of 4 runs read from the ledger (drawn with seed 0)" in printed
    assert printed.count(": equal to its record (float path") == 2 and out[_plan()[3]]["map_at_r"] == 0.8
    BUMP[0] = 1e-12  # the same code and data, another number: the audit must catch it
    with pytest.raises(AuditFailed, match="2 of 2 audited records failed: .*recorded .*map_at_r.*; now "):
        run_plan(
            _plan(),
            _drifting,
            cfg=cfg,
            data=data,
            cache=False,
            ledger=Ledger(tmp_path, "audit", audit=2),
            progress=False,
        )
    BUMP[0] = 0.0


def test_an_audit_on_another_float_path_reports_the_difference_and_passes(tmp_path, capsys):
    from dml_utils.ledger import audit_verdict

    rec = make_record(IDENTITY, {"map_at_r": 0.70, "curve": [0.5, 0.6]}, HERE)
    other = float_path_id({**HERE, "torch_cpu_capability": "DEFAULT"})
    ok, line = audit_verdict("final seed 3", rec, {"map_at_r": 0.72, "curve": [0.5, 0.6]}, other)
    assert ok and "largest relative difference 0.02" in line and "acts as another seed" in line
    ok, line = audit_verdict("final seed 3", rec, {"map_at_r": 0.72, "curve": [0.5, 0.6]}, rec["where"]["float_path"])
    assert not ok and "differs from its record on the same float path" in line


def test_a_runs_timings_are_not_part_of_what_it_computed(tmp_path):
    """The same run trained again takes other milliseconds: neither a conflict nor a failed audit."""
    from dml_utils.ledger import audit_verdict

    timed = {**SUMMARY, "summary": {"ms_per_iteration": 14.08, "train_seconds": 30.1}}
    first = write_record(tmp_path, make_record(IDENTITY, timed, HERE))
    retimed = {**SUMMARY, "summary": {"ms_per_iteration": 14.75, "train_seconds": 31.9}}
    assert write_record(tmp_path, make_record(IDENTITY, retimed, HERE)) == first
    rec = read_record(first)
    ok, line = audit_verdict("final seed 3", rec, retimed, rec["where"]["float_path"])
    assert ok and "equal to its record" in line
    ok, line = audit_verdict("final seed 3", rec, {**retimed, "iterations": 901}, rec["where"]["float_path"])
    assert not ok
    other = float_path_id({**HERE, "torch_cpu_capability": "DEFAULT"})
    ok, line = audit_verdict("final seed 3", rec, {**retimed, "map_at_r": 0.7620515803319623}, other)
    assert ok and "largest relative difference 0 " in line  # not the 5 % of the step time
