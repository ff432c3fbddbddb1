"""Bad input a user of the notebooks will try, in one table: the input, the exception it must
raise, and a phrase its message must contain (name the parameter, the value, the fix).
Loader- and data-level rows live beside their modules' tests; this table holds what a
parameters cell or ``papermill -p`` can set."""

import numpy as np
import pytest

from dml_utils.config import ConfigError
from dml_utils.studies import config

NB01, NB03, NB04 = "01_circle_vs_triplet_margin", "03_yukawa_vs_contrastive_mnist", "04_sampling_matters"
NB05 = "05_batch_hard_collapse"
NB02 = "02_hdml_triplet_vs_npair"

BAD_PARAMETERS = [
    (
        NB03,
        {"seeds": "abc"},
        "seeds must be list[int], got 'abc' (str) (a single string, not a list); e.g. seeds = [0, 1, 2]",
    ),
    (NB03, {"datasets": "mnist"}, "datasets must be list[str], got 'mnist' (str) (a single string, not a list)"),
    (NB03, {"eval_epochs": [2.5]}, "eval_epochs must be list[int], got [2.5]"),
    (NB03, {"epochs": 2.0}, "epochs must be int, got 2.0 (float)"),
    (
        NB03,
        {"datasets": ["mnist", "fashion_mnist"]},
        "unknown datasets 'fashion_mnist' in ['mnist', 'fashion_mnist']; use some of",
    ),
    (NB03, {"train_per_class": {"mnist": "all"}}, "train_per_class must be dict[str, int] | None"),
    (NB03, {"allow_download": "yes"}, "allow_download must be bool, got 'yes'"),
    (NB01, {"data_root": 123}, "data_root must be path | None, got 123 (int)"),
    (NB01, {"threads": True}, "threads must be int, got True (bool)"),
    (NB01, {"backbone": "vgg"}, "unknown backbone 'vgg'; use one of ['convnet', 'resnet18']"),
    (
        NB01,
        {"miner": "multi_similarity"},
        "unknown miner 'multi_similarity'; use one of ['multisimilarity', 'none', 'semihard']. Did you mean 'multisimilarity'?",
    ),
    (NB01, {"iterations": "forty"}, "iterations must be int, got 'forty' (str)"),
    (NB01, {"imbalance": 10}, "unknown parameter 'imbalance' for 01_circle_vs_triplet_margin; known: ["),
    (
        NB04,
        {"dataset": "cars"},
        "unknown dataset 'cars'; use one of ['mnist', 'fashion-mnist', 'digits', 'cub200', 'cars196', 'sop']",
    ),
    (NB04, {"losses": ["margin", "npair"]}, "unknown losses 'npair'"),
    (NB04, {"image_size": "224px"}, "image_size must be int | None, got '224px' (str)"),
    (NB04, {"samples_per_class": 1, "batch_size": 6}, "samples_per_class must be >= 2"),
    (
        NB05,
        {"pk_grid": [[1, 4]]},
        "pk_grid: P = 1 in [1, 4]; a batch needs P >= 2 patches, or no anchor has a negative",
    ),
    (NB05, {"pk_grid": [[8, 1]]}, "pk_grid: K = 1 in [8, 1]; a batch needs K >= 2 views of each patch"),
    (NB05, {"schedule": [[8, 32]]}, "schedule: K = 32 in [8, 32], but a patch has 16 views"),
    (NB05, {"pk_grid": [[8]]}, "pk_grid: [8] is not a [P, K] pair"),
    (NB05, {"pk_grid": "8x2"}, "pk_grid must be list[list[int]], got '8x2' (str)"),
    (
        NB05,
        {"distance_variants": ["euclid"]},
        "unknown distance_variants 'euclid' in ['euclid']; use some of ['plain', 'squared', 'soft'",
    ),
    (NB05, {"photos_test": ["camera"]}, "photos ['camera'] are in both photos_train and photos_test"),
    (NB05, {"photos_train": ["lena"]}, "unknown photos_train 'lena'"),
    (NB05, {"split": "d"}, "unknown split 'd'; use one of ['a', 'b', 'c', 'illum', 'view', 'full']"),
    (NB05, {"retrieval_pools": [5]}, "retrieval_pools must be > 5 (each value): a pool holds the 5 positives"),
    (NB05, {"monitor_every": 100}, "monitor_every (100) > iterations (30)"),
    (
        NB02,
        {"losses": ["triplet", "contrastive"]},
        "unknown losses 'contrastive' in ['triplet', 'contrastive']; use some of ['triplet', 'npair']",
    ),
    (NB02, {"tuples": {"triplet": 4}}, "tuples has no entry for ['npair']; give the tuples per batch of every loss"),
    (NB02, {"tuples": {"triplet": 4, "npair": 1}}, "tuples['npair'] = 1: an N-pair batch needs N >= 2 pairs"),
    (
        NB02,
        {"tuples": {"triplet": 4, "npair": 6, "quadruplet": 2}},
        "tuples has an entry for 'quadruplet', which is not a loss here",
    ),
    (NB02, {"tuples": "6"}, "tuples must be dict[str, int], got '6' (str)"),
    (NB02, {"lam": 1.5}, "lam must be in [0, 1]"),
    (NB02, {"iterations": 100}, "iterations (100) must be a positive multiple of eval_every (75)"),
    (NB02, {"feature_pool": 0}, "feature_pool must be >= 1: or None: every conv feature"),
    # issue 26: values that once failed minutes into a run, or deep in a library
    (NB01, {"sweep_seeds": []}, "sweep_seeds must be a non-empty list of distinct integers, got []"),
    (NB01, {"seeds": [-1, 0]}, "seeds must be >= 0 and <= 2**62 (each value): NumPy takes no negative seed"),
    (NB03, {"tsne_points": 0}, "tsne_points must be >= 2: t-SNE places two points or more"),
    (NB05, {"schedule": [[16, 4], [4, 2]]}, "schedule [[16, 4], [4, 2]] must grow: at least two [P, K]"),
    (NB05, {"schedule": [[16, 4]]}, "schedule [[16, 4]] must grow"),
    (NB02, {"alpha": float("nan")}, "alpha must be a finite number, got nan"),
    (NB04, {"noise_sigmas": [float("inf")]}, "noise_sigmas must be a finite number, got inf"),
    (NB04, {"sphere_dims": [1, 3]}, "sphere_dims must be >= 2 (each value): the distance law q(d) needs n >= 2"),
]


