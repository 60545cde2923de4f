"""What does a shapes-world GAN discriminator check? (benches/results/gan.md, section 5)

    python benches/gan_d_checks.py gap CHECKPOINT        # D's right-vs-swapped-word logit gap
    python benches/gan_d_checks.py supervised --what shape --steps 740 [--size 64] \
        [--d-downsample maxpool]                          # can D's architecture read it at all?

``gap``: on 300 real one-object test renders, D's logit with the right caption ("a small red
circle") minus its logit with the same caption where one word (colour, shape or size) is
swapped; mean and the share of images where the right caption scores higher (0.5 = D ignores
that word). ``supervised``: D alone, trained (Adam, batch 32) to tell each real training image's
caption from the same caption with another colour / shape word, then scored on held-out
renders; the VSE text model of ``configs/gan-int-cls-shapes.toml`` (seed 0) embeds the captions.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _swapped(scenes: Any, which: str, rng: np.random.Generator) -> tuple[list[str], list[str]]:
    from vislang.data.shapes import COLOURS, SHAPES

    right, wrong = [], []
    for sc in scenes:
        o = sc.objects[0]
        colour, shape, size = o.colour, o.shape, o.size
        right.append(f"a {size} {colour} {shape}")
        if which == "colour":
            colour = str(rng.choice([c for c in COLOURS if c != o.colour]))
        elif which == "shape":
            shape = str(rng.choice([s for s in SHAPES if s != o.shape]))
        else:
            size = "large" if size == "small" else "small"
        wrong.append(f"a {size} {colour} {shape}")
    return right, wrong


def gap(checkpoint: str) -> dict[str, tuple[float, float]]:
    import torch

    from vislang.data import make_shapes
    from vislang.models.gan import from_uint8
    from vislang.models.gan_training import load_gan

    gan = load_gan(checkpoint).eval()
    test = make_shapes(0, 0, 300, 0, image_size=gan.config.image_size, max_objects=1, seed=0)
    test = test.select("test")
    x = from_uint8(np.asarray(test.images))
    out = {}
    with torch.no_grad():
        for which in ("colour", "shape", "size"):
            right, wrong = _swapped(test.annotations, which, np.random.default_rng(0))
            d = gan.discriminate(x, gan.encode_text(right)) - gan.discriminate(
                x, gan.encode_text(wrong)
            )
            out[which] = (float(d.mean()), float((d > 0).float().mean()))
    return out


def supervised(what: str, steps: int, size: int, d_downsample: str) -> float:
    import torch
    import torch.nn.functional as F

    from vislang.data import make_shapes
    from vislang.models.gan import TextToImageGAN, from_uint8
    from vislang.train.gan import SCHEMA, prepare_shapes

    path = Path(__file__).resolve().parents[1] / "configs" / "gan-int-cls-shapes.toml"
    vse = prepare_shapes(SCHEMA.resolve(tomllib.loads(path.read_text())), progress=False)["vse"]
    ds = make_shapes(1500, 0, 200, 0, image_size=size, max_objects=1, seed=0)
    train, test = ds.select("train"), ds.select("test")
    rng = np.random.default_rng(0)
    r_tr, w_tr = (vse.embed_texts(c) for c in _swapped(train.annotations, what, rng))
    r_te, w_te = (vse.embed_texts(c) for c in _swapped(test.annotations, what, rng))
    x_tr, x_te = from_uint8(np.asarray(train.images)), from_uint8(np.asarray(test.images))
    torch.manual_seed(0)
    gan = TextToImageGAN.from_vse(vse, image_size=size, ngf=32, ndf=32, d_downsample=d_downsample)
    d = gan.discriminator
    opt = torch.optim.Adam(d.parameters(), lr=1e-3, betas=(0.5, 0.999))
    g = torch.Generator().manual_seed(0)
    for _ in range(steps):
        i = torch.randint(0, len(x_tr), (32,), generator=g)
        s_r, s_w = d(x_tr[i], r_tr[i]), d(x_tr[i], w_tr[i])
        loss = F.binary_cross_entropy_with_logits(s_r, torch.ones_like(s_r))
        loss = loss + F.binary_cross_entropy_with_logits(s_w, torch.zeros_like(s_w))
        opt.zero_grad()
        loss.backward()
        opt.step()
    d.eval()
    with torch.no_grad():
        return float((d(x_te, r_te) > d(x_te, w_te)).float().mean())


def main(argv: list[str] | None = None) -> int:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gap")
    g.add_argument("checkpoint")
    s = sub.add_parser("supervised")
    s.add_argument("--what", choices=("colour", "shape", "size"), default="shape")
    s.add_argument("--steps", type=int, default=740)
    s.add_argument("--size", type=int, choices=(32, 64), default=32)
    s.add_argument("--d-downsample", choices=("stride", "maxpool"), default="stride")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    if args.cmd == "gap":
        for which, (mean, share) in gap(args.checkpoint).items():
            print(f"{which} swapped: gap {mean:+.2f}, right > wrong {share:.0%}")
    else:
        acc = supervised(args.what, args.steps, args.size, args.d_downsample)
        print(
            f"{args.what}, {args.steps} steps, {args.size}px, D {args.d_downsample}: "
            f"held-out right > wrong {acc:.3f}"
        )
    print(f"{time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
