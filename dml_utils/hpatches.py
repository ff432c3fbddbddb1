"""HPatches (Balntas et al., CVPR 2017): the ``hpatches-release`` layout and the benchmark's matching task.

Layout: one folder per sequence (116 in the release; ``i_*`` change illumination, ``v_*``
viewpoint), each holding 16 greyscale PNGs — ``ref``, ``e1…e5``, ``h1…h5``, ``t1…t5`` (easy, hard,
tough: the geometric noise added when the patches were cut) — and each PNG a vertical strip of N
patches of 65 × 65 pixels. Patch i is the same scene point in all 16 images. The benchmark's
split file (``splits.json``, from the hpatches-benchmark repository) names the train and test
sequences of splits a, b, c, illum, view and full.

Matching (the official python evaluator, ``hpatches_eval.py``): for every test sequence, every
difficulty (e, h, t) and every image i = 1…5, each reference patch's nearest neighbour among the
patches of image i (L2) is a match, correct when it is the same patch index; the match's score
is minus its distance; AP is the area under precision over recall with every patch a positive;
mAP averages over sequences and images, per difficulty, and "mean" over the three.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .image_folders import LayoutError

PATCH = 65
IMAGE_TYPES = ("ref", *(f"{d}{i}" for d in "eht" for i in range(1, 6)))  # the 16 images of a sequence
DIFFICULTIES = {"e": "easy", "h": "hard", "t": "tough"}
SPLITS = ("a", "b", "c", "illum", "view", "full")


@dataclass
class PatchSequence:
    """One sequence: ``patches[t]`` is the (N, 65, 65) uint8 array of image type t; ``locations``,
    when known (the synthetic release), the (N, 2) centres (row, col) of the reference patches in
    the photo they were cut from."""

    name: str
    patches: dict[str, np.ndarray]
    locations: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.patches["ref"])


def read_strip(path: Path) -> np.ndarray:
    """A PNG strip of patches stacked vertically, as (N, 65, 65) uint8."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            a = np.asarray(im.convert("L"))
    except (OSError, SyntaxError, ValueError) as err:
        raise LayoutError(
            f"{path} cannot be decoded ({type(err).__name__}: {err}); restore it from hpatches-release"
        ) from err
    h, w = a.shape
    if w != PATCH or h % PATCH or h == 0:
        raise LayoutError(
            f"{path} is {w} × {h} pixels; an HPatches strip is {PATCH} wide and a multiple of {PATCH} high "
            f"(N patches of {PATCH} × {PATCH} stacked vertically)"
        )
    return a.reshape(h // PATCH, PATCH, PATCH)


def read_sequence(folder: Path) -> PatchSequence:
    missing = [t for t in IMAGE_TYPES if not (folder / f"{t}.png").is_file()]
    if missing:
        raise LayoutError(
            f"{folder} lacks {', '.join(m + '.png' for m in missing)}: an HPatches sequence holds the 16 "
            f"images {', '.join(IMAGE_TYPES)}"
        )
    patches = {t: read_strip(folder / f"{t}.png") for t in IMAGE_TYPES}
    counts = {t: len(p) for t, p in patches.items()}
    if len(set(counts.values())) > 1:
        raise LayoutError(f"{folder}: its images hold different patch counts {counts}; patch i must exist in all 16")
    return PatchSequence(folder.name, patches)


def find_release(data_root: str | Path) -> Path:
    """The folder of sequence folders: data_root itself or data_root/hpatches-release."""
    base = Path(data_root)
    for folder in (base, base / "hpatches-release"):
        if folder.is_dir() and any(p.is_dir() and p.name[:2] in ("i_", "v_") for p in folder.iterdir()):
            return folder
    raise LayoutError(
        f"no HPatches sequences (folders i_* and v_*) in {base} or {base / 'hpatches-release'}; "
        f"unpack hpatches-release.tar.gz there"
    )


def load_splits(path: str | Path) -> dict[str, dict[str, list[str]]]:
    path = Path(path)
    if not path.is_file():
        raise LayoutError(
            f"no split file {path}: copy tasks/splits/splits.json of the hpatches-benchmark repository there"
        )
    try:
        splits = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise LayoutError(
            f"{path} is not JSON ({err}); copy tasks/splits/splits.json of hpatches-benchmark again"
        ) from err
    return splits


def load_hpatches(
    data_root: str | Path, split: str = "a", part: str = "test", splits_file: str | Path | None = None
) -> dict[str, PatchSequence]:
    """The sequences of one part ("train" or "test") of a benchmark split, by name. The split file
    is ``splits.json`` beside the sequence folders or in ``data_root`` (the folder holding
    ``hpatches-release/``), unless ``splits_file`` names it."""
    if split not in SPLITS:
        raise ValueError(f"unknown HPatches split {split!r}; use one of {list(SPLITS)}")
    if part not in ("train", "test"):
        raise ValueError(f"part must be 'train' or 'test', got {part!r}")
    release = find_release(data_root)
    if splits_file is None:
        places = list(dict.fromkeys([release / "splits.json", Path(data_root) / "splits.json"]))
        splits_file = next((p for p in places if p.is_file()), None)
        if splits_file is None:
            raise LayoutError(
                f"no split file {' or '.join(map(str, places))}: copy tasks/splits/splits.json of the "
                "hpatches-benchmark repository into one of them"
            )
    splits = load_splits(splits_file)
    if split not in splits or part not in splits[split]:
        raise LayoutError(
            f"the split file has no {split!r}/{part!r} list (it has {sorted(splits)}); use the benchmark's splits.json"
        )
    names = splits[split][part]
    missing = [n for n in names if not (release / n).is_dir()]
    if missing:
        raise LayoutError(
            f"{release} lacks {len(missing)} sequence(s) of split {split} {part}, first {missing[0]!r}: "
            f"the release is partial; unpack all 116 sequences"
        )
    return {n: read_sequence(release / n) for n in names}


# ---------------------------------------------------------------- the benchmark's measures
def average_precision(scores: np.ndarray, labels: np.ndarray, numpos: int | None = None) -> float:
    """Area under precision over recall (trapezoids), the official ``metrics.pr``: items sorted by
    score, high first, with tied scores ranked negatives first (the official stable sort ranks a
    tie in list order, which gives retrieval, whose list starts with the positives, an AP of 1 for
    descriptors that are all equal: a collapsed net would score perfectly), the curve starting at recall 0 with precision 1; ``numpos`` counts
    positives that were never retrieved (they lower recall)."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    p = int(labels.sum()) if numpos is None else int(numpos)
    if p < labels.sum():
        raise ValueError(f"numpos {numpos} is smaller than the {int(labels.sum())} positives among the labels")
    order = np.lexsort((labels, -scores))  # by score, high first; a tie puts negatives first
    hits = labels[order]
    tp = np.concatenate([[0], np.cumsum(hits)])
    fp = np.concatenate([[0], np.cumsum(~hits)])
    small = 1e-10
    recall = tp / max(p, small)
    precision = np.maximum(tp, small) / np.maximum(tp + fp, small)
    return float(np.trapezoid(precision, recall))


def _l2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from scipy.spatial.distance import cdist

    return cdist(np.asarray(a, np.float64), np.asarray(b, np.float64), "euclidean")


def check_descriptors(descriptors: dict[str, dict[str, np.ndarray]]) -> None:
    """Descriptors a task can score: some sequences, and every value finite (a NaN distance sorts
    anywhere, so a diverged net would get a score)."""
    if not descriptors:
        raise ValueError("no sequences to evaluate")
    for seq, desc in descriptors.items():
        for t, d in desc.items():
            if not np.isfinite(np.asarray(d, dtype=np.float64)).all():
                raise ValueError(
                    f"the descriptors of {seq}/{t} hold NaN or inf: the network diverged or an input is not "
                    "finite; no HPatches score is computed from them (check the training losses)"
                )


def matching_map(descriptors: dict[str, dict[str, np.ndarray]]) -> dict[str, float]:
    """The matching task's mAP per difficulty and their mean. ``descriptors[seq][t]`` is the (N, D)
    array of image type t's patches (t in ``IMAGE_TYPES``)."""
    check_descriptors(descriptors)
    ap = {d: [] for d in DIFFICULTIES}
    for seq, desc in descriptors.items():
        ref = desc["ref"]
        truth = np.arange(len(ref))
        for d in DIFFICULTIES:
            for i in range(1, 6):
                dist = _l2(ref, desc[f"{d}{i}"])
                nearest = dist.argmin(axis=1)
                correct = nearest == truth
                ap[d].append(average_precision(-dist[truth, nearest], correct, numpos=len(ref)))
    out = {DIFFICULTIES[d]: float(np.mean(v)) for d, v in ap.items()}
    out["mean"] = float(np.mean(list(out.values())))
    return out


def _roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (trapezoids), the official ``metrics.roc``, with tied scores taken
    as one threshold (a straight segment: descriptors that are all equal give 0.5, chance)."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, np.float64)
    order = np.argsort(-scores, kind="mergesort")
    hits, s = labels[order], scores[order]
    last = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]  # the end of each run of equal scores
    tpr = np.concatenate([[0], np.cumsum(hits)[last]]) / max(labels.sum(), 1e-10)
    fpr = np.concatenate([[0], np.cumsum(~hits)[last]]) / max((~labels).sum(), 1e-10)
    return float(np.trapezoid(tpr, fpr))


