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
