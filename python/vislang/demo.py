"""``python -m vislang.demo``: vislang end to end on data that ships with it, as an HTML report.

Runs offline in about a minute on two CPU cores:

1. the built-in shapes world (:func:`vislang.data.make_shapes`): generation speed and a grid of
   images with their captions;
2. a visual vocabulary: SIFT descriptors of the photographs bundled with scikit-image, clustered
   by :class:`vislang.VisualVocabulary` and by :class:`sklearn.cluster.KMeans` with the same
   settings (time and inertia), and a picture of some visual words (the descriptor patches
   nearest to a few centres).

It writes ``DIR/metrics.json`` and a self-contained ``DIR/report.html`` (PNG plots embedded as
base64) and prints where they are. ``--quick`` shrinks every step for tests.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import os
import platform
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from vislang.data import CaptionDataset

__all__ = ["extract_sift", "main", "skimage_photos"]

DEFAULT_OUT = "vislang-demo-out"
#: scikit-image sample images stored inside its wheel (no download needed).
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


@dataclass
class Descriptors:
    """SIFT descriptors with where they come from (to cut out the patch they describe)."""

    X: NDArray[np.float32]  # (n, 128)
    image: NDArray[np.int64]  # (n,) index into the grey images
    xy: NDArray[np.float32]  # (n, 2) keypoint centre
    scale: NDArray[np.float32]  # (n,) keypoint diameter in pixels
    images: list[NDArray[np.uint8]]  # grey images


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
    """SIFT keypoints and descriptors (OpenCV) of grey uint8 images.

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
    import cv2

    sift = cv2.SIFT_create(nfeatures=n_features)  # type: ignore[attr-defined,unused-ignore]
    xs, idx, xy, scale = [], [], [], []
    for i, img in enumerate(images):
        keypoints, desc = sift.detectAndCompute(img, None)
        if desc is None:
            continue
        xs.append(desc.astype(np.float32))
        idx.append(np.full(len(keypoints), i, dtype=np.int64))
        xy.append(np.array([k.pt for k in keypoints], dtype=np.float32).reshape(-1, 2))
        scale.append(np.array([k.size for k in keypoints], dtype=np.float32))
    if not xs:
        return Descriptors(
            np.zeros((0, 128), np.float32),
            np.zeros(0, np.int64),
            np.zeros((0, 2), np.float32),
            np.zeros(0, np.float32),
            images,
        )
    return Descriptors(
        np.concatenate(xs), np.concatenate(idx), np.concatenate(xy), np.concatenate(scale), images
    )


# ---------------------------------------------------------------------- plots
def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _shapes_grid(ds: CaptionDataset, n: int) -> Figure:
    from matplotlib.figure import Figure

    cols = 4
    rows = max(1, (n + cols - 1) // cols)
    fig = Figure(figsize=(cols * 3.2, rows * 3.9))
    for k in range(n):
        ax = fig.add_subplot(rows, cols, k + 1)
        ax.imshow(ds.load_image(k), interpolation="nearest")
        text = "\n".join(textwrap.fill(c, 34) for c in ds.captions[k][:2])
        ax.set_title(text, fontsize=7.5, loc="left")
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def _patch(d: Descriptors, i: int, out: int = 32) -> NDArray[np.uint8]:
    """The square image region a descriptor summarises, resized to ``out`` x ``out``."""
    import cv2

    img = d.images[int(d.image[i])]
    x, y = d.xy[i]
    half = max(4, round(float(d.scale[i]) * 1.5))
    padded = np.pad(img, half, mode="reflect")
    x0, y0 = round(float(x)), round(float(y))
    crop = padded[y0 : y0 + 2 * half + 1, x0 : x0 + 2 * half + 1]
    return np.asarray(cv2.resize(crop, (out, out), interpolation=cv2.INTER_AREA), dtype=np.uint8)


def _visual_words(
    d: Descriptors, centers: NDArray[Any], labels: NDArray[np.int32], n_words: int, n_patches: int
) -> Figure:
    from matplotlib.figure import Figure

    counts = np.bincount(labels, minlength=len(centers))
    words = np.argsort(-counts, kind="stable")[:n_words]
    fig = Figure(figsize=(n_patches * 0.9 + 1.2, len(words) * 0.95))
    for r, w in enumerate(words):
        members = np.flatnonzero(labels == w)
        dist = ((d.X[members] - centers[w]) ** 2).sum(axis=1)
        nearest = members[np.argsort(dist, kind="stable")[:n_patches]]
        for c, i in enumerate(nearest):
            ax = fig.add_subplot(len(words), n_patches, r * n_patches + c + 1)
            ax.imshow(_patch(d, int(i)), cmap="gray", vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(f"word {w}\n(n={counts[w]})", fontsize=7, rotation=0, labelpad=28)
    fig.suptitle("Visual words: the SIFT patches nearest to the most used centres", fontsize=9)
    return fig


def _timing_bars(timings: dict[str, float], title: str) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 0.55 * len(timings) + 1.2))
    ax = fig.add_subplot(1, 1, 1)
    names = list(timings)
    values = [timings[k] for k in names]
    bars = ax.barh(names, values, color=["#3b6fd8" if "vislang" in k else "#999999" for k in names])
    ax.bar_label(bars, labels=[f"{v:.2f} s" for v in values], fontsize=8, padding=3)
    ax.invert_yaxis()
    ax.set_xlabel("seconds (lower is better)")
    ax.set_title(title, fontsize=9)
    ax.set_xlim(0, max([*values, 1e-3]) * 1.25)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------- steps