def verification_pairs(lengths: dict[str, int], n_pairs: int, seed: int = 42) -> dict[str, np.ndarray]:
    """Pair lists as the benchmark generates them (``gen_verif``): rows (seq1, image1, idx1, seq2,
    image2, idx2) with image 0 = ref and 1…4 = the first four images of a difficulty. Positives:
    one patch in two different images; intra-sequence negatives: two patches of one sequence;
    inter-sequence negatives: a patch of a random sequence (which can be the same one)."""
    rng = np.random.default_rng(seed)
    names = sorted(lengths)
    s = rng.choice(len(names), n_pairs)
    idx = np.array([rng.choice(lengths[names[k]], 2, replace=False) for k in s])
    img = np.array([rng.choice(5, 2, replace=False) for _ in s])
    s2 = rng.choice(len(names), n_pairs)
    idx2 = np.array([rng.integers(lengths[names[k]]) for k in s2])
    return {
        "names": np.array(names),
        "pos": np.stack([s, img[:, 0], idx[:, 0], s, img[:, 1], idx[:, 0]], axis=1),
        "neg_intra": np.stack([s, img[:, 0], idx[:, 0], s, img[:, 1], idx[:, 1]], axis=1),
        "neg_inter": np.stack([s, img[:, 0], idx[:, 0], s2, img[:, 1], idx2], axis=1),
    }


