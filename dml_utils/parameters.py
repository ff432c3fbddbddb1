"""What every study's parameters share: the profile names, ``ConfigError``, the base dataclasses
(``RunParameters`` and the class-disjoint ones) and the checks of types, choices and values. Each
study's own ``Parameters`` live in its folder (``dml_utils.studies.<study>.parameters``)."""

from __future__ import annotations

import ast
import difflib
import math
import os
import types
import typing
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any, Literal

PROFILE_NAMES = ("smoke", "default", "full", "paper")

# Where data comes from and how many torch threads run: the same default for every notebook.
DATA_AND_THREADS: dict[str, Any] = {"data_root": None, "allow_download": False, "threads": 2}


class ConfigError(ValueError):
    """A parameter value that cannot work; the message says how to fix it."""


@dataclass(frozen=True)
class Range:
    """The values a numeric parameter takes, declared once with its type:
    ``embedding_size: Annotated[int, AtLeast(1)]``. ``check_types`` checks it (each element of a
    list; None passes where the type allows it), so no notebook writes an ``if`` per name."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False  # lo itself excluded (a learning rate > 0)
    why: str = ""  # said with the error: why the bound

    def example(self, whole: bool) -> float:
        """A value inside the range, for the error's "e.g.": the bound itself, or just above an open one."""
        if self.lo is None:
            return self.hi if self.hi is not None else 1
        x = self.lo + (1 if whole else 0.1 * (abs(self.lo) or 1)) if self.lo_open else self.lo
        return min(x, self.hi) if self.hi is not None else x

    def text(self) -> str:
        parts = []
        if self.lo is not None:
            parts.append(f"{'>' if self.lo_open else '>='} {_shown(self.lo)}")
        if self.hi is not None:
            parts.append(f"<= {_shown(self.hi)}")
        return " and ".join(parts)

    def holds(self, x: float) -> bool:
        if self.lo is not None and (x <= self.lo if self.lo_open else x < self.lo):
            return False
        return self.hi is None or x <= self.hi


def _shown(x: float) -> str:
    """A bound as a reader types it: a large power of two as 2**k (a seed's 2**62), else as %g."""
    if isinstance(x, int) and x >= 2**20 and x & (x - 1) == 0:
        return f"2**{x.bit_length() - 1}"
    return f"{x:g}"


def AtLeast(lo: float, why: str = "") -> Range:  # noqa: N802  (reads as a type annotation)
    return Range(lo, why=why)


def Above(lo: float, why: str = "") -> Range:  # noqa: N802
    return Range(lo, lo_open=True, why=why)


Count = Annotated[int, AtLeast(1)]  # a whole number of things: iterations, images, trials, dimensions
MAX_SEED = 2**62  # torch's generators take seeds below 2**64, and a seed shift (DML_SEED_OFFSET, at most this too) adds
Seed = Annotated[int, Range(0, MAX_SEED, why="NumPy takes no negative seed, torch none from 2**64 on, with the shift")]
Positive = Annotated[float, Above(0)]  # a learning rate, a margin, a scale: 0 trains or measures nothing


# Choices a parameter of several notebooks takes (tests/test_parameters.py checks each against the
# list the package runs on: dml_utils.data.DATASETS, dml_utils.models.BACKBONES).
Dataset = Literal["mnist", "fashion-mnist", "digits", "cub200", "cars196", "sop"]
Backbone = Literal["convnet", "resnet18"]


@dataclass(frozen=True, kw_only=True)
class RunParameters:
    """Every notebook's parameters: where data comes from, threads, seeds and the learning rate.
    A study's ``Parameters`` extends this; its annotations are the types (``Literal`` for a choice),
    its profiles are override dicts of values, and nothing else describes a parameter."""

    data_root: Path | None
    allow_download: bool
    threads: Count
    seeds: list[Seed]
    lr: Annotated[float, Above(0)]


@dataclass(frozen=True, kw_only=True)
class ClassDisjointParameters(RunParameters):
    """The class-disjoint retrieval set-up of 01 and 04."""

    dataset: Dataset
    train_classes: list[Seed] | None
    n_max: Count | None
    imbalance_ratio: Annotated[float, AtLeast(1)]
    val_per_class: Count | None
    test_per_class: Count | None
    embedding_size: Count
    backbone: Backbone
    pretrained: bool
    device: str
    iterations: Count
    eval_every: Count


