"""Section 9: word-region alignment on the shapes world (Karpathy & Fei-Fei 2015):
``brnn-align`` trained through :func:`vislang.train._alignment.shapes_alignment_demo` on 8 x 8
pixel-cell regions; alignment correctness (is each colour/shape word's top cell on the object
it names?) against chance, and one image's word-coloured alignment map."""

from __future__ import annotations

from typing import Any

from vislang.demo._common import Context
from vislang.report import Report

KEY = "alignment"
TITLE = "word-region alignment"
HEADING = "Word-region alignment: BRNN (Karpathy & Fei-Fei 2015)"


def run(ctx: Context) -> dict[str, Any]:
    try:
        from vislang.train._alignment import shapes_alignment_demo
    except ImportError as e:
        return {"available": False, "note": f"not available in this build ({e})"}
    out = ctx.out / "alignment"
    out.mkdir(parents=True, exist_ok=True)
    size = (
        {"n_train": 40, "epochs": 1, "n_test": 10}
        if ctx.quick
        else {"n_train": 300, "epochs": 3, "n_test": 40}
    )
    result = shapes_alignment_demo(out, seed=ctx.seed, **size)
    ctx.shared["alignment_figure"] = result["figure"]
    c = result["correctness"]
    return {
        "available": True,
        "size": size,
        "seconds": round(result["seconds"], 1),
        "caption": result["caption"],
        "alignment_correctness": {"hit_rate": c.hit_rate, "chance": c.chance},
        "n_words": c.n_words,
    }


def report(r: Report, metrics: dict[str, Any], ctx: Context) -> None:
    m = metrics[KEY]
    if not m["available"]:
        r.note(f"Alignment is {m['note']}.")
        return
    ac = m["alignment_correctness"]
    r.text(
        f"brnn-align trained on {m['size']['n_train']} shapes images for "
        f"{m['size']['epochs']} epochs ({m['seconds']:.0f} s): regions are the 8 x 8 cells of "
        "the image plus the whole image, words come from a bidirectional RNN, and the "
        "image-sentence score is the sum over words of their best region's score."
    )
    r.table(
        [
            ("hit rate", f"{100 * ac['hit_rate']:.1f}%"),
            ("chance (object's share of the cells)", f"{100 * ac['chance']:.1f}%"),
            ("colour/shape words evaluated", str(m["n_words"])),
        ],
        header=["alignment correctness", "value"],
    )
    fig = ctx.shared.get("alignment_figure")
    if fig is not None:
        r.image(fig.read_bytes(), f"alignment of '{m['caption']}'")