def _pair_distances(descriptors, names, rows, d: str) -> np.ndarray:
    def one(seq, image, i):
        return descriptors[names[seq]]["ref" if image == 0 else f"{d}{image}"][i]

    a = np.stack([one(*r[:3]) for r in rows]).astype(np.float64)
    b = np.stack([one(*r[3:]) for r in rows]).astype(np.float64)
    return np.sqrt(((a - b) ** 2).sum(axis=1))


def verification_ap(
    descriptors: dict[str, dict[str, np.ndarray]], pairs: dict[str, np.ndarray]
) -> dict[str, dict[str, float]]:
    """The verification task: per difficulty and negative kind (inter / intra), the AP of the
    imbalanced protocol (all negatives, positives 1/5 as many: the benchmark's "mAP") and the ROC
    AUC of the balanced one. Score = minus the L2 distance."""
    check_descriptors(descriptors)
    names = pairs["names"]
    out = {}
    for d, label in DIFFICULTIES.items():
        pos = _pair_distances(descriptors, names, pairs["pos"], d)
        out[label] = {}
        for kind in ("inter", "intra"):
            neg = _pair_distances(descriptors, names, pairs[f"neg_{kind}"], d)
            dist = np.concatenate([neg, pos])
            lab = np.concatenate([np.zeros(len(neg)), np.ones(len(pos))])
            cut = len(pos) + int(len(pos) * 0.2)  # the official slice: the negatives, then a fifth of the positives
            out[label][kind] = {"ap": average_precision(-dist[:cut], lab[:cut]), "auc": _roc_auc(-dist, lab)}
    return out


def informative(seqs: dict[str, PatchSequence], min_std: float = 10.0) -> dict[str, np.ndarray]:
    """Which reference patches the retrieval task may draw: pixel std above ``min_std`` (the
    benchmark drops flat patches)."""
    return {n: s.patches["ref"].reshape(s.n, -1).std(axis=1) > min_std for n, s in seqs.items()}


