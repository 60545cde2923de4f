"""Extractors on real photos (scikit-image's bundled images): shapes, dtypes, inputs, errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

from vislang.exceptions import InvalidInputError
from vislang.features import (
    ORB,
    SIFT,
    DenseSIFT,
    DescriptorSet,
    RootSIFT,
    load_image,
    opponent_channels,
    pack_bits,
    root_sift,
    unpack_bits,
)

cv2 = pytest.importorskip("cv2")
skdata = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    """Small versions of bundled photos (128 px longer side) so that every test stays fast."""
    out = {}
    for name in ("astronaut", "camera", "coffee", "chelsea"):
        out[name] = load_image(getattr(skdata, name)(), "rgb", max_side=128)
    return out


def _same(a: DescriptorSet, b: DescriptorSet) -> None:
    np.testing.assert_array_equal(a.descriptors, b.descriptors)
    np.testing.assert_array_equal(a.offsets, b.offsets)
    np.testing.assert_array_equal(a.keypoints, b.keypoints)
    np.testing.assert_array_equal(a.image_sizes, b.image_sizes)


def test_import_does_not_load_opencv() -> None:
    code = "import sys, vislang, vislang.features; assert 'cv2' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_sift_shapes_dtypes_and_resize() -> None:
    astro, cam = skdata.astronaut(), skdata.camera()  # 512 x 512 RGB / gray
    ds = SIFT(max_side=128).transform([astro, cam])
    assert ds.n_images == 2 and ds.n_dims == 128 and ds.dtype == np.float32
    assert (ds.counts > 20).all()
    assert ds.image_sizes.tolist() == [[128, 128], [128, 128]]
    kp = ds.keypoints
    assert kp.shape == (ds.n_descriptors, 3) and kp.dtype == np.float32
    assert (kp[:, :2] >= 0).all() and (kp[:, :2] < 128).all() and (kp[:, 2] > 0).all()
    # OpenCV SIFT values are integers in [0, 255]
    d = ds.descriptors
    assert d.min() >= 0 and d.max() <= 255 and np.array_equal(d, np.round(d))
    wide = SIFT(max_side=60).transform([np.zeros((100, 300), np.uint8)])
    assert wide.image_sizes.tolist() == [[20, 60]]
    assert SIFT(n_features=15, max_side=128).transform([astro]).counts[0] <= 20


def test_input_forms_give_identical_results(photos: dict[str, np.ndarray], tmp_path: Path) -> None:
    from PIL import Image

    rgb = photos["coffee"]
    png = tmp_path / "coffee.png"
    Image.fromarray(rgb).save(png)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    forms = [
        rgb,
        rgb / 255.0,  # float in [0, 1]
        rgb.astype(np.float64),  # float in [0, 255]
        np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)]),  # RGBA
        Image.fromarray(rgb),
        str(png),
        png,
        gray,
        gray[:, :, None],
        Image.fromarray(gray),
    ]
    ref = SIFT(n_jobs=1).transform([rgb])
    out = SIFT(n_jobs=1).transform(forms)
    for i in range(len(forms)):
        np.testing.assert_array_equal(out[i].descriptors, ref[0].descriptors, err_msg=str(i))
    # a stacked (n, H, W, 3) batch is a batch, not one image
    _same(SIFT(n_jobs=1).transform(np.stack([rgb, rgb])), SIFT(n_jobs=1).transform([rgb, rgb]))


def test_bad_inputs_are_named() -> None:
    rgb = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(InvalidInputError, match=r"looks like one RGB image; pass \[image\]"):
        SIFT().transform(rgb)
    with pytest.raises(InvalidInputError, match="got a single path"):
        SIFT().transform("photo.jpg")
    with pytest.raises(InvalidInputError, match=r"image 1 \(ndarray\): float images must lie"):
        SIFT(n_jobs=1).transform([rgb, np.full((8, 8), -0.5)])
    with pytest.raises(InvalidInputError, match=r"image 0 \(ndarray\) contains NaN"):
        SIFT().transform([np.full((8, 8), np.nan)])
    with pytest.raises(InvalidInputError, match=r"image 0 \(int\): expected a file path"):
        SIFT().transform([3])
    with pytest.raises(InvalidInputError, match=r"must have shape \(H, W\)"):
        SIFT().transform([np.zeros((4, 4, 2))])
    with pytest.raises(InvalidParameterError):
        SIFT(on_error="ignore").transform([rgb])
    with pytest.raises(InvalidInputError, match="sizes must be a non-empty sequence"):
        DenseSIFT(sizes=(4, -1)).transform([rgb])


def test_root_sift_properties(photos: dict[str, np.ndarray]) -> None:
    images = [photos["astronaut"], photos["camera"]]
    sift = SIFT(n_jobs=1).transform(images)
    root = RootSIFT(SIFT(n_jobs=1)).transform(images)
    assert root.dtype == np.float32 and (root.descriptors >= 0).all()
    np.testing.assert_allclose(np.linalg.norm(root.descriptors, axis=1), 1.0, atol=1e-5)
    ref = np.sqrt(sift.descriptors / sift.descriptors.sum(axis=1, keepdims=True))
    np.testing.assert_allclose(root.descriptors, ref, atol=1e-6)
    np.testing.assert_array_equal(root.offsets, sift.offsets)
    np.testing.assert_array_equal(root.keypoints, sift.keypoints)
    # default extractor is SIFT; nested parameters are reachable for grid searches
    est = RootSIFT().set_params(extractor=DenseSIFT(), extractor__step=16)
    assert est.get_params()["extractor__step"] == 16
    assert root_sift(np.zeros((1, 4))).tolist() == [[0.0] * 4]
    with pytest.raises(
        InvalidInputError, match="non-negative descriptors, got a negative value at row 1"
    ):
        root_sift(np.array([[1.0, 2.0], [-1.0, 0.0]]))


def test_dense_sift_grid_and_sizes() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (40, 56), dtype=np.uint8)  # 5 x 7 grid points at step 8
    est = DenseSIFT(step=8, sizes=(4, 8), backend="opencv")
    ds = est.transform([img])
    assert ds.counts.tolist() == [5 * 7 * 2] and ds.n_dims == 128
    x, y, scale = ds.keypoints.T
    assert set(np.unique(x).tolist()) == {4.0, 12.0, 20.0, 28.0, 36.0, 44.0, 52.0}
    assert set(np.unique(y).tolist()) == {4.0, 12.0, 20.0, 28.0, 36.0}
    # grouped by size, OpenCV KeyPoint.size = 2 * bin / 3
    np.testing.assert_allclose(scale[:35], 8 / 3)
    np.testing.assert_allclose(scale[35:], 16 / 3)
    np.testing.assert_allclose(est.keypoint_sizes, (8 / 3, 16 / 3))
    # each size is an upright SIFT descriptor at the grid point, as OpenCV computes it
    sift = cv2.SIFT_create(sigma=8 / 6.0)
    kps = [cv2.KeyPoint(float(a), float(b), float(s), 0.0) for a, b, s in ds.keypoints[35:]]
    _, ref = sift.compute(img, kps)
    np.testing.assert_array_equal(ds.descriptors[35:], ref)
    # too small for one grid point -> empty row; flat image -> zero descriptors, not dropped
    flat = DenseSIFT(step=8, sizes=(4,)).transform([np.zeros((3, 3)), np.zeros((16, 16))])
    assert flat.counts.tolist() == [0, 4] and flat.offsets.tolist() == [0, 0, 4]
    assert not flat.descriptors.any()


@pytest.mark.parametrize("extractor", [SIFT, DenseSIFT])
def test_color_descriptors(extractor: Any, photos: dict[str, np.ndarray]) -> None:
    rgb = photos["chelsea"]
    params = {"step": 16, "sizes": (6,)} if extractor is DenseSIFT else {}
    gray = extractor(n_jobs=1, **params).transform([rgb])
    for color in ("rgb", "opponent"):
        est = extractor(color=color, n_jobs=1, **params)
        ds = est.transform([rgb])
        assert ds.n_dims == est.n_dims == 384 and ds.dtype == np.float32
        np.testing.assert_array_equal(ds.keypoints, gray.keypoints)  # same keypoints
    # a gray input replicated to RGB gives three identical channel blocks
    g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    ds = extractor(color="rgb", n_jobs=1, **params).transform([g])
    d = ds.descriptors
    np.testing.assert_array_equal(d[:, :128], d[:, 128:256])
    np.testing.assert_array_equal(d[:, :128], d[:, 256:])
    np.testing.assert_array_equal(
        d[:, :128], extractor(n_jobs=1, **params).transform([g]).descriptors
    )


def test_opponent_channels() -> None:
    px = np.array([[[255, 0, 0], [0, 0, 255], [10, 10, 10]]], np.uint8)
    o1, o2, o3 = opponent_channels(px)
    assert o1.tolist() == [[255, 128, 128]]  # (R - G + 255) / 2, rounded half to even
    assert o2.tolist() == [[191, 0, 128]]  # (R + G - 2B + 510) / 4
    assert o3.tolist() == [[85, 85, 10]]  # (R + G + B) / 3


def test_orb_bits(photos: dict[str, np.ndarray]) -> None:
    images = [photos["astronaut"], photos["camera"]]
    unpacked = ORB(n_features=100, n_jobs=1).transform(images)
    packed = ORB(n_features=100, n_jobs=1, unpack_bits=False).transform(images)
    assert unpacked.dtype == np.float32 and unpacked.n_dims == 256
    assert packed.dtype == np.uint8 and packed.n_dims == 32
    assert set(np.unique(unpacked.descriptors).tolist()) <= {0.0, 1.0}
    assert (unpacked.counts > 0).all() and (unpacked.counts <= 100).all()
    np.testing.assert_array_equal(unpack_bits(packed.descriptors), unpacked.descriptors)
    np.testing.assert_array_equal(pack_bits(unpacked.descriptors), packed.descriptors)
    _same(unpack_bits(packed), unpacked)
    # squared Euclidean distance of unpacked bits == Hamming distance of the packed bytes
    a, b = packed.descriptors[:20], packed.descriptors[20:40]
    hamming = np.array([cv2.norm(u, v, cv2.NORM_HAMMING) for u, v in zip(a, b, strict=True)])
    sq = ((unpacked.descriptors[:20] - unpacked.descriptors[20:40]) ** 2).sum(axis=1)
    np.testing.assert_array_equal(sq, hamming)
    # bit frequencies (k-means centres) round to the majority word
    assert pack_bits(np.array([[0.6, 0.4, 0, 0, 0, 0, 0, 1]])).tolist() == [[129]]


@pytest.mark.parametrize(
    "extractor", [SIFT(), ORB(), RootSIFT(), SIFT(color="opponent")], ids=lambda e: repr(e)
)
def test_blank_image_is_an_empty_row(extractor: Any, photos: dict[str, np.ndarray]) -> None:
    ds = extractor.transform([photos["camera"], np.zeros((64, 64), np.uint8), photos["camera"]])
    assert ds.counts[1] == 0 and ds.counts[0] == ds.counts[2] > 0
    assert ds.offsets[1] == ds.offsets[2]
    assert ds.image_sizes[1].tolist() == [64, 64]
    assert ds[1].descriptors.shape == (0, extractor.n_dims)


def test_missing_and_corrupt_files(photos: dict[str, np.ndarray], tmp_path: Path) -> None:
    missing = tmp_path / "missing.jpg"
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"not an image")
    good = photos["camera"]
    with pytest.raises(InvalidInputError, match=f"image file not found: {missing}"):
        SIFT().transform([good, missing])
    with pytest.raises(InvalidInputError, match=f"cannot decode image file {corrupt}"):
        SIFT(n_jobs=2).transform([good, good, corrupt, good])
    with pytest.warns(UserWarning, match=f"skipping image file not found: {missing}"):
        with pytest.warns(UserWarning, match=f"skipping cannot decode image file {corrupt}"):
            ds = SIFT(on_error="skip").transform([good, missing, corrupt, good])
    assert ds.n_images == 4 and ds.counts[1] == ds.counts[2] == 0 and ds.counts[0] > 0
    assert ds.image_sizes[1:3].tolist() == [[0, 0], [0, 0]]
    np.testing.assert_array_equal(ds[0].descriptors, ds[3].descriptors)


@pytest.mark.parametrize(
    "make",
    [
        lambda j: SIFT(n_jobs=j),
        lambda j: DenseSIFT(step=16, sizes=(4, 8), n_jobs=j),
        lambda j: ORB(n_features=50, n_jobs=j),
    ],
    ids=["sift", "dense", "orb"],
)
def test_parallel_equals_serial(make: Any, photos: dict[str, np.ndarray]) -> None:
    images = list(photos.values()) * 3  # 12 images: several chunks per worker
    serial = make(1).transform(images)
    _same(make(2).transform(images), serial)
    _same(make(-1).transform(iter(images)), serial)  # any iterable, all cores


def test_sklearn_contract(photos: dict[str, np.ndarray]) -> None:
    est = DenseSIFT(step=16, sizes=(8,), verbose=True)
    assert est.fit([photos["camera"]]) is est
    twin = clone(est)
    assert twin.get_params() == est.get_params()
    _same(est.fit_transform([photos["camera"]]), twin.transform([photos["camera"]]))
    assert "step=16" in repr(est)
    with pytest.raises(InvalidInputError, match="n_jobs must be None, -1 or a positive int"):
        SIFT(n_jobs=0).transform([photos["camera"]])
