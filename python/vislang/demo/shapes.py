"""Section 1: the built-in shapes world (:func:`vislang.data.make_shapes`): generation speed and
a grid of images with their captions."""

from __future__ import annotations

import textwrap
import time
from typing import TYPE_CHECKING, Any

from vislang.demo._common import Context
from vislang.report import Report, figure_png

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from vislang.data import CaptionDataset

KEY = "shapes"
TITLE = "generating the shapes world"
HEADING = "The shapes world"


def run(ctx: Context) -> dict[str, Any]:
    metrics, ds = _shapes_step(ctx.quick, ctx.seed)
    ctx.shared["shapes"] = ds
    ctx.shared["shapes_seconds"] = metrics["generation_seconds"]
    ctx.figures["shapes_grid"] = figure_png(_shapes_grid(ds, 8 if ctx.quick else 12))
    return metrics


def report(r: Report, metrics: dict[str, Any], ctx: Context) -> None:
    sh = metrics["shapes"]
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
    r.image(ctx.figures["shapes_grid"], "shapes images with captions")


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