def retrieval_map(
    descriptors: dict[str, dict[str, np.ndarray]],
    n_queries: int,
    pool_sizes=(100, 500, 1000),
    seed: int = 42,
    keep: dict[str, np.ndarray] | None = None,
) -> dict[str, dict[int, float]]:
    """The retrieval task (``eval_retrieval``): a query is a reference patch; its five positives are
    the same patch in images 1…5 of a difficulty; distractors are reference patches of the other
    sequences, drawn at random among those ``keep`` allows (``informative``). For a pool of k, AP
    over the five positives and the first k − 5 distractors; mAP over queries."""
    check_descriptors(descriptors)
    rng = np.random.default_rng(seed)
    names = sorted(descriptors)
    refs = [(n, i) for n in names for i in range(len(descriptors[n]["ref"])) if keep is None or keep[n][i]]
    if n_queries < 1 or n_queries >= len(refs):
        raise ValueError(
            f"n_queries must be in 1..{len(refs) - 1} (there are {len(refs)} usable reference patches), got {n_queries}"
        )
    order = rng.permutation(len(refs))
    queries = [refs[j] for j in order[:n_queries]]
    distractors = [refs[j] for j in order[n_queries:]]
    d_seq = np.array([n for n, _ in distractors])
    d_desc = np.stack([descriptors[n]["ref"][i] for n, i in distractors]).astype(np.float64)
    fewest = min(int((d_seq != seq).sum()) for seq, _ in queries)
    if max(pool_sizes) - 5 > fewest:
        raise ValueError(
            f"a pool of {max(pool_sizes)} needs {max(pool_sizes) - 5} distractors from other sequences, but a "
            f"query has only {fewest}; use smaller pools or fewer queries, or evaluate more patches"
        )
    out = {label: {k: [] for k in pool_sizes} for label in DIFFICULTIES.values()}
    for seq, i in queries:
        q = descriptors[seq]["ref"][i].astype(np.float64)
        others = np.sqrt(((d_desc[d_seq != seq] - q) ** 2).sum(axis=1))
        for d, label in DIFFICULTIES.items():
            own = np.array([np.sqrt(((descriptors[seq][f"{d}{j}"][i] - q) ** 2).sum()) for j in range(1, 6)])
            dist = np.concatenate([own, others])
            gt = np.concatenate([np.ones(5), np.zeros(len(others))])
            for k in pool_sizes:
                out[label][k].append(average_precision(-dist[:k], gt[:k]))
    return {label: {k: float(np.mean(v)) for k, v in per.items()} for label, per in out.items()}


# ---------------------------------------------------------------- patch sequences cut from photos, the way HPatches was made
# Real photos scikit-image ships (no download): whole photos are held out for the test.
PHOTOS_TRAIN = (
    "astronaut",
    "camera",
    "chelsea",
    "coffee",
    "moon",
    "rocket",
    "brick",
    "grass",
    "gravel",
    "immunohistochemistry",
    "cell",
)
PHOTOS_TEST = ("coins", "hubble_deep_field", "retina", "page", "text")
PHOTOS_ALL = PHOTOS_TRAIN + PHOTOS_TEST
# Geometric noise on each patch's frame, per difficulty: rotation (degrees), log-scale, shift (pixels),
# each uniform in ±value. Our choice, growing from easy to tough as HPatches' e/h/t do; not its values.
NOISE = {"e": (5.0, 0.05, 1.0), "h": (15.0, 0.12, 3.0), "t": (25.0, 0.20, 5.0)}


def skimage_photo(name: str, max_side: int = 512) -> np.ndarray:
    """One of scikit-image's sample photos as float greyscale in [0, 1], its longer side at most ``max_side``."""
    from skimage import color, data, transform

    known = PHOTOS_TRAIN + PHOTOS_TEST
    if name not in known:
        raise ValueError(f"unknown photo {name!r}; use one of {list(known)}")
    img = np.asarray(getattr(data, name)())
    if img.ndim == 3:
        img = color.rgb2gray(img[..., :3])
    img = img.astype(np.float64)
    if img.max() > 1:
        img = img / 255.0
    scale = max_side / max(img.shape)
    return transform.rescale(img, scale, anti_aliasing=True) if scale < 1 else img


