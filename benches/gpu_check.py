"""The CUDA checks and timings that cannot run on a CPU-only machine, in one prepared script.

Run on a machine with a GPU (under 8 minutes on one H100)::

    python benches/gpu_check.py --out gpu_check.json

It checks, each part independently (one failure is recorded and the rest still runs):

1. ``device="auto"`` resolves to CUDA;
2. every loss's CUDA path (torch ops) against its CPU path (the Rust kernels): VSE / VSE++
   (score and fused-embedding forms, masks, directions), InfoNCE, DeViSE, WARP (with scores
   where every draw violates, so the sampled rank is deterministic), values and gradients;
3. an AMP (float16 autocast + GradScaler) training step of every registered model
   (``vislang.models.list_models()``, each built by its ``example()``): finite loss, finite
   gradients, parameters updated;
4. timings: the ranking losses forward + backward at B = 128 / 1024 on CUDA vs the CPU kernel,
   and a training step of each registered model on CUDA.

The JSON holds ``{"device": ..., "checks": {name: {"ok": bool, ...}}, "timings": {...}}``;
the exit status is 1 when any check failed.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import traceback
from collections.abc import Callable
from typing import Any

import torch

RESULTS: dict[str, Any] = {"checks": {}, "timings": {}}
#: Where the "GPU side" runs: CUDA, or the CPU with the torch-ops backend (--simulate-on-cpu,
#: which proves the script itself on a machine without a GPU).
TARGET = torch.device("cuda")


def check(name: str) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    def run(fn: Callable[[], Any]) -> Callable[[], Any]:
        t0 = time.perf_counter()
        try:
            extra = fn() or {}
            RESULTS["checks"][name] = {"ok": True, **extra}
        except Exception as exc:
            RESULTS["checks"][name] = {
                "ok": False,
                "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(limit=6),
            }
        RESULTS["checks"][name]["seconds"] = round(time.perf_counter() - t0, 3)
        status = "ok" if RESULTS["checks"][name]["ok"] else "FAILED"
        print(f"{name:<48} {status}", flush=True)
        return fn

    return run


def close(
    a: torch.Tensor, b: torch.Tensor, what: str, rtol: float = 1e-4, atol: float = 1e-5
) -> float:
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    err = float((a - b).abs().max()) if a.numel() else 0.0
    if not torch.allclose(a, b, rtol=rtol, atol=atol):
        raise AssertionError(f"{what}: CUDA and CPU differ by {err:.3g}")
    return err


def cuda_vs_cpu(loss_fn: Callable[..., torch.Tensor], *tensors: torch.Tensor, **kw: Any) -> float:
    """Forward and gradients of ``loss_fn`` on CUDA vs CPU; the worst absolute difference."""
    cpu = [t.detach().clone().requires_grad_(t.is_floating_point()) for t in tensors]
    gpu = [t.detach().clone().to(TARGET).requires_grad_(t.is_floating_point()) for t in tensors]
    lc = loss_fn(*cpu, backend="rust", **kw)
    lg = loss_fn(*gpu, backend="torch" if TARGET.type == "cpu" else "auto", **kw)
    worst = close(lg, lc, "loss")
    lc.sum().backward()
    lg.sum().backward()
    for i, (c, g) in enumerate(zip(cpu, gpu, strict=True)):
        if c.grad is not None:
            worst = max(worst, close(g.grad, c.grad, f"grad of input {i}"))  # type: ignore[arg-type]
    return worst


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="gpu_check.json")
    ap.add_argument("--quick", action="store_true", help="skip the timings")
    ap.add_argument(
        "--simulate-on-cpu",
        action="store_true",
        help="no GPU: run the 'CUDA side' on the CPU with the torch-ops backend (tests the script)",
    )
    args = ap.parse_args()
    global TARGET
    if args.simulate_on_cpu:
        TARGET = torch.device("cpu")

    import vislang
    from vislang.losses import functional as F

    RESULTS["device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    RESULTS["torch"] = torch.__version__
    RESULTS["vislang"] = vislang.__version__
    RESULTS["python"] = platform.python_version()
    if TARGET.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: nothing to check")
        RESULTS["checks"]["cuda_available"] = {"ok": False, "error": "torch.cuda.is_available()"}
        _write(args.out)
        return 1

    gen = torch.Generator().manual_seed(0)

    @check("device auto -> cuda")
    def _auto() -> dict[str, Any]:
        from vislang.models import resolve_device

        dev = resolve_device("auto")
        if dev.type != TARGET.type:
            raise AssertionError(f"resolve_device('auto') gave {dev}")
        return {"device": str(dev)}

    def scores(b: int, c: int | None = None) -> torch.Tensor:
        return torch.randn(b, c or b, generator=gen) * 0.3

    for max_violation in (False, True):
        for direction in ("both", "i2t", "t2i"):
            name = f"contrastive_ranking vse{'++' if max_violation else ''} {direction}"

            @check(name)
            def _rank(mv: bool = max_violation, d: str = direction) -> dict[str, Any]:
                err = cuda_vs_cpu(
                    lambda s, **kw: F.contrastive_ranking(
                        s, margin=0.2, max_violation=mv, direction=d, **kw
                    ),
                    scores(64),
                )
                return {"max_abs_diff": err}

    @check("contrastive_ranking masked (several positives)")
    def _masked() -> dict[str, Any]:
        s = scores(32, 64)  # two captions per image, every caption has its image
        pos = torch.zeros(32, 64, dtype=torch.bool)
        pos[torch.arange(32), torch.arange(32) * 2] = True
        pos[torch.arange(32), torch.arange(32) * 2 + 1] = True

        def fn(x: torch.Tensor, **kw: Any) -> torch.Tensor:
            return F.contrastive_ranking(x, pos.to(x.device), margin=0.2, max_violation=True, **kw)

        return {"max_abs_diff": cuda_vs_cpu(fn, s)}

    @check("contrastive_ranking_embeddings vse++")
    def _emb() -> dict[str, Any]:
        im = torch.nn.functional.normalize(torch.randn(48, 16, generator=gen), dim=1)
        tx = torch.nn.functional.normalize(torch.randn(48, 16, generator=gen), dim=1)

        def fn(a: torch.Tensor, b: torch.Tensor, **kw: Any) -> torch.Tensor:
            return F.contrastive_ranking_embeddings(a, b, margin=0.2, max_violation=True, **kw)

        return {"max_abs_diff": cuda_vs_cpu(fn, im, tx)}

    @check("info_nce")
    def _nce() -> dict[str, Any]:
        return {
            "max_abs_diff": cuda_vs_cpu(
                lambda s, backend: F.info_nce(s, temperature=0.07), scores(64)
            )
        }

    @check("warp (every draw violates: deterministic rank)")
    def _warp() -> dict[str, Any]:
        # Equal off-diagonal scores: whichever negative each backend's RNG draws, the hinge,
        # the rank estimate and the gradient's diagonal and row sums are the same.
        s = torch.full((40, 40), 0.1)
        s.fill_diagonal_(0.5)
        out = {}
        for name, dev, backend in (("cpu", "cpu", "rust"), ("target", TARGET, None)):
            x = s.clone().to(dev).requires_grad_(True)
            bk = backend or ("torch" if TARGET.type == "cpu" else "auto")
            loss = F.warp(x, margin=100.0, seed=0, backend=bk)
            loss.backward()
            g = x.grad
            out[name] = (loss, g.diagonal(), g.sum(dim=1))  # type: ignore[union-attr]
        worst = 0.0
        for what, a, b in zip(
            ("loss", "grad diagonal", "grad row sums"), *out.values(), strict=True
        ):
            worst = max(worst, close(b, a, what))
        return {"max_abs_diff": worst}

    @check("DeViSELoss / WARPLoss / VSELoss / InfoNCELoss modules")
    def _modules() -> dict[str, Any]:
        from vislang import losses

        worst = 0.0
        im = torch.randn(16, 8, generator=gen)
        tx = torch.randn(16, 8, generator=gen)
        for make in (
            lambda bk: losses.VSELoss(0.2, True, backend=bk),
            lambda bk: losses.InfoNCELoss(0.07),
        ):

            def fn(a: torch.Tensor, b: torch.Tensor, backend: str, mk: Any = make) -> torch.Tensor:
                return mk(backend).to(a.device)(a, b)

            worst = max(worst, cuda_vs_cpu(fn, im, tx))
        return {"max_abs_diff": worst}

    def registered_models() -> list[str]:
        try:
            from vislang.models import list_models
        except ImportError as exc:
            RESULTS["checks"]["model registry"] = {"ok": False, "error": str(exc)}
            return []
        return list(list_models())

    for name in registered_models():

        @check(f"AMP training step: {name}")
        def _amp(model_name: str = name) -> dict[str, Any]:
            from vislang.models.registry import model_entry

            cls = model_entry(model_name).cls
            model = cls.example() if hasattr(cls, "example") else model_entry(model_name).create()
            dev = TARGET
            model = model.to(dev)
            batch = cls.example_batch(model)
            opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
            before = [p.detach().clone() for p in model.parameters() if p.requires_grad]
            scaler = torch.amp.GradScaler(dev.type, enabled=dev.type == "cuda")
            amp_dtype = torch.float16 if dev.type == "cuda" else torch.bfloat16
            with torch.autocast(dev.type, dtype=amp_dtype):
                loss = model.training_loss(batch, dev)
            if not torch.isfinite(loss):
                raise AssertionError(f"loss is {float(loss)}")
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            for p in model.parameters():
                if p.grad is not None and not torch.isfinite(p.grad).all():
                    raise AssertionError("non-finite gradient")
            scaler.step(opt)
            scaler.update()
            moved = sum(
                int(not torch.equal(b, p.detach()))
                for b, p in zip(
                    before, (p for p in model.parameters() if p.requires_grad), strict=True
                )
            )
            if moved == 0:
                raise AssertionError("no parameter changed after the step")
            return {"loss": float(loss), "parameters_updated": moved}

    @check(
        "data parallel on NCCL (1 rank): bucketed async all-reduce, embedding row exchange, "
        "packed all-gather"
    )
    def _nccl() -> dict[str, Any]:
        import tempfile

        import torch.distributed as dist

        from vislang.losses._distributed import _exchange, _WithLocalRows
        from vislang.models._data_parallel import GradientSync

        backend = "nccl" if TARGET.type == "cuda" else "gloo"
        with tempfile.TemporaryDirectory() as tmp:
            dist.init_process_group(backend, init_method=f"file://{tmp}/rdzv", rank=0, world_size=1)
            try:
                net = torch.nn.Sequential(
                    torch.nn.Embedding(100, 64), torch.nn.Linear(64, 64), torch.nn.Linear(64, 8)
                ).to(TARGET)
                sync = GradientSync(  # 4+ buckets, and the embedding's touched rows alone
                    list(net.parameters()),
                    1,
                    bucket_mb=0.001,
                    row_sparse=[net[0].weight],
                    row_sparse_min_mb=0,
                )
                x = torch.randint(0, 100, (16,), device=TARGET)
                net(x).square().sum().backward()
                want = [p.grad.clone() for p in net.parameters()]
                for p in net.parameters():
                    p.grad = None
                sync.arm()
                net(x).square().sum().backward()
                sync.finish("gpu_check")
                for a, p in zip(want, net.parameters(), strict=True):
                    close(p.grad, a, "gradient after the bucketed all-reduce", rtol=1e-6)
                a = torch.randn(5, 8, device=TARGET, requires_grad=True)
                b = torch.randn(7, 8, device=TARGET, dtype=torch.float16, requires_grad=True)
                mask = torch.eye(5, 7, dtype=torch.bool, device=TARGET)
                ids = torch.arange(5, device=TARGET)
                lay, parts, rows, cols = _exchange((5, 7), a, b, mask, ids, ids[:3].repeat(3)[:7])
                pa = [lay.get(parts[0], "a", a.dtype, 40).view(5, 8)]
                pb = [lay.get(parts[0], "b", b.dtype, 56).view(7, 8)]
                ga, gb = _WithLocalRows.apply(a, b, pa, pb, 0)
                close(pa[0], a, "gathered image rows", rtol=0, atol=0)
                close(pb[0], b, "gathered text rows", rtol=0, atol=0)
                (ga.sum() + gb.float().sum()).backward()
                if rows != [5] or cols != [7] or a.grad is None or b.grad is None:
                    raise AssertionError(f"sizes {rows} {cols} or no gradient")
                buckets, rows_sent = len(sync.buckets), sync._rows[0].capacity
                sync.remove()
            finally:
                dist.destroy_process_group()
        return {"backend": backend, "buckets": buckets, "row_capacity": rows_sent}

    if not args.quick and TARGET.type == "cuda":
        _timings(F, registered_models())
    _write(args.out)
    return 0 if all(c["ok"] for c in RESULTS["checks"].values()) else 1


def _time(fn: Callable[[], Any], cuda: bool, repeat: int = 20) -> float:
    fn()
    if cuda:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    if cuda:
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / repeat


def _timings(F: Any, names: list[str]) -> None:
    t = RESULTS["timings"]
    for b in (128, 1024):
        for dev in ("cpu", "cuda"):
            s = (torch.randn(b, b, device=dev) * 0.3).requires_grad_(True)

            def step(x: torch.Tensor = s) -> None:
                F.contrastive_ranking(x, margin=0.2, max_violation=True).backward()

            t[f"vse++ loss fwd+bwd B={b} {dev} (ms)"] = round(_time(step, dev == "cuda") * 1e3, 4)
    from vislang.models.registry import model_entry

    for name in names:
        try:
            cls = model_entry(name).cls
            model = cls.example().cuda()
            batch = cls.example_batch(model)
            opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

            def train_step(m: Any = model, bt: Any = batch, o: Any = opt) -> None:
                o.zero_grad()
                m.training_loss(bt, torch.device("cuda")).backward()
                o.step()

            t[f"training step {name} cuda (ms)"] = round(_time(train_step, True, 10) * 1e3, 3)
        except Exception as exc:
            t[f"training step {name} cuda (ms)"] = f"failed: {exc}"
    print(json.dumps(t, indent=1))


def _write(path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(RESULTS, f, indent=1)
    print(f"wrote {path}")


if __name__ == "__main__":
    raise SystemExit(main())
