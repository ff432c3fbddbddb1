"""The HPatches loader on fixture trees the tests build, and the benchmark's matching mAP on
descriptors whose answer is known by hand."""

import json

import numpy as np
import pytest
from PIL import Image

from dml_utils import hpatches as hp
from dml_utils.image_folders import LayoutError


def make_hpatches(root, names=("i_a", "i_b", "v_c"), n=3, split=None, types=hp.IMAGE_TYPES):
    """Sequences of n patches; patch j of image type t is flat grey j·40 + index of t."""
    for name in names:
        folder = root / name
        folder.mkdir(parents=True)
        for k, t in enumerate(types):
            strip = np.concatenate([np.full((hp.PATCH, hp.PATCH), j * 40 + k, np.uint8) for j in range(n)])
            Image.fromarray(strip).save(folder / f"{t}.png")
    split = split or {"a": {"train": list(names[:1]), "test": list(names[1:])}}
    (root / "splits.json").write_text(json.dumps(split))
    return root


def test_a_release_loads_by_split(tmp_path):
    make_hpatches(tmp_path / "hpatches-release")
    seqs = hp.load_hpatches(tmp_path, split="a", part="test")
    assert list(seqs) == ["i_b", "v_c"]
    s = seqs["v_c"]
    assert s.n == 3 and set(s.patches) == set(hp.IMAGE_TYPES) and s.patches["h2"].shape == (3, 65, 65)
    assert s.patches["ref"][2, 0, 0] == 80 and s.patches["e1"][1, 10, 10] == 41  # patch j of image k: j·40 + k
    assert list(hp.load_hpatches(tmp_path, part="train")) == ["i_a"]


def test_the_split_file_is_found_beside_the_sequences_or_in_data_root(tmp_path):
    """As the README and the paper profile say: data_root holds hpatches-release/ and splits.json
    (or splits.json sits inside hpatches-release/, as the loader looked first)."""
    make_hpatches(tmp_path / "hpatches-release")
    (tmp_path / "hpatches-release" / "splits.json").rename(tmp_path / "splits.json")
    assert list(hp.load_hpatches(tmp_path, part="test")) == ["i_b", "v_c"]
    (tmp_path / "splits.json").unlink()
    with pytest.raises(hp.LayoutError, match="no split file .*hpatches-release/splits.json or .*/splits.json"):
        hp.load_hpatches(tmp_path, part="test")


def _strip(tmp_path, size):
    make_hpatches(tmp_path)
    Image.fromarray(np.zeros(size, np.uint8)).save(tmp_path / "i_b" / "t3.png")
    return hp.load_hpatches(tmp_path)


def _without(tmp_path, rel):
    make_hpatches(tmp_path)
    (tmp_path / rel).unlink() if (tmp_path / rel).is_file() else __import__("shutil").rmtree(tmp_path / rel)
    return hp.load_hpatches(tmp_path)


BAD = [
    (
        "a strip of the wrong height",
        lambda t: _strip(t, (100, 65)),
        "t3.png is 65 × 100 pixels; an HPatches strip is 65 wide and a multiple of 65 high",
    ),
    ("a strip of the wrong width", lambda t: _strip(t, (130, 64)), "t3.png is 64 × 130 pixels"),
    ("images with different patch counts", lambda t: _strip(t, (130, 65)), "its images hold different patch counts"),
    (
        "a missing image type",
        lambda t: _without(t, "v_c/h4.png"),
        "v_c lacks h4.png: an HPatches sequence holds the 16 images",
    ),
    ("a missing sequence", lambda t: _without(t, "v_c"), "lacks 1 sequence(s) of split a test, first 'v_c'"),
    ("a missing split file", lambda t: _without(t, "splits.json"), "no split file"),
    ("no sequences at all", lambda t: hp.load_hpatches(t), "no HPatches sequences (folders i_* and v_*)"),
    (
        "a split the file lacks",
        lambda t: hp.load_hpatches(make_hpatches(t), split="view"),
        "the split file has no 'view'/'test' list",
    ),
]


@pytest.mark.parametrize("what,make,phrase", BAD, ids=[b[0] for b in BAD])
def test_a_bad_release_is_named_and_explained(what, make, phrase, tmp_path):
    with pytest.raises(LayoutError) as e:
        make(tmp_path)
    assert phrase in str(e.value)


def test_unknown_split_or_part():
    with pytest.raises(ValueError, match="unknown HPatches split 'd'"):
        hp.load_hpatches("x", split="d")
    with pytest.raises(ValueError, match="part must be 'train' or 'test'"):
        hp.load_hpatches("x", part="val")