MIN_PATCHES = 10  # the "shared" layout: corners a sequence needs
MIN_PATCHES_DISTINCT = 2  # the "distinct" layout: locations each of a photo's two sequences needs
LOCATION_SPACING = PATCH  # px (row or column) between two locations of one photo: their reference crops share no pixel
LAYOUTS = ("distinct", "shared")


def _harris_peaks(img: np.ndarray, margin: int) -> np.ndarray:
    from skimage.feature import corner_harris, corner_peaks

    return corner_peaks(corner_harris(img), min_distance=6, threshold_rel=1e-4, exclude_border=margin)


def _keypoints(img: np.ndarray, n: int, rng: np.random.Generator, margin: int) -> np.ndarray:
    """The "shared" layout: up to n Harris corners (row, col), at least ``margin`` px inside the
    image, in skimage's order, 6 px apart (their patches overlap); a photo with fewer corners gives
    a shorter sequence, as HPatches' sequences differ in N."""
    peaks = _harris_peaks(img, margin)
    if len(peaks) < MIN_PATCHES:
        raise ValueError(
            f"only {len(peaks)} corners {margin} px inside a {img.shape} photo, fewer than {MIN_PATCHES}: "
            f"use a larger or more textured photo"
        )
    return peaks[:n].astype(np.float64)


def photo_locations(img: np.ndarray, margin: int, spacing: int = LOCATION_SPACING) -> np.ndarray:
    """The patch locations of one photo (the "distinct" layout), (M, 2) as (row, col): its Harris
    corners at least ``margin`` px inside, strongest response first, thinned greedily so that any
    two kept are at least ``spacing`` px apart in row or column (at the default, one patch side:
    two locations' reference crops share no pixel). skimage's ``corner_peaks`` suppresses
    non-maxima within a square window, which at 65 px keeps only the largest in each window and
    drops corners that are far enough from every kept one (1 to 10 per photo here against 4 to
    29): hence this greedy pass over its 6-px peaks."""
    from skimage.feature import corner_harris

    peaks = _harris_peaks(img, margin)
    response = corner_harris(img)[peaks[:, 0], peaks[:, 1]]
    peaks = peaks[np.argsort(-response, kind="stable")]
    kept: list[np.ndarray] = []
    for q in peaks:
        if all(np.abs(q - k).max() >= spacing for k in kept):
            kept.append(q)
    return np.array(kept, dtype=np.float64).reshape(-1, 2)


def _random_homography(shape, strength: float, rng: np.random.Generator):
    """A viewpoint change: the image corners moved by up to ``strength`` × the image size."""
    from skimage.transform import ProjectiveTransform

    h, w = shape
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64)  # (x, y)
    dst = src + rng.uniform(-strength, strength, size=(4, 2)) * [w, h]
    return ProjectiveTransform.from_estimate(src, dst)


