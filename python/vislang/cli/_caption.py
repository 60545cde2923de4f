"""``vislang caption IMAGES --model DIR [--beam 3] [--attention-out DIR]``: caption images with a
trained Show and Tell / Show-Attend-Tell checkpoint (optionally drawing attention strips)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from vislang.cli._common import CLIError, collect_images, emit, limit_torch_threads, log

__all__ = ["add_parser", "caption"]


def add_parser(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Register the ``caption`` subcommand on ``sub`` (the subparsers of ``vislang``)."""
    p = sub.add_parser(
        "caption",
        parents=parents,
        help="caption images with a trained captioning model",
        description="Caption image files (or folders) with a Show and Tell / Show-Attend-Tell "
        "checkpoint; prints one 'image<TAB>caption' line per image.",
    )
    p.add_argument("images", nargs="+", metavar="IMAGES", help="image files or folders")
    p.add_argument(
        "--model", required=True, help="checkpoint: a run folder (uses best, else last) or path"
    )
    p.add_argument("--beam", type=int, default=3, help="beam width (1 = greedy; default 3)")
    p.add_argument("--max-length", type=int, default=20, help="longest caption in words (20)")
    p.add_argument("--attention-out", metavar="DIR", help="write attention strips (PNG) here")
    p.set_defaults(handler=caption)


def _checkpoint(spec: str) -> Path:
    p = Path(spec)
    for cand in (p / "best", p / "last", p):
        if cand.with_name(cand.name + ".json").exists() or cand.with_suffix(".json").exists():
            return cand
    raise CLIError(f"--model: no checkpoint at {spec!r} (expected best.json or last.json)")


def caption(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import numpy as np
    from PIL import Image

    from vislang.cli._common import resolve_device
    from vislang.models import load_model
    from vislang.models.captioning import Captioner

    limit_torch_threads(args.threads)
    model = load_model(_checkpoint(args.model), device=resolve_device(args.device))
    if not isinstance(model, Captioner):
        raise CLIError(f"--model: {args.model} holds a {model.model_type!r} model, not a captioner")
    paths = collect_images(args.images)
    images = []
    for p in paths:
        try:
            images.append(np.asarray(Image.open(p).convert("RGB")))
        except OSError as e:
            raise CLIError(f"cannot load image {p}: {e}") from None
    log(args, f"captioning {len(paths)} images (beam {args.beam})")
    caps, alphas = model.caption(
        images, beam=args.beam, max_length=args.max_length, return_attention=True
    )
    if args.attention_out:
        if not model.uses_grid:
            raise CLIError("--attention-out: this model has no attention (Show and Tell)")
        from vislang.eval.caption_attention import plot_attention

        strips = Path(args.attention_out)
        for p, img, c, a in zip(paths, images, caps, alphas, strict=True):
            plot_attention(img, c, a, strips / f"{p.stem}.attention.png")
    result = {str(p): c for p, c in zip(paths, caps, strict=True)}
    if args.json_output:
        emit(args, result)
    else:
        for name, c in result.items():
            print(f"{name}\t{c}")
    return 0