def _shapes_step(quick: bool, seed: int) -> tuple[dict[str, Any], CaptionDataset]:
    from vislang.data import make_shapes

    n_train, n_other = (200, 20) if quick else (4000, 400)
    t0 = time.perf_counter()
    ds = make_shapes(n_train, n_other, n_other, n_other, seed=seed)
    seconds = time.perf_counter() - t0
    scenes = ds.annotations or []
    by_split: dict[str, set[tuple[str, str]]] = {}
    for scene, split in zip(scenes, ds.splits, strict=True):
        by_split.setdefault(split, set()).update(scene.pairs())
    train_pairs = by_split.get("train", set())
    heldout_pairs = by_split.get("heldout", set())
    metrics = {
        "n_images": len(ds),
        "n_captions": ds.n_captions,
        "splits": ds.split_counts(),
        "image_size": int(ds.load_image(0).shape[0]),
        "generation_seconds": round(seconds, 4),
        "images_per_second": round(len(ds) / max(seconds, 1e-9), 1),
        "vocabulary_size": len(ds.vocabulary()),
        "colour_shape_pairs_in_train": len(train_pairs),
        "heldout_pairs": sorted(" ".join(p) for p in heldout_pairs - train_pairs),
    }
    return metrics, ds


def _vocab_step(quick: bool, seed: int) -> tuple[dict[str, Any], Descriptors, Any]:
    from sklearn.cluster import KMeans

    from vislang import VisualVocabulary

    names = PHOTO_NAMES[:4] if quick else PHOTO_NAMES
    photos = skimage_photos(names)
    t0 = time.perf_counter()
    d = extract_sift(list(photos.values()), n_features=400 if quick else 3000)
    t_sift = time.perf_counter() - t0
    k = 32 if quick else 256
    k = min(k, len(d.X))
    print(f"  {len(d.X)} SIFT descriptors from {len(photos)} photos; k-means with k={k}")

    t0 = time.perf_counter()
    vocab = VisualVocabulary(n_clusters=k, random_state=seed, verbose=True).fit(d.X)
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
    }
    return metrics, d, vocab


