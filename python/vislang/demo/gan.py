"""Section 7: text-to-image synthesis (Reed et al. 2016): a small GAN-INT-CLS trained on the
shapes world with the text encoder of a VSE model, its samples per prompt and a text
interpolation strip (:func:`vislang.train.gan.demo_figures`)."""

from __future__ import annotations

import time
from typing import Any

from vislang.demo._common import Context
from vislang.report import Report, figure_png

KEY = "gan"
TITLE = "GAN-INT-CLS text-to-image"
HEADING = "Text-to-image synthesis: GAN-INT-CLS"


def run(ctx: Context) -> dict[str, Any]:
    try:
        from vislang.train.gan import demo_figures
    except ImportError as e:
        return {"available": False, "note": f"not available in this build ({e})"}
    t0 = time.perf_counter()
    figs = demo_figures(device=ctx.device, progress=ctx.progress, seed=ctx.seed, quick=ctx.quick)
    for i, fig in enumerate(figs):
        ctx.figures[f"gan_{i}"] = figure_png(fig)
    return {
        "available": True,
        "seconds": round(time.perf_counter() - t0, 1),
        "n_figures": len(figs),
    }


def report(r: Report, metrics: dict[str, Any], ctx: Context) -> None:
    m = metrics[KEY]
    if not m["available"]:
        r.note(f"Text-to-image synthesis is {m['note']}.")
        return
    r.text(
        f"A 32x32 GAN-INT-CLS trained briefly on shapes images ({m['seconds']:.0f} s on "
        f"{ctx.device}): the matching-aware discriminator and text interpolation of the paper."
    )
    r.note(
        "Two hundred generator steps (lr 1e-3, batch 32, with the MSGAN mode-seeking term so "
        "that z matters): expect coloured blobs whose colour and place follow the caption, not "
        "clean shapes. The runner (vislang train gan-int-cls) reports attribute accuracy, "
        "R-precision and FID; see benches/results/gan.md for trained numbers."
    )
    for i in range(m["n_figures"]):
        r.image(ctx.figures[f"gan_{i}"], "GAN samples" if i == 0 else "text interpolation")
