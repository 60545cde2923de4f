"""Section 6: image captioning on the shapes world: Show-Attend-Tell with soft attention
(Xu et al. 2015), trained through :func:`vislang.train.captioning.shapes_captioning_demo`;
BLEU / ROUGE-L / CIDEr-D of greedy and beam-3 captions (the COCO evaluation's numbers, in
Rust), attention correctness (does the model look at the object it names?) and attention
strips."""

from __future__ import annotations

from typing import Any

from vislang.demo._common import Context
from vislang.report import Report

KEY = "captioning"
TITLE = "Show-Attend-Tell captioning"
HEADING = "Image captioning: Show, Attend and Tell"


def run(ctx: Context) -> dict[str, Any]:
    try:
        from vislang.train.captioning import shapes_captioning_demo
    except ImportError as e:
        return {"available": False, "note": f"not available in this build ({e})"}
    out = ctx.out / "captioning"
    out.mkdir(parents=True, exist_ok=True)
    size = (
        {"n_train": 120, "epochs": 1, "n_strips": 1}
        if ctx.quick
        else {"n_train": 1200, "epochs": 8}
    )
    result = shapes_captioning_demo(
        out, seed=ctx.seed, device=ctx.device, progress=ctx.progress, **size
    )
    ctx.shared["caption_strips"] = result["strips"]
    att = result["attention"]
    return {
        "available": True,
        "size": size,
        "seconds": round(result["seconds"], 1),
        "metrics": {
            row: {k: v for k, v in scores.items() if isinstance(v, int | float)}
            for row, scores in result["metrics"].items()
        },
        "table": result["table"],
        "examples": [
            {"caption": c, "references": list(r)[:2]}
            for c, r in zip(result["captions"][:5], result["references"][:5], strict=False)
        ],
        "attention": {k: v for k, v in vars(att).items() if isinstance(v, int | float)}
        if hasattr(att, "__dict__")
        else att,
    }


def report(r: Report, metrics: dict[str, Any], ctx: Context) -> None:
    m = metrics[KEY]
    if not m["available"]:
        r.note(f"Captioning is {m['note']}.")
        return
    r.text(
        f"Show-Attend-Tell (soft attention) trained on {m['size']['n_train']} shapes images for "
        f"{m['size']['epochs']} epochs ({m['seconds']:.0f} s on {ctx.device}). Scores on the "
        "test images, x100 as papers print them (the metrics return the 0-1 scale):"
    )
    r.text(f"<pre>{m['table']}</pre>")
    r.table(
        [(e["caption"], " / ".join(e["references"])) for e in m["examples"]],
        header=["generated (beam 3)", "two of the references"],
    )
    att = m["attention"]
    if isinstance(att, dict) and att:
        r.table([(k, f"{v:.3f}") for k, v in att.items()], header=["attention", "value"])
        r.text(
            "Attention correctness: the attention mass inside the named object's mask when the "
            "model emits its shape or colour word, against the object's area fraction (what "
            "uniform attention would give)."
        )
    for png in ctx.shared.get("caption_strips", []):
        r.image(png.read_bytes(), "attention per word")
