"""Section 5: VSE++ cross-modal retrieval on the shapes world, through the ``vse++`` runner of
:mod:`vislang.train` (what ``vislang train vse++`` runs), when the build has PyTorch (otherwise
the report says it is not available). It renders the test recall and every PNG the run leaves in
its output folder (the training curve and the retrieval grid)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from vislang.demo._common import Context
from vislang.report import Report

KEY = "vsepp"
TITLE = "VSE++ cross-modal retrieval"
HEADING = "VSE++ cross-modal retrieval"


def run(ctx: Context) -> dict[str, Any]:
    metrics, pngs = _vsepp_step(ctx.out, ctx.quick, ctx.seed, ctx.device, ctx.progress)
    ctx.shared["vsepp_pngs"] = pngs
    if ctx.echo and not metrics["available"]:
        print(f"  VSE++: {metrics['note']}")
    return metrics


def report(r: Report, metrics: dict[str, Any], ctx: Context) -> None:
    vs = metrics["vsepp"]
    if not vs["available"]:
        r.note(f"VSE++ retrieval is {vs['note']}.")
    else:
        r.text(
            f"A VSE++ model trained on the shapes world ({vs['seconds']:.0f} s on "
            f"{vs['device']}); recall@K in percent."
        )
        scores = [
            (k, f"{v:.1f}")
            for k, v in vs["metrics"].items()
            if k.startswith(("i2t_", "t2i_", "rsum")) and isinstance(v, int | float)
        ]
        r.table(scores, header=["test metric", "value"])
        for png in ctx.shared.get("vsepp_pngs", []):
            r.image(png.read_bytes(), png.stem)


def _vsepp_config(quick: bool) -> dict[str, Any]:
    """VSE++ on the shapes world: a small CNN from scratch and a GRU, about two minutes on 2
    cores (4 epochs of 79 steps; test rsum about 250 of 600, chance is 16)."""
    if quick:
        data = {"source": "shapes", "n_train": 200, "n_val": 50, "n_test": 50}
        return {"data": data, "model": {"embed_dim": 128}, "train": {"epochs": 1}}
    data = {"source": "shapes", "n_train": 2000, "n_val": 200, "n_test": 200}
    model = {"embed_dim": 512, "hinge_warmup_steps": 100}
    return {"data": data, "model": model, "train": {"epochs": 4}}


def _vsepp_step(
    out: Path, quick: bool, seed: int, device: str, progress: bool
) -> tuple[dict[str, Any], list[Path]]:
    from vislang.options import apply_overrides
    from vislang.train import runner

    try:
        import vislang.models  # noqa: F401  (PyTorch: the runner needs it)
    except ImportError as e:
        return {"available": False, "note": f"not available in this build ({e})"}, []
    vsepp = runner("vse++")
    run_dir = out / "vsepp"
    run_dir.mkdir(parents=True, exist_ok=True)
    config = _vsepp_config(quick)
    resolved = vsepp.resolve(apply_overrides(config, [f"train.seed={seed}"]))
    t0 = time.perf_counter()
    result = vsepp.run(resolved, device=device, out=run_dir, progress=progress)
    metrics = {
        "available": True,
        "config": config,
        "device": device,
        "seconds": round(time.perf_counter() - t0, 3),
        "metrics": dict(result),
    }
    return metrics, sorted(run_dir.glob("*.png"))
