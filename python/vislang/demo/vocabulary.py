"""Section 2: a visual vocabulary. SIFT descriptors (:class:`vislang.features.SIFT`) of the
photographs bundled with scikit-image, clustered by :class:`vislang.VisualVocabulary` and by
:class:`sklearn.cluster.KMeans` with the same settings (time and inertia), and a picture of some
visual words (:func:`vislang.bovw.word_patches`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from vislang.demo._common import Context, timing_bars
from vislang.report import Report, figure_png

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from vislang.features import DescriptorSet

KEY = "vocabulary"
TITLE = "visual vocabulary of SIFT on scikit-image photos"
HEADING = "A visual vocabulary of SIFT descriptors"

PHOTO_NAMES = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "camera",
    "coins",
    "moon",
    "page",
    "text",
    "brick",
    "grass",
    "gravel",
    "clock",
    "colorwheel",
    "immunohistochemistry",
    "hubble_deep_field",
)


def run(ctx: Context) -> dict[str, Any]:
    metrics, desc, vocab = _vocab_step(ctx.quick, ctx.seed, ctx.n_jobs, ctx.progress, ctx.echo)
    n_words, n_patches = (4, 6) if ctx.quick else (8, 10)
    ctx.figures["visual_words"] = figure_png(_visual_words(desc, vocab, n_words, n_patches))
    shapes = ctx.shared.get("shapes_seconds")
    timings = {
        "vislang.VisualVocabulary": metrics["vislang"]["fit_seconds"],
        "sklearn KMeans": metrics["sklearn"]["fit_seconds"],
        "SIFT extraction (OpenCV)": metrics["sift_seconds"],
        "dense SIFT (vislang, Rust)": metrics["dense_sift"]["rust_seconds"],
        "dense SIFT (OpenCV)": metrics["dense_sift"]["opencv_seconds"],
        **({"shapes generation": shapes} if shapes is not None else {}),
    }
    ctx.figures["timings"] = figure_png(
        timing_bars(
            timings,
            f"k-means, n={metrics['n_descriptors']}, d=128, k={metrics['n_clusters']}; "
            f"dense SIFT of {metrics['dense_sift']['n_images']} photos "
            f"({metrics['dense_sift']['n_descriptors']} descriptors)",
        )
    )
    return metrics


def report(r: Report, metrics: dict[str, Any], ctx: Context) -> None:
    vo = metrics["vocabulary"]
    ds = vo["dense_sift"]
    r.text(
        f"{vo['n_descriptors']} SIFT descriptors ({vo['descriptor_dim']}-d) of {len(vo['photos'])} "
        f"photos bundled with scikit-image ({', '.join(vo['photos'])}), clustered into "
        f"k={vo['n_clusters']} visual words with the same settings (k-means++, one run, "
        "max_iter=300, tol=1e-4)."
    )
    r.table(
        [
            ("SIFT extraction", f"{vo['sift_seconds']:.2f} s"),
            (
                "vislang.VisualVocabulary",
                f"{vo['vislang']['fit_seconds']:.2f} s, inertia {vo['vislang']['inertia']:.4g}, "
                f"{vo['vislang']['n_iter']} iterations",
            ),
            (
                "sklearn.cluster.KMeans",
                f"{vo['sklearn']['fit_seconds']:.2f} s, inertia {vo['sklearn']['inertia']:.4g}, "
                f"{vo['sklearn']['n_iter']} iterations",
            ),
            ("speed-up", f"{vo['speedup_vs_sklearn']:.1f}×"),
            ("inertia ratio (vislang / sklearn)", vo["inertia_ratio_vislang_over_sklearn"]),
            (
                "dense SIFT, PHOW settings "
                f"({ds['n_images']} crops of {ds['side']} x {ds['side']}, "
                f"{ds['n_descriptors']} descriptors)",
                f"vislang (Rust) {ds['rust_seconds']:.2f} s, OpenCV {ds['opencv_seconds']:.2f} s "
                f"({ds['speedup']:.1f}×)",
            ),
        ]
    )
    r.image(ctx.figures["timings"], "k-means and dense SIFT timings")
    r.image(ctx.figures["visual_words"], "visual words")


@dataclass
class Descriptors:
    """SIFT descriptors with where they come from: the :class:`~vislang.features.DescriptorSet`
    (keypoints: centre and scale) and the grey images it describes."""

    descriptor_set: DescriptorSet
    images: list[NDArray[np.uint8]]  # grey images

    @property
    def X(self) -> NDArray[np.float32]:
        """Descriptors of shape (n, 128), float32."""
        return np.asarray(self.descriptor_set.descriptors, dtype=np.float32)

    @property
    def image(self) -> NDArray[np.int64]:
        """(n,) index into the grey images."""
        return self.descriptor_set.image_ids

    @property
    def xy(self) -> NDArray[np.float32]:
        """(n, 2) keypoint centres."""
        kp = self.descriptor_set.keypoints
        return np.zeros((len(self.X), 2), np.float32) if kp is None else kp[:, :2]

    @property
    def scale(self) -> NDArray[np.float32]:
        """(n,) keypoint diameters in pixels."""
        kp = self.descriptor_set.keypoints
        return np.zeros(len(self.X), np.float32) if kp is None else kp[:, 2]


def skimage_photos(names: tuple[str, ...] = PHOTO_NAMES) -> dict[str, NDArray[np.uint8]]:
    """The named scikit-image sample photos as grey uint8 arrays; any not bundled is skipped."""
    import skimage.data

    out: dict[str, NDArray[np.uint8]] = {}
    for name in names:
        try:
            img = np.asarray(getattr(skimage.data, name)())
        except Exception:  # a photo that would need a download is simply left out
            continue
        if img.ndim == 3:
            rgb = img[..., :3].astype(np.float32)
            img = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        if img.dtype == bool:
            img = img.astype(np.uint8) * 255
        elif img.dtype != np.uint8:
            img = np.clip(img, 0, 255).astype(np.uint8)
        out[name] = np.ascontiguousarray(img)
    return out


def extract_sift(images: list[NDArray[np.uint8]], n_features: int = 0) -> Descriptors:
    """SIFT keypoints and descriptors of grey uint8 images (:class:`vislang.features.SIFT`).

    Parameters
    ----------
    images : list of uint8 arrays of shape (height, width)
    n_features : int, default=0
        Keep at most this many strongest keypoints per image (0 = all).

    Returns
    -------
    Descriptors
        ``X`` of shape (n_descriptors, 128), float32, with the source image, centre and scale of
        each descriptor.
    """
    from vislang.features import SIFT

    return Descriptors(SIFT(n_features=n_features).transform(images), list(images))


def _vocab_step(
    quick: bool, seed: int, n_jobs: int | None, progress: bool, echo: bool
) -> tuple[dict[str, Any], Descriptors, Any]:
    from sklearn.cluster import KMeans

    from vislang import VisualVocabulary

    names = PHOTO_NAMES[:4] if quick else PHOTO_NAMES
    photos = skimage_photos(names)
    t0 = time.perf_counter()
    d = extract_sift(list(photos.values()), n_features=400 if quick else 3000)
    t_sift = time.perf_counter() - t0
    k = 32 if quick else 256
    k = min(k, len(d.X))
    if echo:
        print(f"  {len(d.X)} SIFT descriptors from {len(photos)} photos; k-means with k={k}")

    t0 = time.perf_counter()
    vocab = VisualVocabulary(n_clusters=k, random_state=seed, n_jobs=n_jobs, verbose=progress).fit(
        d.X
    )
    t_vislang = time.perf_counter() - t0

    t0 = time.perf_counter()
    km = KMeans(
        n_clusters=k, init="k-means++", n_init=1, max_iter=300, tol=1e-4, random_state=seed
    ).fit(d.X)
    t_sklearn = time.perf_counter() - t0

    metrics = {
        "photos": list(photos),
        "n_descriptors": len(d.X),
        "descriptor_dim": int(d.X.shape[1]),
        "n_clusters": k,
        "sift_seconds": round(t_sift, 4),
        "vislang": {
            "fit_seconds": round(t_vislang, 4),
            "inertia": float(vocab.inertia_),
            "n_iter": int(vocab.n_iter_),
        },
        "sklearn": {
            "fit_seconds": round(t_sklearn, 4),
            "inertia": float(km.inertia_),
            "n_iter": int(km.n_iter_),
        },
        "speedup_vs_sklearn": round(t_sklearn / max(t_vislang, 1e-9), 2),
        "inertia_ratio_vislang_over_sklearn": round(float(vocab.inertia_) / float(km.inertia_), 4),
        "dense_sift": _dense_sift_timing(list(photos.values()), quick, n_jobs),
    }
    return metrics, d, vocab


def _dense_sift_timing(
    photos: list[NDArray[np.uint8]], quick: bool, n_jobs: int | None
) -> dict[str, Any]:
    """Dense SIFT at PHOW settings (step 8, bin sizes 4/6/8/10) on centre crops of the photos:
    vislang's Rust kernel against OpenCV's per-keypoint SIFT (``backend="opencv"``)."""
    from vislang.features import DenseSIFT

    n, side = (2, 128) if quick else (4, 256)
    crops = []
    for img in photos:
        if min(img.shape[:2]) >= side:
            y, x = (img.shape[0] - side) // 2, (img.shape[1] - side) // 2
            crops.append(np.ascontiguousarray(img[y : y + side, x : x + side]))
        if len(crops) == n:
            break
    seconds: dict[str, float] = {}
    n_desc = 0
    for backend in ("rust", "opencv"):
        ext = DenseSIFT(step=8, sizes=(4, 6, 8, 10), magnif=6.0, backend=backend, n_jobs=n_jobs)
        t0 = time.perf_counter()
        n_desc = ext.transform(crops).n_descriptors
        seconds[backend] = round(time.perf_counter() - t0, 4)
    return {
        "n_images": len(crops),
        "side": side,
        "n_descriptors": int(n_desc),
        "rust_seconds": seconds["rust"],
        "opencv_seconds": seconds["opencv"],
        "speedup": round(seconds["opencv"] / max(seconds["rust"], 1e-9), 2),
    }


def _visual_words(d: Descriptors, vocab: Any, n_words: int, n_patches: int) -> Figure:
    """The patches nearest to the most used centres (:func:`vislang.bovw.word_patches`)."""
    from matplotlib.figure import Figure

    from vislang.bovw import word_patches

    counts = np.bincount(vocab.labels_, minlength=len(vocab.cluster_centers_))
    words = np.argsort(-counts, kind="stable")[:n_words]
    n_patches = min(n_patches, len(d.X))
    words, patches = word_patches(
        d.images, vocab, words, n_patches, descriptor_set=d.descriptor_set, patch_size=32
    )
    fig = Figure(figsize=(n_patches * 0.9 + 1.2, len(words) * 0.95))
    for r, w in enumerate(words):
        for c in range(n_patches):
            ax = fig.add_subplot(len(words), n_patches, r * n_patches + c + 1)
            ax.imshow(patches[r, c], cmap="gray", vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(f"word {w}\n(n={counts[w]})", fontsize=7, rotation=0, labelpad=28)
    fig.suptitle("Visual words: the SIFT patches nearest to the most used centres", fontsize=9)
    return fig