@dataclass(frozen=True, kw_only=True)
class ClassBalancedParameters(ClassDisjointParameters):
    """... trained on class-balanced batches of P classes × K images (01, 04; 02 trains on tuples)."""

    classes_per_batch: Annotated[int, AtLeast(2)]  # a batch needs negatives
    samples_per_class: Annotated[int, AtLeast(2)]  # a class needs a positive pair
    batch_size: Count
    loss_eval_batches: Count


# ---------------------------------------------------------------- rules the notebooks' validate() combine
def check_seeds(v: dict[str, Any], key: str = "seeds") -> None:
    """A list of seeds: non-empty, distinct, >= 0 (NumPy's generators take no negative seed)."""
    if not v[key] or len(set(v[key])) != len(v[key]):
        raise ConfigError(f"{key} must be a non-empty list of distinct integers, got {v[key]!r}")
    if min(v[key]) < 0:
        raise ConfigError(f"{key} must be integers >= 0, got {v[key]!r}; e.g. {key} = [0, 1, 2]")


def check_run(v: dict[str, Any]) -> None:
    """Seeds, threads and learning rate: every notebook has them."""
    check_seeds(v)
    if not isinstance(v["threads"], int) or isinstance(v["threads"], bool) or v["threads"] < 1:
        raise ConfigError(f"threads must be a whole number >= 1, got {v['threads']!r}")
    if not v["lr"] > 0:
        raise ConfigError(f"lr must be > 0, got {v['lr']!r}")


def check_positive(v: dict[str, Any], keys: tuple[str, ...]) -> None:
    for key in keys:
        if not v[key] > 0:
            raise ConfigError(f"{key} must be > 0, got {v[key]}")


def check_class_balanced_batches(v: dict[str, Any]) -> None:
    """P classes × K samples per batch, and enough held-out images for the validation batches."""
    if v["samples_per_class"] < 2:
        raise ConfigError("samples_per_class must be >= 2: a class needs a positive pair")
    if v["classes_per_batch"] * v["samples_per_class"] != v["batch_size"]:
        raise ConfigError(
            f"batch_size {v['batch_size']} != classes_per_batch {v['classes_per_batch']} × samples_per_class "
            f"{v['samples_per_class']}; change one of them so that they match"
        )
    if v["val_per_class"] is not None and v["val_per_class"] < v["samples_per_class"]:
        raise ConfigError(
            f"val_per_class {v['val_per_class']} < samples_per_class {v['samples_per_class']}: the validation loss "
            "runs on class-balanced batches of held-out images; raise val_per_class or lower samples_per_class"
        )


def check_iterations(v: dict[str, Any], keys: tuple[str, ...]) -> None:
    """Training lengths counted in iterations must be whole blocks of eval_every."""
    for key in keys:
        if v[key] < v["eval_every"] or v[key] % v["eval_every"]:
            raise ConfigError(f"{key} ({v[key]}) must be a positive multiple of eval_every ({v['eval_every']})")


# ---------------------------------------------------------------- parameter types
# Read from a Parameters class's annotations. A float parameter takes an int; nothing takes a bool
# but bool (True is an int to Python); a path takes a str.


def parameter_types(cls: type) -> dict[str, Any]:
    """Each field of a Parameters dataclass with its resolved type (a declared ``Range`` stripped:
    ``parameter_ranges``)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls)}


def _ranges_in(hint: Any) -> list[Range]:
    if typing.get_origin(hint) is Annotated:
        return [m for m in hint.__metadata__ if isinstance(m, Range)] + _ranges_in(typing.get_args(hint)[0])
    return [r for a in typing.get_args(hint) for r in _ranges_in(a)]


def parameter_ranges(cls: type) -> dict[str, Range]:
    """The fields of a Parameters dataclass that declare a ``Range`` (on the value, the elements of a
    list, or the value of an ``X | None``)."""
    hints = typing.get_type_hints(cls, include_extras=True)
    out = {}
    for f in fields(cls):
        found = _ranges_in(hints[f.name])
        if found:
            out[f.name] = found[0]
    return out


def describe(hint: Any) -> str:
    """A type as the parameters cells write it: ``int``, ``list[float]``, ``dict[str, int] | None``;
    a choice (``Literal``) as the type of its values, a path as ``path``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        return " | ".join(describe(a) for a in rest) + (" | None" if len(rest) < len(args) else "")
    if origin is Literal:
        return type(args[0]).__name__
    if origin in (list, dict):
        return f"{origin.__name__}[{', '.join(describe(a) for a in args)}]"
    if hint is Path:
        return "path"
    return hint.__name__