@pytest.mark.parametrize("notebook,overrides,phrase", BAD_PARAMETERS, ids=[str(o) for _, o, _ in BAD_PARAMETERS])
def test_a_bad_parameter_fails_before_any_work_and_says_how_to_fix_it(notebook, overrides, phrase, tmp_path):
    with pytest.raises(ConfigError) as e:
        config(notebook, "smoke", root=tmp_path, **overrides)
    assert phrase in str(e.value)


@pytest.mark.parametrize(
    "overrides,expect",
    [
        ({"seeds": "[0, 1]"}, {"seeds": [0, 1]}),  # papermill -p passes a list as its text
        ({"iterations": "40"}, {"iterations": 40}),
        ({"lr": 1}, {"lr": 1}),  # an int is a float
        (
            {"n_max": 500, "imbalance_ratio": 10},
            {"n_max": 500, "imbalance_ratio": 10},
        ),  # every profile value can be set
    ],
)
def test_literals_given_as_text_are_read_and_every_profile_value_is_settable(overrides, expect, tmp_path):
    cfg = config(NB01, "smoke", root=tmp_path, **overrides)
    assert {k: cfg.values[k] for k in expect} == expect


@pytest.mark.parametrize(
    "overrides,phrase",
    [
        (
            {"tuples": {"triplet": 4, "npair": 7}},
            "tuples['npair'] = 7: a npair batch of 7 tuples needs 7 distinct training classes with >= 2 images each, "
            "and the 6 training classes here give 6; lower tuples['npair'] to <= 6",
        ),
        ({"official_clusters": 1000}, "official_clusters = 1000, but the unseen classes have 60 test images"),
    ],
)
def test_02_checks_what_its_config_asks_of_the_data_before_any_run(hdml_fixture_config, overrides, phrase):
    """These once failed after minutes of training (213 s, 368 s), the second with a raw KeyError."""
    from dml_utils.studies.hdml_triplet_vs_npair import study as hv

    cfg = hdml_fixture_config(**overrides)
    with pytest.raises(ConfigError) as e:
        hv.prepare(cfg)
    assert phrase in str(e.value)


