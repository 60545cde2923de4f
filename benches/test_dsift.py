"""Dense SIFT: vislang's Rust kernel (VLFeat's way) vs OpenCV's per-keypoint SIFT, side by side.

PHOW settings (step 8, bin sizes 4/6/8/10, magnif 6), gray images, on two image sets:

- ``photos256``: real photos at 256 x 256 (``$VISLANG_DATA/flickr8k-1k/images`` when present,
  default ``../shared/data``; otherwise scikit-image's bundled photos, tiled crops);
- ``cifar32``: 32 x 32 images (``$VISLANG_DATA/cifar10-train-5k`` when present, otherwise
  32 x 32 crops of the scikit-image photos).

Groups:

- ``dsift per descriptor <set>``: ``DenseSIFT(backend="rust")`` vs ``DenseSIFT(backend="opencv")``
  (``SIFT.compute`` at every grid point, the pipeline before the Rust kernel), both on
  ``VISLANG_BENCH_THREADS`` threads. ``extra_info`` has microseconds per descriptor.
- ``dsift + encode k=1024 <set>``: end to end from images to hard bag-of-words histograms
  against a fixed 1,024-word vocabulary. ``vislang``: Rust dense SIFT + ``vislang.encode``;
  ``opencv+sklearn``: OpenCV dense SIFT + ``MiniBatchKMeans.predict`` + ``np.bincount`` (the
  pipeline a user builds today). The vocabulary (MiniBatchKMeans on a sample of OpenCV
  descriptors) is fitted once, outside the timing.

``VISLANG_BENCH_SCALE``: ``smoke`` (a few tiny images, CI), ``default`` (48 photos, 800 CIFAR
images), ``full`` (200 photos, 5,000 CIFAR images).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vislang
from vislang.features import DenseSIFT

SCALE = os.environ.get("VISLANG_BENCH_SCALE", "default")
THREADS = int(os.environ.get("VISLANG_BENCH_THREADS", "2"))
_ROOT = Path(__file__).resolve().parents[1]
# The shared data sit beside the clone (../shared/data) or beside its parent (worktrees).
DATA = Path(
    os.environ.get(
        "VISLANG_DATA",
        next(
            (
                p
                for p in (_ROOT.parent / "shared" / "data", _ROOT.parents[1] / "shared" / "data")
                if p.is_dir()
            ),
            _ROOT.parent / "shared" / "data",
        ),
    )
)
STEP, SIZES, MAGNIF = 8, (4, 6, 8, 10), 6.0
N_WORDS = 32 if SCALE == "smoke" else 1024
# (photos, cifar images, side of the "photos" set, rounds)
N_PHOTOS, N_CIFAR, SIDE, ROUNDS = {
    "smoke": (3, 20, 64, 1),
    "default": (48, 800, 256, 2),
    "full": (200, 5000, 256, 3),
}[SCALE]

cv2 = pytest.importorskip("cv2")


@pytest.fixture(scope="module", autouse=True)
def _threads() -> Iterator[None]:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=THREADS):
        cv2.setNumThreads(THREADS)
        yield


def _skimage_photos() -> list[np.ndarray]:
    skdata = pytest.importorskip("skimage.data")
    out = []
    for name in ("astronaut", "camera", "coffee", "chelsea", "rocket", "immunohistochemistry"):
        img = getattr(skdata, name)()
        out.append(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) if img.ndim == 3 else img)
    return out


def _crops(images: list[np.ndarray], n: int, side: int) -> list[np.ndarray]:
    """``n`` square crops of ``side`` pixels (resized so that each photo gives several)."""
    rng = np.random.default_rng(0)
    out = []
    while len(out) < n:
        img = images[len(out) % len(images)]
        scale = 2 * side / min(img.shape)
        if scale < 1:
            img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        y = int(rng.integers(0, img.shape[0] - side + 1))
        x = int(rng.integers(0, img.shape[1] - side + 1))
        out.append(np.ascontiguousarray(img[y : y + side, x : x + side]))
    return out


def _read_gray(paths: list[Path], side: int) -> list[np.ndarray]:
    out = []
    for p in paths:
        img = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
        if img is not None:
            out.append(cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA))
    return out


_SETS: dict[str, tuple[list[np.ndarray], str]] = {}


def image_set(name: str) -> tuple[list[np.ndarray], str]:
    """The images of a set and where they came from."""
    if name in _SETS:
        return _SETS[name]
    if name == "photos256":
        folder = DATA / "flickr8k-1k" / "images"
        paths = sorted(folder.glob("*.jpg"))[:N_PHOTOS] if folder.is_dir() else []
        imgs = _read_gray(paths, SIDE) if SCALE != "smoke" else []
        src = f"flickr8k-1k ({len(imgs)} photos)"
        if len(imgs) < N_PHOTOS:
            imgs, src = _crops(_skimage_photos(), N_PHOTOS, SIDE), "scikit-image crops"
    else:
        root = DATA / "cifar10-train-5k"
        paths = []
        if root.is_dir() and SCALE != "smoke":
            classes = sorted(p for p in root.iterdir() if p.is_dir())
            per = -(-N_CIFAR // max(len(classes), 1))
            for c in classes:
                paths += sorted(c.glob("*.jpg"))[:per]
        imgs = _read_gray(paths[:N_CIFAR], 32)
        src = f"cifar10-train-5k ({len(imgs)} images)"
        if len(imgs) < N_CIFAR:
            imgs, src = _crops(_skimage_photos(), N_CIFAR, 32), "scikit-image 32x32 crops"
    _SETS[name] = (imgs, src)
    return _SETS[name]


def extractor(backend: str) -> DenseSIFT:
    return DenseSIFT(step=STEP, sizes=SIZES, magnif=MAGNIF, backend=backend, n_jobs=THREADS)


_VOCAB: dict[str, Any] = {}


def vocabulary(name: str) -> Any:
    """MiniBatchKMeans(1024) on OpenCV dense SIFT of the set (fitted once, not timed)."""
    if name not in _VOCAB:
        from sklearn.cluster import MiniBatchKMeans

        imgs, _ = image_set(name)
        X = extractor("opencv").transform(imgs[: max(4, len(imgs) // 4)]).descriptors
        k = min(N_WORDS, len(X))
        _VOCAB[name] = MiniBatchKMeans(k, n_init=1, random_state=0, batch_size=4096).fit(X)
    return _VOCAB[name]


def _info(benchmark: Any, n_images: int, n_desc: int, src: str) -> None:
    benchmark.extra_info.update(
        {
            "images": n_images,
            "descriptors": n_desc,
            "source": src,
            "threads": THREADS,
            "load_avg": list(os.getloadavg()),
        }
    )


def _timed(benchmark: Any, fn: Callable[[], Any]) -> Any:
    return benchmark.pedantic(fn, rounds=ROUNDS, iterations=1, warmup_rounds=0)


def _rate(benchmark: Any, n_images: int, n_desc: int) -> None:
    stats = getattr(benchmark, "stats", None)
    if stats is None:  # --benchmark-disable
        return
    t = stats.stats.median
    benchmark.extra_info["us_per_descriptor"] = 1e6 * t / max(n_desc, 1)
    benchmark.extra_info["images_per_s"] = n_images / t


@pytest.mark.parametrize("data", ["photos256", "cifar32"])
@pytest.mark.parametrize("impl", ["vislang", "opencv"])
def test_dsift_per_descriptor(benchmark: Any, impl: str, data: str) -> None:
    benchmark.group = f"dsift per descriptor {data}"
    imgs, src = image_set(data)
    ext = extractor("rust" if impl == "vislang" else "opencv")
    ds = _timed(benchmark, lambda: ext.transform(imgs))
    assert ds.n_images == len(imgs) and ds.n_dims == 128
    _info(benchmark, len(imgs), ds.n_descriptors, src)
    _rate(benchmark, len(imgs), ds.n_descriptors)


@pytest.mark.parametrize("data", ["photos256", "cifar32"])
@pytest.mark.parametrize("impl", ["vislang", "opencv+sklearn"])
def test_dsift_encode_end_to_end(benchmark: Any, impl: str, data: str) -> None:
    benchmark.group = f"dsift + encode k=1024 {data}"
    imgs, src = image_set(data)
    km = vocabulary(data)
    C = np.ascontiguousarray(km.cluster_centers_, dtype=np.float32)
    k = len(C)
    if impl == "vislang":
        ext = extractor("rust")

        def run() -> np.ndarray:
            ds = ext.transform(imgs)
            return vislang.encode(ds, C, encoding="hard", norm=None, n_jobs=THREADS)
    else:
        ext = extractor("opencv")

        def run() -> np.ndarray:
            ds = ext.transform(imgs)
            labels = km.predict(ds.descriptors)
            rows = ds.image_ids * k + labels.astype(np.int64)
            counts = np.bincount(rows, minlength=ds.n_images * k)
            return counts.reshape(ds.n_images, k).astype(np.float32)

    H = _timed(benchmark, run)
    assert H.shape == (len(imgs), k)
    n_desc = len(imgs) * len(SIZES) * len(range(STEP // 2, imgs[0].shape[0], STEP)) ** 2
    _info(benchmark, len(imgs), n_desc, src)
    _rate(benchmark, len(imgs), n_desc)
