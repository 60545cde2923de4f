"""GAN-CLS vs GAN-INT vs GAN-INT-CLS on the shapes world with the same budget (one VSE text
model, the same data, seed and steps), as a markdown table.

    python benches/gan_variants.py --config configs/gan-int-cls-shapes.toml --out /tmp/gan-variants
    python benches/gan_variants.py --from-dirs --out DIR   # tabulate DIR/gan-cls/metrics.json ...
    python benches/gan_variants.py --from-dirs --out DIR_SEED0,DIR_SEED1   # mean +- half range

Prints the table (attribute accuracy per attribute, R-precision, FID / IS in Lite0 features,
training time) and writes ``OUT/VARIANT/metrics.json`` and ``OUT/table.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def table(results: dict[str, dict[str, Any]]) -> str:
    first = next(iter(results.values()))
    attrs = list(first["attribute_accuracy"])
    head = ["model", *attrs, "R-prec", "FID (Lite0)", "IS (Lite0)", "train s"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, m in results.items():
        acc = [f"{m['attribute_accuracy'][a]:.2f}" for a in attrs]
        rows.append(
            "| "
            + " | ".join(
                [
                    name,
                    *acc,
                    f"{m['r_precision']:.3f}",
                    f"{m.get('fid_lite0', float('nan')):.1f}",
                    f"{m.get('inception_score_lite0', float('nan')):.2f}",
                    f"{m['timings']['gan_s']:.0f}",
                ]
            )
            + " |"
        )
    real = first["attribute_accuracy_real"]
    chance = first["attribute_chance"]
    rows.append(
        "| real test images | "
        + " | ".join(f"{real[a]:.2f}" for a in attrs)
        + f" | {first['r_precision_real']:.3f} | | "
        + f"{first.get('inception_score_lite0_real', float('nan')):.2f} | |"
    )
    rows.append(
        "| chance | " + " | ".join(f"{chance[a]:.2f}" for a in attrs) + f" | "
        f"{1 / (first['r_precision_distractors'] + 1):.3f} | | | |"
    )
    return "\n".join(rows)


def _metric_values(m: dict[str, Any]) -> dict[str, float]:
    vals = {a: float(v) for a, v in m["attribute_accuracy"].items()}
    vals["R-prec"] = float(m["r_precision"])
    vals["FID (Lite0)"] = float(m.get("fid_lite0", float("nan")))
    vals["IS (Lite0)"] = float(m.get("inception_score_lite0", float("nan")))
    return vals


def seed_table(runs: list[dict[str, dict[str, Any]]]) -> str:
    """One row per variant: ``mean +- half range`` over the runs (seeds) of each metric."""
    import numpy as np

    variants = list(runs[0])
    cols = list(_metric_values(runs[0][variants[0]]))
    head = ["model", *cols]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for v in variants:
        per = [_metric_values(r[v]) for r in runs]
        cells = []
        for c in cols:
            x = np.array([p[c] for p in per])
            digits = 1 if c.startswith("FID") else (3 if c == "R-prec" else 2)
            half = (x.max() - x.min()) / 2
            cells.append(f"{x.mean():.{digits}f} ± {half:.{digits}f}")
        rows.append("| " + " | ".join([v, *cells]) + " |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    import torch

    from vislang.train.gan import compare_variants

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=Path("configs/gan-int-cls-shapes.toml"))
    ap.add_argument(
        "--out",
        type=Path,
        default=Path("/tmp/vislang-gan-variants"),
        help="output folder; with --from-dirs, comma-separated folders (one per seed)",
    )
    ap.add_argument("--variants", default="gan-cls,gan-int,gan-int-cls")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--from-dirs",
        action="store_true",
        help="only tabulate OUT/VARIANT/metrics.json (e.g. of parallel `vislang train` runs)",
    )
    args = ap.parse_args(argv)
    if args.from_dirs:
        runs = [
            {
                v: json.loads((Path(d) / v / "metrics.json").read_text())
                for v in args.variants.split(",")
            }
            for d in str(args.out).split(",")
        ]
        for r in runs:
            print(table(r), end="\n\n")
        if len(runs) > 1:
            print(f"mean ± half range over {len(runs)} runs:")
            print(seed_table(runs))
        return 0
    torch.set_num_threads(args.threads)
    config = tomllib.loads(args.config.read_text())
    t0 = time.perf_counter()
    results = compare_variants(
        config, tuple(args.variants.split(",")), device="cpu", out=args.out, progress=False
    )
    md = table(results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "table.md").write_text(md + "\n")
    (args.out / "all.json").write_text(json.dumps(results, indent=1, default=float))
    print(md)
    print(f"total {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