def test_image_size_on_fixed_size_data_is_refused_not_ignored(tmp_path):
    from dml_utils import class_disjoint

    cfg = config(NB04, "smoke", root=tmp_path, image_size=64)
    with pytest.raises(
        ValueError, match="image_size=64 applies to the image-folder datasets .* only; fashion-mnist keeps its own size"
    ):
        class_disjoint.prepare(cfg)


# ---------------------------------------------------------------- data files a user points data_root at
def _truncated_gz(tmp_path):
    from dml_utils.data import write_idx

    p = tmp_path / "train-images-idx3-ubyte.gz"
    write_idx(p, np.zeros((4, 28, 28)))
    p.write_bytes(p.read_bytes()[:30])
    return p


def _plain_file_named_gz(tmp_path):
    p = tmp_path / "train-images-idx3-ubyte.gz"
    p.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 1, 7]))
    return p


def _cub(tmp_path, start):
    from test_image_folders import make_cub

    root = make_cub(tmp_path, classes=4, per_class=1)
    (root / "image_class_labels.txt").write_text(
        "".join(f"{i} {c}\n" for i, c in enumerate(range(start, start + 4), 1))
    )
    return tmp_path


def _partial_cub(tmp_path):
    from test_image_folders import make_cub

    make_cub(tmp_path, classes=20, per_class=1)  # classes 1–20 only: no test half (101–200)
    return tmp_path


def _truncated_jpeg(tmp_path):
    from PIL import Image

    from dml_utils.image_folders import LazyImages

    p = tmp_path / "img.jpg"
    Image.effect_noise((64, 64), 60).convert("RGB").save(p, quality=95)
    p.write_bytes(p.read_bytes()[:400])
    return LazyImages([p], 16)[0]


def _corrupt_mat(tmp_path, content):
    from dml_utils.image_folders import cars196_list

    (tmp_path / "car_ims").mkdir()
    if content == "garbage":
        (tmp_path / "cars_annos.mat").write_bytes(b"MATLAB 5.0 MAT-file" + bytes(range(256)) * 2)
    else:
        from scipy.io import savemat

        savemat(tmp_path / "cars_annos.mat", {"class_names": np.array(["a", "b"])})
    return cars196_list(tmp_path)


def _idx_as(tmp_path, name, make):
    from dml_utils.data import IDX_FILES, load_dataset, write_idx

    rng = np.random.default_rng(0)
    for key, stem in IDX_FILES.items():
        n = 200 if "train" in key else 50
        x, y = make(rng, n)
        write_idx(tmp_path / stem, x if key.startswith("x") else y)
    return load_dataset(name, data_root=tmp_path)


def _ink(p, size=28, classes=10):
    return lambda rng, n: (np.where(rng.random((n, size, size)) < p, 255, 0), np.arange(n) % classes)