def test_average_precision_by_hand():
    assert hp.average_precision([3, 2, 1], [1, 1, 1]) == pytest.approx(1.0)
    # ranks: hit, miss, hit → recall 0, .5, .5, 1 with precision 1, 1, .5, 2/3
    assert hp.average_precision([3, 2, 1], [1, 0, 1]) == pytest.approx(0.5 + 0.5 * (0.5 + 2 / 3) / 2)
    # a miss ranked first, then one of two positives; the other never retrieved (numpos)
    assert hp.average_precision([-0.5, -1.0], [0, 1], numpos=2) == pytest.approx(0.5 * (1e-10 + 0.5) / 2)
    assert hp.average_precision([1.0], [0]) == 0.0
    with pytest.raises(ValueError, match="numpos 1 is smaller"):
        hp.average_precision([1, 2], [1, 1], numpos=1)


def test_matching_map_on_descriptors_with_a_known_answer():
    ref = np.array([[0.0], [10.0]])
    desc = {"ref": ref}
    for i in range(1, 6):
        desc[f"e{i}"] = ref.copy()  # every match right
        desc[f"h{i}"] = ref[::-1].copy()  # every nearest neighbour the other patch
        desc[f"t{i}"] = np.array([[0.0], [7.0]])  # right, at distances 0 and 3
    out = hp.matching_map({"s": desc})
    assert out == pytest.approx({"easy": 1.0, "hard": 0.0, "tough": 1.0, "mean": 2 / 3})


# ---------------------------------------------------------------- sequences cut from photos
@pytest.fixture(scope="module")
def camera_sequences():
    img = hp.skimage_photo("camera", max_side=384)
    return {kind: hp.synthetic_sequence(img, f"{kind}_camera", kind, 30, seed=0) for kind in ("v", "i")}


def test_a_synthetic_sequence_has_the_release_shape_and_repeats(camera_sequences):
    s = camera_sequences["v"]
    assert set(s.patches) == set(hp.IMAGE_TYPES) and all(
        p.shape == (30, 65, 65) and p.dtype == np.uint8 for p in s.patches.values()
    )
    again = hp.synthetic_sequence(hp.skimage_photo("camera", max_side=384), "v_camera", "v", 30, seed=0)
    assert all(np.array_equal(again.patches[t], s.patches[t]) for t in hp.IMAGE_TYPES)


@pytest.mark.parametrize("kind", ["v", "i"])
def test_noise_makes_tough_harder_than_easy(camera_sequences, kind):
    """Raw pixels as descriptors: the matching mAP falls from easy to tough, as in HPatches."""
    s = camera_sequences[kind]
    desc = {t: p.reshape(len(p), -1).astype(np.float64) for t, p in s.patches.items()}
    m = hp.matching_map({s.name: desc})
    assert m["easy"] > m["tough"] and m["easy"] > 0.5


def test_an_illumination_sequence_keeps_the_geometry(camera_sequences):
    """Without noise an 'i' image's patch would be the reference patch re-lit: its easy patches
    correlate with the reference nearly perfectly."""
    s = camera_sequences["i"]
    ref, e1 = s.patches["ref"].reshape(30, -1).astype(float), s.patches["e1"].reshape(30, -1).astype(float)
    r = [np.corrcoef(a, b)[0, 1] for a, b in zip(ref, e1) if a.std() > 1 and b.std() > 1]
    assert np.median(r) > 0.8


def test_a_written_release_loads_back(tmp_path, camera_sequences):
    seqs = {s.name: s for s in camera_sequences.values()}
    hp.write_release(seqs, {"a": {"train": ["v_camera"], "test": ["i_camera"]}}, tmp_path / "hpatches-release")
    back = hp.load_hpatches(tmp_path, split="a", part="test")
    assert list(back) == ["i_camera"]
    assert all(np.array_equal(back["i_camera"].patches[t], seqs["i_camera"].patches[t]) for t in hp.IMAGE_TYPES)


def test_whole_photos_are_held_out():
    assert not set(hp.PHOTOS_TRAIN) & set(hp.PHOTOS_TEST)
    seqs, splits = hp.synthetic_release(photos=("camera", "page"), n_patches=10, max_side=512)
    assert sorted(seqs) == ["i_camera", "i_page", "v_camera", "v_page"]
    assert splits["a"] == {"train": ["v_camera", "i_camera"], "test": ["v_page", "i_page"]}
    # the "distinct" layout deals a photo's locations to its two sequences: page's 6 give 3 each
    assert seqs["v_page"].n == seqs["i_page"].n == 3 and seqs["v_camera"].n == seqs["i_camera"].n == 10
    assert not set(map(tuple, seqs["v_page"].locations)) & set(map(tuple, seqs["i_page"].locations))


def test_a_photo_too_small_for_two_sequences_or_an_unknown_layout_is_refused():
    with pytest.raises(ValueError, match=r"photo 'page' at max_side 96 has \d locations a patch apart, fewer than"):
        hp.synthetic_release(photos=("page",), max_side=96)
    with pytest.raises(ValueError, match="layout must be one of"):
        hp.synthetic_release(photos=("page",), layout="merged")


