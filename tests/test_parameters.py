"""Each notebook's profiles: complete, and validated by the notebook's own rules (no KeyError)."""

import pytest

from dml_utils.config import ConfigError
from dml_utils.parameters import PROFILE_NAMES
from dml_utils.studies import STUDIES, config, known_parameters

NOTEBOOKS = {name: s.parameters for name, s in STUDIES.items()}

# Notebooks whose `paper` profile is not built yet, and why (a missing profile is an error elsewhere)
NO_PAPER_PROFILE_YET: dict[str, str] = {}  # notebook -> why it has no `paper` profile yet


@pytest.mark.parametrize("notebook", sorted(NOTEBOOKS))
def test_every_profile_resolves_and_sets_only_known_names(notebook):
    profiles = NOTEBOOKS[notebook].PROFILES
    names = [n for n in PROFILE_NAMES if not (n == "paper" and notebook in NO_PAPER_PROFILE_YET)]
    assert set(profiles) == {"common", *names}
    common = set(profiles["common"])
    for name in names:
        cfg = config(notebook, name)
        assert set(cfg.values) == common | set(profiles[name]) <= known_parameters(notebook)
    # every value a profile sets somewhere is resolved in every profile: no KeyError for a missing neighbour
    for name in names:
        assert known_parameters(notebook) == set(config(notebook, name).values), (notebook, name)


@pytest.mark.parametrize(
    "notebook,kwargs,match",
    [
        ("01_circle_vs_triplet_margin", {"batch_size": 30}, "batch_size 30 != classes_per_batch 4"),
        ("01_circle_vs_triplet_margin", {"circle_margins": []}, "circle_margins must be"),
        (
            "01_circle_vs_triplet_margin",
            {"sweep_iterations": 30},
            r"sweep_iterations \(30\) must be a positive multiple",
        ),
        ("01_circle_vs_triplet_margin", {"samples_per_class": 1, "batch_size": 4}, "samples_per_class must be >= 2"),
        ("04_sampling_matters", {"val_per_class": 4}, "val_per_class 4 < samples_per_class 8"),
        ("04_sampling_matters", {"nonzero_loss_cutoff": 0.4}, "must exceed cutoff"),
        (
            "04_sampling_matters",
            {"sphere_dims": [1, 3]},
            r"sphere_dims must be >= 2 \(each value\): the distance law q\(d\) needs n >= 2",
        ),
        ("04_sampling_matters", {"margin_beta": 0}, "margin_beta must be > 0"),
        ("04_sampling_matters", {"threads": 0}, "threads must be"),
        ("03_yukawa_vs_contrastive_mnist", {"seeds": [1, 1]}, "distinct"),
        ("03_yukawa_vs_contrastive_mnist", {"seeds": [0, 2**64]}, r"seeds must be >= 0 and <= 2\*\*62 \(each value\)"),
        ("06_one_protocol", {"fold_seed": -1}, "fold_seed must be >= 0"),
        ("06_one_protocol", {"tune_seed": 2**63}, "tune_seed must be >= 0 and <= "),
    ],
)
def test_each_notebook_checks_its_own_values(notebook, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        config(notebook, "smoke", **kwargs)


@pytest.mark.parametrize("notebook", sorted(NOTEBOOKS))
def test_every_parameter_has_a_type_and_every_profile_value_fits_it(notebook):
    from dml_utils.parameters import _fits, parameter_types

    m = NOTEBOOKS[notebook]
    types = parameter_types(m.Parameters)
    assert set(types) == known_parameters(notebook)
    for name, profile in m.PROFILES.items():
        for key, value in profile.items():
            assert _fits(value, types[key]), (notebook, name, key, value)
    for name in [n for n in PROFILE_NAMES if n in m.PROFILES]:  # the resolved config is the typed dataclass, frozen
        cfg = config(notebook, name)
        assert isinstance(cfg.params, m.Parameters)
        assert all(getattr(cfg.params, k) is v is getattr(cfg, k) for k, v in cfg.values.items())
    with pytest.raises(AttributeError):
        cfg.params.seeds = [9]


def _choices_the_package_runs_on():
    from dml_utils import data, hdml, hpatches, models, sampling
    from dml_utils.studies.batch_hard_collapse import parameters as p05
    from dml_utils.studies.circle_vs_triplet import study as circle_vs_triplet
    from dml_utils.studies.one_protocol import parameters as p06
    from dml_utils.studies.sampling_matters import study as sampling_matters

    return [
        ("01_circle_vs_triplet_margin", "dataset", list(data.DATASETS)),
        ("06_one_protocol", "dataset", list(p06.DATASETS)),
        ("01_circle_vs_triplet_margin", "backbone", list(models.BACKBONES)),
        ("01_circle_vs_triplet_margin", "miner", list(circle_vs_triplet.MINERS)),
        ("01_circle_vs_triplet_margin", "gap_miner", list(circle_vs_triplet.DROPPING_MINERS)),
        ("02_hdml_triplet_vs_npair", "losses", list(hdml.LOSSES)),
        ("03_yukawa_vs_contrastive_mnist", "datasets", list(data.DATASETS)),
        ("04_sampling_matters", "samplers", list(sampling.STRATEGIES)),
        ("04_sampling_matters", "losses", list(sampling_matters.LOSSES)),
        ("05_batch_hard_collapse", "split", list(hpatches.SPLITS)),
        ("05_batch_hard_collapse", "photos_train", list(hpatches.PHOTOS_ALL)),
        ("05_batch_hard_collapse", "distance_variants", list(p05.VARIANTS)),
    ]


def test_each_choice_in_the_annotations_is_the_list_the_package_runs_on():
    """A choice is a Literal in the Parameters annotations (no module resolved from a string at run
    time); this test keeps each equal to the list the code that uses it holds."""
    from dml_utils.parameters import _choices, parameter_types

    for notebook, key, runs_on in _choices_the_package_runs_on():
        assert _choices(parameter_types(NOTEBOOKS[notebook].Parameters)[key]) == runs_on, (notebook, key)
    for notebook, m in NOTEBOOKS.items():  # every choice of every notebook is one of the lists above
        checked = {tuple(c) for _, _, c in _choices_the_package_runs_on()}
        for key, hint in parameter_types(m.Parameters).items():
            assert not _choices(hint) or tuple(_choices(hint)) in checked, (notebook, key)


def test_no_choice_is_resolved_from_a_string():
    import ast
    from pathlib import Path

    package = Path(__file__).resolve().parents[1] / "dml_utils"
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
                raise AssertionError(f"{path.name}: importlib.import_module hides an import from the import graph")


@pytest.mark.parametrize("notebook", sorted(NOTEBOOKS))
def test_the_parameters_cell_annotations_are_the_dataclass_types(notebook):
    """``papermill --help-notebook`` shows the cell's annotations: each must be the type the
    Parameters dataclass holds (a path written str, None meaning the profile's)."""
    import ast

    from dml_utils.parameters import describe, parameter_types

    types = parameter_types(NOTEBOOKS[notebook].Parameters)
    cell = [n for n in ast.parse(_parameters_cell(notebook)).body if isinstance(n, ast.AnnAssign)]
    assert len(cell) >= 4
    for node in cell:
        name, said = node.target.id, ast.unparse(node.annotation)
        if name == "profile":
            continue
        want = describe(types[name]).replace("path", "str")
        assert said in (want, want.removesuffix(" | None")), (name, said, want)


# ---------------------------------------------------------------- the parameters cells say what the profiles hold
def _parameters_cell(notebook: str) -> str:
    import json
    from pathlib import Path

    nb = json.loads((Path(__file__).resolve().parents[1] / "notebooks" / f"{notebook}.ipynb").read_text())
    return next("".join(c["source"]) for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))


