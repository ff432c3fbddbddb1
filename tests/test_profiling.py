"""The run breakdown of issue 50: outermost sections timed, patches restored."""

import time

import pytest

from dml_utils import profiling


class Work:
    def outer(self):
        time.sleep(0.02)
        return self.inner() + 1

    def inner(self):
        time.sleep(0.03)
        return 1

    @staticmethod
    def alone():
        time.sleep(0.01)
        return 3


TARGETS = {"outer": [(Work, "outer")], "inner": [(Work, "inner")], "alone": [(Work, "alone")]}


def test_a_call_nested_in_another_section_counts_for_the_outer_one():
    w = Work()
    with profiling.sections(TARGETS, profiling.Timers()) as timers:
        assert w.outer() == 2 and w.inner() == 1 and Work.alone() == 3
    assert timers.seconds["outer"] == pytest.approx(0.05, abs=0.015)  # its own sleep and the nested inner call
    assert timers.seconds["inner"] == pytest.approx(0.03, abs=0.015)  # the direct call only
    assert timers.calls == {"outer": 1, "inner": 1, "alone": 1}


def test_sections_restore_what_they_wrapped_even_after_an_error():
    before, static = Work.__dict__["inner"], Work.__dict__["alone"]
    with (
        pytest.raises(RuntimeError),
        profiling.sections({"inner": [(Work, "inner"), (Work, "inner")]}, profiling.Timers()),
    ):
        assert Work.__dict__["inner"] is not before
        raise RuntimeError("a failing run")
    assert Work.__dict__["inner"] is before and Work.__dict__["alone"] is static
    with (
        pytest.raises(TypeError, match="section 'x'"),
        profiling.sections({"x": [(Work, "__doc__")]}, profiling.Timers()),
    ):
        pass
    assert Work.__doc__ is None


def test_profile_call_splits_the_timed_wall_time():
    def run():
        Work().outer()
        time.sleep(0.01)  # outside every section

    out = profiling.profile_call(run, TARGETS)
    assert out["plain_s"] > 0.055 and out["overhead"] == pytest.approx(1.0, abs=0.3)
    assert set(out["seconds"]) == {"outer", profiling.BETWEEN}
    assert out["seconds"][profiling.BETWEEN] == pytest.approx(0.01, abs=0.01)
    assert sum(out["seconds"].values()) == pytest.approx(out["timed_s"])
    assert sum(profiling.shares(out["seconds"]).values()) == pytest.approx(1.0)