def test_bad_photo_or_kind():
    with pytest.raises(ValueError, match="unknown photo 'lena'"):
        hp.skimage_photo("lena")
    with pytest.raises(ValueError, match="kind must be 'v'"):
        hp.synthetic_sequence(np.zeros((200, 200)), "x", "z", 5, 0)
    with pytest.raises(ValueError, match="corners .* fewer than 10"):
        hp.synthetic_sequence(np.zeros((200, 200)), "x", "v", 5, 0)


# ---------------------------------------------------------------- verification and retrieval
def _perfect(n_seq=3, n=6, dim=4, seed=0):
    """Descriptors where a patch is the same vector in all 16 images and patches are far apart."""
    rng = np.random.default_rng(seed)
    out = {}
    for k in range(n_seq):
        base = rng.normal(size=(n, dim)) * 100
        out[f"s{k}"] = {t: base.copy() for t in hp.IMAGE_TYPES}
    return out


def test_verification_on_perfect_descriptors():
    desc = _perfect(n_seq=5, n=400)
    pairs = hp.verification_pairs({n: 400 for n in desc}, n_pairs=200, seed=0)
    assert (pairs["pos"][:, 2] == pairs["pos"][:, 5]).all() and (pairs["pos"][:, 1] != pairs["pos"][:, 4]).all()
    assert (pairs["neg_intra"][:, 2] != pairs["neg_intra"][:, 5]).all()
    out = hp.verification_ap(desc, pairs)
    assert out["easy"]["intra"] == {"ap": pytest.approx(1.0), "auc": pytest.approx(1.0)}
    # inter negatives may draw the very same patch (the benchmark does too): distance 0, a "negative" at the top
    assert (pairs["neg_inter"][:, [3, 5]] == pairs["neg_inter"][:, [0, 2]]).all(axis=1).sum() == 0  # no such draw here
    assert out["tough"]["inter"] == {"ap": pytest.approx(1.0), "auc": pytest.approx(1.0)}


def test_retrieval_on_perfect_descriptors_and_on_a_known_ranking():
    out = hp.retrieval_map(_perfect(), n_queries=5, pool_sizes=(6, 10))
    assert all(v == pytest.approx(1.0) for per in out.values() for v in per.values())
    # two sequences of one patch: each query's five positives at distance 1, the other's reference at 0.5
    desc = {
        "A": {t: np.array([[0.0 if t == "ref" else 1.0]]) for t in hp.IMAGE_TYPES},
        "B": {t: np.array([[0.5 if t == "ref" else -0.5]]) for t in hp.IMAGE_TYPES},
    }
    got = hp.retrieval_map(desc, n_queries=1, pool_sizes=(6,))["easy"][6]
    assert got == pytest.approx(hp.average_precision([-1.0] * 5 + [-0.5], [1] * 5 + [0]))
    assert got < 1


def test_informative_drops_flat_patches(camera_sequences):
    keep = hp.informative({"v": camera_sequences["v"]})
    stds = camera_sequences["v"].patches["ref"].reshape(30, -1).std(axis=1)
    assert (keep["v"] == (stds > 10)).all()
    with pytest.raises(ValueError, match="n_queries must be in 1..2"):
        hp.retrieval_map(_perfect(n_seq=1, n=3), n_queries=3)


def test_descriptors_that_are_all_equal_score_as_chance_not_as_perfect():
    """A collapsed net: every distance ties. The official stable sort would rank the five positives
    (listed first) on top and give retrieval an AP of 1; ties are ranked against the positives."""
    desc = {n: {t: np.zeros((20, 4)) for t in hp.IMAGE_TYPES} for n in ("A", "B", "C")}
    ret = hp.retrieval_map(desc, n_queries=5, pool_sizes=(20, 40))
    for per in ret.values():
        assert per[20] == pytest.approx(hp.average_precision(np.zeros(20), [0] * 15 + [1] * 5))
        assert per[20] < 0.5 and per[40] < per[20]
    assert hp.matching_map(desc)["mean"] == pytest.approx(hp.average_precision([0.0] * 20, [1] + [0] * 19, numpos=20))
    ver = hp.verification_ap(desc, hp.verification_pairs({n: 20 for n in desc}, 100, seed=0))
    assert all(
        v["intra"]["auc"] == pytest.approx(0.5) and v["intra"]["ap"] < 0.2 for v in ver.values()
    )  # AUC: ties are chance
    assert hp.average_precision([1.0, 1.0], [1, 0]) == pytest.approx(hp.average_precision([1.0, 2.0], [1, 0]))


def test_a_pool_larger_than_the_distractors_is_refused():
    with pytest.raises(
        ValueError, match="a pool of 100 needs 95 distractors from other sequences, but a query has only"
    ):
        hp.retrieval_map(_perfect(n_seq=2, n=30), n_queries=5, pool_sizes=(10, 100))