BAD_FILES = [
    (
        "a truncated .gz",
        lambda t: _read_idx(_truncated_gz(t)),
        ValueError,
        "is truncated or not gzip: download it again",
    ),
    ("a plain file named .gz", lambda t: _read_idx(_plain_file_named_gz(t)), ValueError, "cannot be read (BadGzipFile"),
    (
        "CUB class ids from 0",
        lambda t: _load("cub200", _cub(t, 0)),
        Exception,
        "class ids start at 0; CUB-200-2011 numbers them 1–200",
    ),
    (
        "a partial CUB folder",
        lambda t: _load("cub200", _partial_cub(t)),
        Exception,
        "lists images of the training classes only (20 images): the folder is partial",
    ),
    (
        "a truncated JPEG",
        _truncated_jpeg,
        ValueError,
        "img.jpg cannot be decoded (OSError: Truncated File Read); the file is truncated or not an image",
    ),
    ("a corrupt cars_annos.mat", lambda t: _corrupt_mat(t, "garbage"), Exception, "cars_annos.mat cannot be read"),
    (
        "a .mat without annotations",
        lambda t: _corrupt_mat(t, "other"),
        Exception,
        "cars_annos.mat holds no 'annotations' array",
    ),
    (
        "Fashion-MNIST files as MNIST",
        lambda t: _idx_as(t, "mnist", _ink(0.29)),
        ValueError,
        "these IDX files look like fashion-mnist, not mnist (mean pixel 0.289",
    ),
    (
        "MNIST files as Fashion-MNIST",
        lambda t: _idx_as(t, "fashion-mnist", _ink(0.13)),
        ValueError,
        "look like mnist, not fashion-mnist",
    ),
    (
        "noise IDX files as MNIST",
        lambda t: _idx_as(t, "mnist", _ink(0.5)),
        ValueError,
        "do not look like MNIST (mean pixel 0.50",
    ),
    (
        "26-class IDX files as MNIST",
        lambda t: _idx_as(t, "mnist", _ink(0.13, classes=26)),
        ValueError,
        "labels run 0–25; MNIST has classes 0–9",
    ),
    (
        "32 × 32 IDX images as MNIST",
        lambda t: _idx_as(t, "mnist", _ink(0.13, size=32)),
        ValueError,
        "the images are (32, 32), not MNIST's 28 × 28",
    ),
]


def _read_idx(path):
    from dml_utils.data import read_idx

    return read_idx(path)


def _load(name, root):
    from dml_utils.data import load_dataset

    return load_dataset(name, data_root=root, image_size=8)