def _top_level(text: str, open_: str = "(", close: str = ")", sep: str | None = None) -> list[str]:
    """The parenthesized groups of ``text`` (sep None), or ``text`` split at commas outside brackets."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([{":
            if sep is None and depth == 0 and ch == open_:
                start = i + 1
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if sep is None and depth == 0 and ch == close:
                out.append(text[start:i])
        elif sep is not None and ch == sep and depth == 0:
            out.append(text[start:i])
            start = i + 1
    return out + ([text[start:]] if sep is not None else [])


def parameter_cell_claims(notebook: str) -> list[tuple[str, str, object]]:
    """(name, profile, value) for every "<value> <profile>[ / <profile>]" or "<profile> <value>"
    that a parameters-cell comment states about a parameter's profile value."""
    import ast
    import re

    names = "smoke|default|paper"
    after = re.compile(rf"^(?P<lit>.+?)\s+(?P<profs>(?:{names})(?:\s*/\s*(?:{names}))*)$")
    before = re.compile(rf"^(?P<profs>{names})\s+(?P<lit>.+)$")
    claims = []
    for line in _parameters_cell(notebook).splitlines():
        code, _, comment = line.partition("#")
        if ":" not in code or "=" not in code or "the profile's" not in comment:
            continue
        name = code.split(":")[0].strip()
        for group in _top_level(comment):
            for part in _top_level(group, sep=","):
                m = after.match(part.strip()) or before.match(part.strip())
                if not m:
                    continue
                try:
                    value = ast.literal_eval(m["lit"].strip())
                except (ValueError, SyntaxError):
                    continue  # prose, not a literal ("[0..4]", '"convnet"; "resnet18" for')
                claims += [(name, p.strip(), value) for p in m["profs"].split("/")]
    return claims


@pytest.mark.parametrize("notebook", sorted(NOTEBOOKS))
def test_the_parameters_cell_states_the_profiles_values(notebook):
    """A comment such as "(30 smoke, 50 default, 2000 paper)" must say what the profiles hold
    (notebook 05's once said 60 where its default profile has 50)."""
    claims = parameter_cell_claims(notebook)
    assert len(claims) >= 3, claims  # the parser still reads this cell
    wrong = [
        (name, prof, said, config(notebook, prof).values[name])
        for name, prof, said in claims
        if config(notebook, prof).values[name] != said
    ]
    assert not wrong, wrong