# ---------------------------------------------------------------------- report
_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
h1 { margin-bottom: 0; } .sub { color: #666; margin-top: .2em; }
table { border-collapse: collapse; margin: .6em 0 1.2em; font-size: 14px; }
td, th { border: 1px solid #ccc; padding: 3px 10px; text-align: left; }
th { background: #f3f3f3; } img { max-width: 100%; }
"""


def _table(rows: list[tuple[str, Any]]) -> str:
    body = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows
    )
    return f"<table>{body}</table>"


def _img(b64: str, alt: str) -> str:
    return f'<p><img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}"></p>'


def _report(metrics: dict[str, Any], figures: dict[str, str]) -> str:
    sh, vo = metrics["shapes"], metrics["vocabulary"]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>vislang demo</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>vislang demo</h1>",
        f"<p class='sub'>vislang {html.escape(str(metrics['vislang_version']))} · "
        f"{html.escape(metrics['platform'])} · {metrics['cpu_count']} CPUs · "
        f"{metrics['total_seconds']:.1f} s{' · quick mode' if metrics['quick'] else ''}</p>",
        "<h2>1. The shapes world</h2>",
        "<p>Procedural scenes with paraphrased captions that are true of their image; relations "
        "and attribute binding matter, and some colour+shape pairs appear only in the "
        "<code>heldout</code> split.</p>",
        _table(
            [
                ("images", sh["n_images"]),
                ("captions", sh["n_captions"]),
                ("splits", sh["splits"]),
                ("image size", f"{sh['image_size']}×{sh['image_size']}"),
                (
                    "generation",
                    f"{sh['generation_seconds']:.2f} s ({sh['images_per_second']:.0f} images/s)",
                ),
                ("caption vocabulary", f"{sh['vocabulary_size']} words"),
                ("colour+shape pairs only in heldout", ", ".join(sh["heldout_pairs"])),
            ]
        ),
        _img(figures["shapes_grid"], "shapes images with captions"),
        "<h2>2. A visual vocabulary of SIFT descriptors</h2>",
        f"<p>{vo['n_descriptors']} SIFT descriptors ({vo['descriptor_dim']}-d) of "
        f"{len(vo['photos'])} photos bundled with scikit-image "
        f"({html.escape(', '.join(vo['photos']))}), clustered into k={vo['n_clusters']} visual "
        "words with the same settings (k-means++, one run, max_iter=300, tol=1e-4).</p>",
        _table(
            [
                ("SIFT extraction", f"{vo['sift_seconds']:.2f} s"),
                (
                    "vislang.VisualVocabulary",
                    f"{vo['vislang']['fit_seconds']:.2f} s, inertia "
                    f"{vo['vislang']['inertia']:.4g}, {vo['vislang']['n_iter']} iterations",
                ),
                (
                    "sklearn.cluster.KMeans",
                    f"{vo['sklearn']['fit_seconds']:.2f} s, inertia "
                    f"{vo['sklearn']['inertia']:.4g}, {vo['sklearn']['n_iter']} iterations",
                ),
                ("speed-up", f"{vo['speedup_vs_sklearn']:.1f}×"),
                ("inertia ratio (vislang / sklearn)", vo["inertia_ratio_vislang_over_sklearn"]),
            ]
        ),
        _img(figures["timings"], "k-means timings"),
        _img(figures["visual_words"], "visual words"),
        "<p class='sub'>Raw numbers: <code>metrics.json</code> next to this file.</p>",
        "</body></html>",
    ]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    """Run the demo; ``argv`` defaults to ``sys.argv[1:]``. Returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m vislang.demo",
        description="Run vislang end to end on built-in data and write an HTML report.",
    )
    parser.add_argument(
        "--out", default=DEFAULT_OUT, help=f"output folder (default ./{DEFAULT_OUT})"
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for tests (seconds)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    import vislang

    t_start = time.perf_counter()
    print("[1/2] generating the shapes world ...", flush=True)
    shapes_metrics, ds = _shapes_step(args.quick, args.seed)
    print(f"  {shapes_metrics['n_images']} images in {shapes_metrics['generation_seconds']:.2f} s")
    print(
        "[2/2] visual vocabulary: SIFT on scikit-image photos, vislang vs scikit-learn ...",
        flush=True,
    )
    vocab_metrics, desc, vocab = _vocab_step(args.quick, args.seed)
    print(
        f"  vislang {vocab_metrics['vislang']['fit_seconds']:.2f} s, "
        f"sklearn {vocab_metrics['sklearn']['fit_seconds']:.2f} s, inertia ratio "
        f"{vocab_metrics['inertia_ratio_vislang_over_sklearn']}"
    )

    figures = {
        "shapes_grid": _png(_shapes_grid(ds, 8 if args.quick else 12)),
        "visual_words": _png(
            _visual_words(
                desc,
                vocab.cluster_centers_,
                vocab.labels_,
                4 if args.quick else 8,
                6 if args.quick else 10,
            )
        ),
        "timings": _png(
            _timing_bars(
                {
                    "vislang.VisualVocabulary": vocab_metrics["vislang"]["fit_seconds"],
                    "sklearn KMeans": vocab_metrics["sklearn"]["fit_seconds"],
                    "SIFT extraction (OpenCV)": vocab_metrics["sift_seconds"],
                    "shapes generation": shapes_metrics["generation_seconds"],
                },
                f"k-means, n={vocab_metrics['n_descriptors']}, d=128, "
                f"k={vocab_metrics['n_clusters']}",
            )
        ),
    }
    metrics: dict[str, Any] = {
        "vislang_version": vislang.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(terse=True),
        "cpu_count": os.cpu_count(),
        "quick": bool(args.quick),
        "seed": args.seed,
        "shapes": shapes_metrics,
        "vocabulary": vocab_metrics,
    }
    metrics["total_seconds"] = round(time.perf_counter() - t_start, 3)
    metrics_path = out / "metrics.json"
    report_path = out / "report.html"
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    report_path.write_text(_report(metrics, figures), encoding="utf-8")
    print(f"report:  {report_path.resolve()}")
    print(f"metrics: {metrics_path.resolve()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
