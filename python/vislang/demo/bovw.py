"""Section 3: bag-of-visual-words classification of the shapes. Colour dense SIFT
(:class:`vislang.features.DenseSIFT`), a vocabulary, BoW / spatial-pyramid / VLAD codes
(:func:`vislang.encode`) and a linear SVM, on four tasks of rising difficulty for a bag of words:
the shape and the colour of a single object, attribute binding (is the red object the circle?)
and a spatial relation (is the red object left of the blue one?)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from vislang.demo._common import Context, progress_bar
from vislang.report import Report, figure_png

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from vislang.features import DescriptorSet

KEY = "bovw_classification"
TITLE = "bag-of-visual-words classification of the shapes"
HEADING = "Bag-of-visual-words classification of the shapes"

#: Opponent-colour dense SIFT on the 64x64 shapes images: one 16-pixel patch every 8 pixels.
SHAPES_STEP, SHAPES_SIZES, SHAPES_COLOR = 8, (4,), "opponent"


def run(ctx: Context) -> dict[str, Any]:
    metrics, figures, features = _bovw_step(ctx.quick, ctx.seed, ctx.n_jobs, ctx.progress)
    ctx.figures.update(figures)
    ctx.shared["shapes_features"] = features
    return metrics


def report(r: Report, metrics: dict[str, Any], ctx: Context) -> None:
    bo = metrics["bovw_classification"]
    tasks = bo["tasks"]
    encodings = list(next(iter(tasks.values()))["accuracy"])
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
    r.image(ctx.figures["accuracy"], "accuracy per task and encoding")
    r.image(ctx.figures["confusion"], "confusion matrices")
    r.image(ctx.figures["task_examples"], "task images")


def _verdict(task: dict[str, Any]) -> str:
    """A short reading of a task's accuracies against its majority-class rate."""
    base = task["majority"]
    parts = []
    for name, acc in task["accuracy"].items():
        label = "solved" if acc >= 0.9 else "near chance" if acc < base + 0.1 else "partly"
        parts.append(f"{name.split(' (')[0]}: {label}")
    return "; ".join(parts)


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
    for t in progress_bar(tasks, progress, "describing task images"):
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
    for t in progress_bar(tasks, progress, "training linear SVMs"):
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
