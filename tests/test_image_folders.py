"""The benchmark loaders on tiny fixture trees in each dataset's published layout."""

import numpy as np
import pytest
from PIL import Image

from dml_utils import image_folders as imf
from dml_utils.data import DataNotFoundError, load_dataset
from dml_utils.image_folders import LazyImages


def _jpeg(path, value, size=(20, 12), k=0):
    """A flat image: red = value (the class), blue = 20·k (which image of the class)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (value, 255 - value, (20 * k) % 256)).save(path)


def make_cub(root, classes=200, per_class=2):
    root = root / "CUB_200_2011"
    lines, labels, i = [], [], 0
    for c in range(1, classes + 1):
        for k in range(per_class):
            i += 1
            rel = f"{c:03d}.Bird_{c}/Bird_{c}_{k}.jpg"
            _jpeg(root / "images" / rel, c % 256, k=k)
            lines.append(f"{i} {rel}")
            labels.append(f"{i} {c}")
    (root / "images.txt").write_text("\n".join(lines) + "\n")
    (root / "image_class_labels.txt").write_text("\n".join(labels) + "\n")
    return root


def make_cars(root, classes=196, per_class=2):
    from scipy.io import savemat

    recs = []
    for c in range(1, classes + 1):
        for k in range(per_class):
            rel = f"car_ims/{c:03d}{k:02d}.jpg"
            _jpeg(root / rel, c % 256, size=(16, 24), k=k)
            recs.append((rel, c))
    annos = np.zeros((1, len(recs)), dtype=[("relative_im_path", object), ("class", object)])
    for j, (rel, c) in enumerate(recs):
        annos[0, j] = (np.array([rel]), np.array([[c]], dtype=np.uint8))
    savemat(root / "cars_annos.mat", {"annotations": annos})
    return root


def make_sop(root, train_classes=6, test_classes=4, per_class=2):
    root = root / "Stanford_Online_Products"
    i = 0
    for split, first, n in (("train", 1, train_classes), ("test", train_classes + 1, test_classes)):
        rows = ["image_id class_id super_class_id path"]
        for c in range(first, first + n):
            for k in range(per_class):
                i += 1
                rel = f"bicycle_final/{c}_{k}.JPG"
                _jpeg(root / rel, c, k=k)
                rows.append(f"{i} {c} 1 {rel}")
        (root / f"Ebay_{split}.txt").write_text("\n".join(rows) + "\n")
    return root


@pytest.mark.parametrize("name,make,n_train_classes", [("cub200", make_cub, 100), ("cars196", make_cars, 98)])
def test_half_of_the_classes_train_the_other_half_test(tmp_path, name, make, n_train_classes):
    make(tmp_path)
    ds = load_dataset(name, data_root=tmp_path, image_size=16)
    assert ds.x_train.shape == (2 * n_train_classes, 3, 16, 16) and ds.x_train.dtype == np.float32
    assert isinstance(ds.x_train, LazyImages)  # nothing decoded yet
    x = np.asarray(ds.x_train)
    assert x.shape == ds.x_train.shape and x.dtype == np.float32
    assert set(ds.y_train) == set(range(n_train_classes)) and set(ds.y_test) == set(
        range(n_train_classes, 2 * n_train_classes)
    )
    assert 0 <= x.min() and x.max() <= 1
    assert ds.provenance["class_disjoint"] and ds.provenance["image_size"] == 16


def test_images_keep_their_class_colour_after_resize_and_crop(tmp_path):
    make_cub(tmp_path, per_class=1)
    ds = load_dataset("cub200", data_root=tmp_path, image_size=8)
    # class c (0-based) was drawn with red = c + 1 (JPEG: within a few levels)
    red = np.asarray(ds.x_train)[:, 0].mean(axis=(1, 2))
    assert np.abs(red - (ds.y_train + 1) / 255).max() < 4 / 255
    assert np.corrcoef(red, ds.y_train)[0, 1] > 0.999


def test_sop_reads_its_two_lists(tmp_path):
    make_sop(tmp_path)
    lst = imf.sop_list(tmp_path)
    assert lst.is_train.sum() == 12 and set(lst.labels[lst.is_train]) == set(range(6))
    assert set(lst.labels[~lst.is_train]) == set(range(6, 10))


def test_missing_dataset_says_where_it_should_be(tmp_path):
    with pytest.raises(DataNotFoundError, match="CUB-200-2011 .* expected images.txt"):
        load_dataset("cub200", data_root=tmp_path)
    with pytest.raises(DataNotFoundError, match="needs data_root"):
        load_dataset("cars196")


def test_a_listed_but_missing_image_is_named(tmp_path):
    root = make_cub(tmp_path, classes=200, per_class=1)
    (root / "images" / "007.Bird_7" / "Bird_7_0.jpg").unlink()
    with pytest.raises(DataNotFoundError, match="Bird_7_0.jpg is listed but missing"):
        load_dataset("cub200", data_root=tmp_path, image_size=8)


def test_mismatched_lists_are_an_error(tmp_path):
    root = make_cub(tmp_path, classes=200, per_class=1)
    with open(root / "image_class_labels.txt", "a") as f:
        f.write("9999 3\n")
    with pytest.raises(DataNotFoundError, match="different image ids"):
        imf.cub200_list(tmp_path)


@pytest.mark.trains
def test_notebook_04_paper_profile_starts_on_cars196(tmp_path):
    """The paper's set-up (ResNet18, batch 70 = 14 classes × 5, Cars196 halves) on a fixture tree:
    data preparation and two iterations of one sampler × loss run, on RGB images."""
    from dml_utils.studies import config
    from dml_utils.studies.sampling_matters import study as sm

    make_cars(tmp_path / "cars", per_class=10)
    cfg = config(
        "04_sampling_matters",
        "paper",
        root=tmp_path,
        data_root=str(tmp_path / "cars"),
        seeds=[0],
        iterations=2,
        eval_every=2,
        image_size=32,
    )
    assert (cfg.batch_size, cfg.classes_per_batch, cfg.samples_per_class, cfg.backbone) == (70, 14, 5, "resnet18")
    data = sm.prepare(cfg)
    p = data.provenance
    assert p["class_disjoint"] and len(p["train_classes"]) == 98 and len(p["unseen_classes"]) == 98
    assert data.x_train.shape == (98 * 5, 3, 32, 32) and data.x_val.shape == (98 * 5, 3, 32, 32)
    assert data.x_test.shape == (98 * 10, 3, 32, 32) and not set(data.y_test) & set(data.y_train)
    with pytest.warns(UserWarning, match="RANDOM initialization"):
        r = sm.run(cfg, data, "distance", "margin", seed=0)
    s = r["summary"]
    assert len(r["step_loss"]) == 2 and np.isfinite(r["step_loss"]).all()
    assert 0 <= s["map_at_r"] <= 1 and s["weight_move"] > 0


def test_validation_images_must_fill_a_class_balanced_batch():
    from dml_utils.config import ConfigError
    from dml_utils.studies import config

    with pytest.raises(ConfigError, match="val_per_class 2 < samples_per_class 5"):
        config("04_sampling_matters", "paper", val_per_class=2)


def test_n_max_none_needs_a_balanced_set(tmp_path):
    from dml_utils.studies import config
    from dml_utils.studies.sampling_matters import study as sm

    make_cars(tmp_path / "cars", per_class=7)
    cfg = config("04_sampling_matters", "paper", root=tmp_path, data_root=str(tmp_path / "cars"), image_size=16)
    cfg.values["imbalance_ratio"] = 10
    with pytest.raises(ValueError, match="n_max=None takes every training image"):
        sm.prepare(cfg)


def test_lazy_images_index_like_an_array_and_decode_only_on_demand(tmp_path):
    make_cub(tmp_path, per_class=2)
    ds = load_dataset("cub200", data_root=tmp_path, image_size=8)
    x = ds.x_train
    sub = x[np.array([3, 0, 5])]
    assert (
        isinstance(sub, LazyImages) and sub.shape == (3, 3, 8, 8) and len(x[:4]) == 4 and len(x[x.shape[0] - 1 :]) == 1
    )
    whole = np.asarray(x)
    np.testing.assert_array_equal(np.asarray(sub), whole[[3, 0, 5]])
    np.testing.assert_array_equal(x[2], whole[2])
    from dml_utils.data import select_rows

    np.testing.assert_array_equal(select_rows(x, [1, 2]), whole[[1, 2]])
    np.testing.assert_array_equal(select_rows(whole, [1, 2]), whole[[1, 2]])
    with pytest.raises(ValueError, match="image_size must be >= 8"):
        LazyImages(x.paths, 4)


def test_embedding_and_raw_pixels_of_lazy_images_match_the_decoded_array(tmp_path):
    import torch

    from dml_utils.evaluate import RAW_PIXEL_SIZE, embed, raw_pixels
    from dml_utils.models import SmallConvNet

    make_cub(tmp_path, per_class=1)
    x = load_dataset("cub200", data_root=tmp_path, image_size=8).x_train
    torch.manual_seed(0)
    net = SmallConvNet(embedding_size=4, in_channels=3, image_size=8)
    np.testing.assert_allclose(embed(net, x, batch_size=7), embed(net, np.asarray(x)), rtol=1e-6, atol=1e-6)
    assert RAW_PIXEL_SIZE > 8 and raw_pixels(x, block=9).shape == (
        len(x),
        3 * 8**2,
    )  # smaller than the pool size: as they are
    np.testing.assert_array_equal(raw_pixels(x, block=9), np.asarray(x).reshape(len(x), -1))


def test_a_cub_image_id_listed_twice_is_refused_with_the_file_and_lines(tmp_path):
    root = make_cub(tmp_path, classes=4, per_class=1)
    text = (root / "images.txt").read_text()
    (root / "images.txt").write_text(text + "2 004.Bird_4/Bird_4_0.jpg\n")  # id 2 again, another image
    with pytest.raises(imf.LayoutError, match=r"images.txt: image id 2 is listed twice \(lines 2 and 5\)"):
        imf.cub200_list(tmp_path)