def _fits(value: Any, hint: Any, choices: bool = True) -> bool:
    """Whether ``value`` has type ``hint``; with ``choices=False`` a Literal takes any value of its type."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a, choices) for a in args)
    if hint is type(None):
        return value is None
    if origin is Literal:
        base = type(args[0])
        return isinstance(value, base) and not isinstance(value, bool) and (not choices or value in args)
    if origin is list:
        return isinstance(value, (list, tuple)) and all(_fits(v, args[0], choices) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(
            _fits(a, args[0], choices) and _fits(b, args[1], choices) for a, b in value.items()
        )
    if hint is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if hint is float:
        return isinstance(value, (int, float))
    if hint is Path:
        return isinstance(value, (str, os.PathLike))
    return isinstance(value, hint)


def _nonfinite(value: Any) -> float | None:
    """The first NaN or infinite float in ``value`` (through lists and dicts), or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return value
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    return next((bad for v in items if (bad := _nonfinite(v)) is not None), None)


def _choices(hint: Any) -> list[Any]:
    """The values of the Literal inside ``hint`` (through ``| None`` and ``list[...]``), or []."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return list(args)
    return [c for a in args for c in _choices(a)] if origin in (typing.Union, types.UnionType, list) else []


def _example(kind: str) -> str:
    kind = kind.replace(" | None", "")
    return {
        "int": "40",
        "float": "0.001",
        "str": '"mnist"',
        "bool": "True",
        "list[int]": "[0, 1, 2]",
        "list[float]": "[0.4, 0.5]",
        "list[str]": '["mnist"]',
        "dict[str, int]": '{"fashion-mnist": 400}',
    }.get(kind, kind)


def _suggest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def check_types(v: dict[str, Any], cls: type) -> None:
    """Every value of ``v`` against its field's type in the Parameters dataclass ``cls``, in place;
    the message names the parameter, the value and the fix. A string that holds a Python literal of
    the right type is read as that literal: ``papermill -p seeds "[0, 1]"`` passes the list as a
    string. A value of the right type outside a choice gets the list of choices, outside its
    declared ``Range`` the range."""
    ranges = parameter_ranges(cls)
    for key, hint in parameter_types(cls).items():
        value, kind = v[key], describe(hint)
        if not _fits(value, hint, choices=False) and isinstance(value, str) and not _fits("", hint, choices=False):
            try:
                parsed = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                parsed = value
            if _fits(parsed, hint, choices=False):
                v[key] = value = parsed
        if not _fits(value, hint, choices=False):
            hint_text = " (a single string, not a list)" if isinstance(value, str) and kind.startswith("list") else ""
            raise ConfigError(
                f"{key} must be {kind}, got {value!r} ({type(value).__name__}){hint_text}; e.g. {key} = {_example(kind)}"
            )
        bad = _nonfinite(value)
        if bad is not None:
            raise ConfigError(
                f"{key} must be a finite number, got {bad!r}{' in ' + repr(value) if bad is not value else ''}; "
                f"e.g. {key} = {_example(kind)}"
            )
        bound = ranges.get(key)
        if bound is not None:
            many = isinstance(value, (list, tuple))
            out = [x for x in (value if many else [value]) if x is not None and not bound.holds(x)]
            if out:
                x = bound.example(whole="int" in kind)
                x = int(x) if "int" in kind else x
                raise ConfigError(
                    f"{key} must be {bound.text()}{' (each value)' if many else ''}"
                    f"{': ' + bound.why if bound.why else ''}, got {out[0]!r}"
                    f"{' in ' + repr(value) if many else ''}; e.g. {key} = {[x] if many else x!r}"
                )
        allowed = _choices(hint)
        if allowed and not _fits(value, hint):
            many = isinstance(value, (list, tuple))
            bad = next(x for x in (value if many else [value]) if x not in allowed)
            raise ConfigError(
                f"unknown {key} {bad!r}{' in ' + repr(value) if many else ''}; "
                f"use {'some' if many else 'one'} of {allowed}.{_suggest(str(bad), [str(a) for a in allowed])}"
            )