def _photometric(img: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """An illumination change: gamma, gain and offset, growing with ``strength`` in [0, 1]."""
    gamma = np.exp(rng.uniform(-0.7, 0.7) * strength)
    gain = 1 + rng.uniform(-0.4, 0.4) * strength
    offset = rng.uniform(-0.15, 0.15) * strength
    return np.clip(gain * img**gamma + offset, 0, 1)


def _sample(img: np.ndarray, points_xy: np.ndarray) -> np.ndarray:
    from scipy.ndimage import map_coordinates

    return map_coordinates(img, [points_xy[..., 1], points_xy[..., 0]], order=1, mode="reflect")


MARGIN = PATCH // 2 + 8  # a location's distance from the photo's edge, px


def synthetic_sequence(
    img: np.ndarray, name: str, kind: str, n_patches: int, seed: int, locations: np.ndarray | None = None
) -> PatchSequence:
    """An HPatches-style sequence cut from one photo. ``kind`` "v": five viewpoint changes (random
    homographies, corners moved by 2–10 % of the size, with a mild illumination change); "i":
    five illumination changes of the same view. Patches are centred on ``locations`` (row, col;
    the first ``n_patches``), by default the photo's first Harris corners (the "shared" layout of
    ``synthetic_release``); patch i of image j is the reference patch's frame, perturbed by the
    difficulty's noise (``NOISE``), mapped through image j's homography and sampled from image j."""
    from skimage.transform import warp as warp_image

    if kind not in ("v", "i"):
        raise ValueError(f"kind must be 'v' (viewpoint) or 'i' (illumination), got {kind!r}")
    rng = np.random.default_rng(seed)
    half = PATCH // 2
    if locations is None:
        locations = _keypoints(img, n_patches, rng, margin=MARGIN)
    locations = np.asarray(locations, dtype=np.float64)[:n_patches]
    kp = locations[:, ::-1]  # (x, y); reflected past the border
    grid = np.stack(np.meshgrid(np.arange(-half, half + 1), np.arange(-half, half + 1)), axis=-1).astype(np.float64)
    patches = {"ref": np.stack([_sample(img, k + grid) for k in kp])}
    for j in range(1, 6):
        strength = j / 5
        if kind == "v":
            warp = _random_homography(img.shape, 0.02 * j, rng)
            target = _photometric(img, 0.3 * strength, rng)
        else:
            warp = None
            target = _photometric(img, strength, rng)
        image_j = warp_image(target, warp.inverse, mode="reflect") if warp is not None else target
        for d, (rot, log_scale, shift) in NOISE.items():
            out = []
            for k in kp:
                theta = np.deg2rad(rng.uniform(-rot, rot))
                s = np.exp(rng.uniform(-log_scale, log_scale))
                a = s * np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
                pts = k + grid @ a.T + rng.uniform(-shift, shift, size=2)
                if warp is not None:
                    pts = warp(pts.reshape(-1, 2)).reshape(pts.shape)
                out.append(_sample(image_j, pts))
            patches[f"{d}{j}"] = np.stack(out)
    return PatchSequence(
        name, {t: np.round(np.clip(p, 0, 1) * 255).astype(np.uint8) for t, p in patches.items()}, locations
    )


def synthetic_release(
    photos=PHOTOS_ALL,
    n_patches: int = 100,
    seed: int = 0,
    max_side: int = 512,
    test_photos=PHOTOS_TEST,
    layout: str = "distinct",
) -> tuple[dict[str, PatchSequence], dict[str, dict[str, list[str]]]]:
    """One viewpoint and one illumination sequence per photo, and a split "a" whose test part is
    every sequence of the ``test_photos`` among ``photos`` (whole photos held out).

    ``layout`` says where a photo's two sequences are cut. "distinct" (HPatches' own rule: a
    sequence is its own scene, so one physical point has one patch index in one sequence): the
    photo's locations (``photo_locations``: at least a patch side apart) dealt alternately, the
    strongest to the viewpoint sequence, the next to the illumination one; at most ``n_patches``
    each. "shared", the first layout, cut both sequences at the same first ``n_patches`` Harris
    corners, 6 px apart: the two reference crops of a corner are the same pixels, so every point
    had two labels (bit-identical twins across sequences) and neighbouring patches overlapped. It
    is kept only so that the notebooks not yet re-derived on "distinct" (02, 05) reproduce their
    committed numbers; no new work should use it."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {list(LAYOUTS)}, got {layout!r}")
    seqs = {}
    for k, photo in enumerate(photos):
        img = skimage_photo(photo, max_side)
        locations = {"v": None, "i": None}
        if layout == "distinct":
            found = photo_locations(img, MARGIN)
            if len(found) < 2 * MIN_PATCHES_DISTINCT:
                raise ValueError(
                    f"photo {photo!r} at max_side {max_side} has {len(found)} locations a patch apart, fewer than the "
                    f"{2 * MIN_PATCHES_DISTINCT} its two sequences need: leave it out or use a larger max_side"
                )
            locations = {"v": found[0::2], "i": found[1::2]}
        for kind in ("v", "i"):
            name = f"{kind}_{photo}"
            seqs[name] = synthetic_sequence(
                img, name, kind, n_patches, seed=seed * 1000 + 2 * k + (kind == "i"), locations=locations[kind]
            )
    test = [n for n in seqs if n.split("_", 1)[1] in test_photos]
    return seqs, {"a": {"train": [n for n in seqs if n not in test], "test": test}}


def write_release(seqs: dict[str, PatchSequence], splits: dict, root: str | Path) -> Path:
    """Write sequences in the hpatches-release layout (16 PNG strips each) with splits.json."""
    from PIL import Image

    root = Path(root)
    for name, s in seqs.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for t in IMAGE_TYPES:
            Image.fromarray(s.patches[t].reshape(-1, PATCH)).save(root / name / f"{t}.png")
    (root / "splits.json").write_text(json.dumps(splits))
    return root