@pytest.mark.parametrize("what,make,exc,phrase", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_a_bad_data_file_is_named_and_explained(what, make, exc, phrase, tmp_path):
    with pytest.raises(exc) as e:
        make(tmp_path)
    assert phrase in str(e.value)


def test_an_sop_list_without_its_header_keeps_its_first_image(tmp_path):
    from test_image_folders import make_sop

    from dml_utils.image_folders import sop_list

    root = make_sop(tmp_path)
    with_header = sop_list(tmp_path)
    for split in ("train", "test"):
        f = root / f"Ebay_{split}.txt"
        f.write_text("".join(f.read_text().splitlines(keepends=True)[1:]))
    without = sop_list(tmp_path)
    assert len(without.paths) == len(with_header.paths) == 20 and without.paths == with_header.paths


# ---------------------------------------------------------------- direct calls into dml_utils
def _pairs_and_labels():
    from dml_utils.pairs import alternating_pairs

    y = np.arange(40) % 4
    return y, *alternating_pairs(y, seed=0)


def _pair_loader(pairs, same, n=40):
    import torch

    from dml_utils.pairs import pair_loader

    return pair_loader(np.zeros((n, 28, 28), np.float32), pairs, same, 8, torch.Generator())


def _nan_distances():
    from dml_utils.pairs import pair_verification_accuracy

    d = np.array([0.1, np.nan, 0.9, 0.2])
    return pair_verification_accuracy(d, np.array([1, 1, 0, 1]))


def _retrieval(emb, labels):
    from dml_utils.evaluate import retrieval_metrics

    return retrieval_metrics(emb, labels)


def _nan_embedding():
    emb = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    emb[3, 1] = np.nan
    return _retrieval(emb, np.arange(20) % 4)


def _sampler(labels, cpb=2, spc=2):
    from dml_utils.sampling import ClassBalancedBatchSampler

    return ClassBalancedBatchSampler(labels, cpb, spc, batches=3)


_, PAIRS, SAME = _pairs_and_labels()


def _nan_descriptors():
    from dml_utils import hpatches as hp

    desc = {"s": {t: np.ones((4, 3)) for t in hp.IMAGE_TYPES}}
    desc["s"]["e1"][2, 1] = np.nan
    return hp.matching_map(desc)


BAD_CALLS = [
    ("pair labels of another pair list", lambda: _pair_loader(PAIRS, SAME[:-2]), "for 72 pairs: give one label"),
    (
        "pairs built for a larger set",
        lambda: _pair_loader(PAIRS, SAME, n=20),
        "but there are 20 samples: these pairs were built for another set",
    ),
    ("pair labels that are not 0/1", lambda: _pair_loader(PAIRS, SAME * 2), "pair labels must be 1 (same class) or 0"),
    ("pair distances with NaN", _nan_distances, "1 of 4 pair distances are not finite (first at pair 1)"),
    (
        "distances on pairs past the embeddings",
        lambda: __import__("dml_utils.pairs").pairs.pair_distances(np.zeros((10, 3)), PAIRS),
        "but there are 10 embeddings",
    ),
    ("an embedding with NaN", _nan_embedding, "1 of 20 embeddings hold NaN or inf (first row 3)"),
    (
        "labels of another test set",
        lambda: _retrieval(np.zeros((20, 4)), np.arange(19) % 4),
        "19 labels for 20 embeddings",
    ),
    ("an empty test set", lambda: _retrieval(np.zeros((0, 4)), np.zeros(0, int)), "no embeddings to evaluate"),
    (
        "an empty label array to the sampler",
        lambda: _sampler(np.array([], dtype=int)),
        "labels must be a non-empty 1-D array",
    ),
    (
        "a non-integer samples_per_class",
        lambda: _sampler(np.arange(40) % 4, spc=2.5),
        "samples_per_class must be a whole number, got 2.5",
    ),
    (
        "a float batch count",
        lambda: __import__("dml_utils.sampling").sampling.ClassBalancedBatchSampler(np.arange(40) % 4, 2, 2, 3.0),
        "batches must be a whole number, got 3.0",
    ),
    (
        "samples_per_class = 1",
        lambda: _sampler(np.arange(40) % 4, spc=1),
        "a metric-learning batch needs a positive pair",
    ),
    ("classes_per_batch = 1", lambda: _sampler(np.arange(40) % 4, cpb=1), "and a negative"),
    # issue 26: a verdict or a score is never computed from a NaN
    (
        "a claim with a NaN among its values",
        lambda: __import__("dml_utils.results").results.paired_claim(
            "a beats b", "a", "a", [0.5, float("nan"), 0.6], "b", [0.4, 0.4, 0.5], "map_at_r"
        ),
        "1 of 3 values of a in 'a beats b' are NaN or infinite",
    ),
    (
        "an HPatches descriptor with NaN",
        _nan_descriptors,
        "the descriptors of s/e1 hold NaN or inf: the network diverged",
    ),
    (
        "a Yukawa decay that is not a number",
        lambda: __import__("dml_utils.losses").losses.YukawaLoss(decay=float("nan")),
        "need decay >= 0, pos_exponent > 0, eps > 0; got nan",
    ),
]


@pytest.mark.parametrize("what,call,phrase", BAD_CALLS, ids=[b[0] for b in BAD_CALLS])
def test_a_bad_call_into_the_package_is_refused_with_its_reason(what, call, phrase):
    with pytest.raises(ValueError) as e:
        call()
    assert phrase in str(e.value)


def test_the_table_counts():
    """The bad inputs this file tries (the issue's note counts them)."""
    assert (len(BAD_PARAMETERS), len(BAD_FILES), len(BAD_CALLS)) == (44, 12, 16)


def test_05_paper_profile_without_hpatches_says_where_to_get_it(tmp_path):
    from dml_utils.studies.batch_hard_collapse import study as bhc

    with pytest.raises(
        ConfigError, match="the paper profile runs on HPatches: set data_root to the folder holding hpatches-release/"
    ):
        bhc.prepare(config(NB05, "paper", root=tmp_path))


def test_05_a_retrieval_pool_larger_than_the_distractors_is_refused(tmp_path):
    from dml_utils.studies.batch_hard_collapse import study as bhc

    cfg = config(NB05, "smoke", root=tmp_path, retrieval_pools=[20, 200])
    data = bhc.prepare(cfg)
    with pytest.raises(
        ValueError, match="a pool of 200 needs 195 distractors from other sequences, but a query has only"
    ):
        bhc.baselines(cfg, data)
