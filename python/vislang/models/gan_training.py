"""Training loop of the text-to-image GANs: two Adam optimizers (D then G, Algorithm 1 of
Reed et al. 2016), exact resume of both optimizers and the RNG, fixed-noise sample grids after
every epoch, a progress bar with the D/G losses and D(x) / D(G(z)), AMP on CUDA.

The shared :class:`~vislang.models.Trainer` drives one optimizer, one loss and early stopping
on validation recall; a GAN needs two optimizers stepped on two losses of the same forward
pass, so it gets this small loop instead. Checkpoints use the same three-file layout as
:mod:`vislang.models.checkpoint` (weights ``.safetensors``, state ``.state.safetensors``,
``.json`` sidecar), with the two optimizers stored under ``optim_d.*`` and ``optim_g.*``.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

from vislang import _dist
from vislang.exceptions import CheckpointError, InvalidInputError
from vislang.models._data_parallel import GradientSync, broadcast_state, join
from vislang.models.checkpoint import (
    FORMAT_VERSION,
    _jsonable,
    _load_weights,
    _paths,
    _read_meta,
    _read_tensors,
    _save_tensors,
    _tuples,
    _write_bytes,
    build_from_meta,
    load_optimizer_state,
    optimizer_state,
)
from vislang.models.gan import TextToImageGAN, from_uint8

__all__ = ["GANTrainConfig", "GANTrainer", "load_gan"]


@dataclass
class GANTrainConfig:
    """Options of :class:`GANTrainer` (saved in checkpoints).

    Attributes
    ----------
    epochs : int
    batch_size : int
        64 in the paper.
    lr : float
        Adam learning rate of both networks (0.0002 in the paper).
    beta1 : float
        Adam momentum (0.5 in the paper, as DCGAN).
    amp : bool
        float16 autocast + gradient scaling on CUDA; ignored on the CPU.
    max_steps_per_epoch : int
        Cut epochs short (0 = full epochs).
    sample_every : int
        Save a fixed-noise sample grid every this many epochs (0 = never; needs ``out``).
    seed : int
        Shuffling and noise depend only on the seed, the epoch and the step.
    grad_bucket_mb : float
        Data-parallel training only: gradient all-reduce bucket size (see
        :class:`~vislang.models.TrainConfig`).
    hard_wrong_fraction : float
        Extra (0 = the paper: every wrong caption is another image's caption): this share of
        each batch takes its wrong caption from the trainer's ``hard_wrong`` sampler instead,
        e.g. the same colour with another shape, so that the matching-aware D must check
        what random wrong captions seldom change.
    """

    epochs: int = 20
    batch_size: int = 64
    lr: float = 2e-4
    beta1: float = 0.5
    amp: bool = True
    max_steps_per_epoch: int = 0
    sample_every: int = 1
    seed: int = 0
    grad_bucket_mb: float = 4.0
    hard_wrong_fraction: float = 0.0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise InvalidInputError(f"{name}: must be >= 1, got {getattr(self, name)}")
        for name in ("max_steps_per_epoch", "sample_every"):
            if int(getattr(self, name)) < 0:
                raise InvalidInputError(f"{name}: must be >= 0, got {getattr(self, name)}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise InvalidInputError(f"lr: must be finite and > 0, got {self.lr}")
        if not (math.isfinite(self.grad_bucket_mb) and self.grad_bucket_mb >= 0):
            raise InvalidInputError(f"grad_bucket_mb: must be >= 0, got {self.grad_bucket_mb}")
        if not 0 <= self.hard_wrong_fraction <= 1:
            raise InvalidInputError(
                f"hard_wrong_fraction: must be in [0, 1], got {self.hard_wrong_fraction}"
            )
        if not 0 <= self.beta1 < 1:
            raise InvalidInputError(f"beta1: must be in [0, 1), got {self.beta1}")


def load_gan(path: str | os.PathLike[str], *, device: str | torch.device = "cpu") -> TextToImageGAN:
    """Rebuild a :class:`TextToImageGAN` from a checkpoint written by :class:`GANTrainer`.

    Raises
    ------
    CheckpointError
        Missing or corrupt files, or a checkpoint of another model (the message names it).
    """
    weights, _, meta_path = _paths(path)
    meta = _read_meta(meta_path)
    mtype = meta.get("model_type")
    if mtype not in TextToImageGAN.VARIANTS.values():
        raise CheckpointError(
            f"{meta_path}: checkpoint holds a {mtype!r} model, expected a text-to-image GAN "
            f"({', '.join(sorted(TextToImageGAN.VARIANTS.values()))})"
        )
    model: TextToImageGAN = build_from_meta(TextToImageGAN, weights, meta_path, meta, device)
    return model


class GANTrainer:
    """Train a :class:`TextToImageGAN` on images and precomputed caption embeddings.

    Parameters
    ----------
    model : TextToImageGAN
    images : uint8 array of shape (n_images, S, S, 3), or float tensor (n_images, 3, S, S)
        in [-1, 1].
    text : tensor of shape (n_captions, text_dim)
        Caption embeddings (precomputed once: the text encoder is frozen).
    caption_image : int array of shape (n_captions,)
        The image each caption describes.
    config : GANTrainConfig
    device : "auto", "cpu", "cuda", ...
    progress : bool
        tqdm bar with D/G losses and D(x), D(G(z)).
    out : path, optional
        Folder for ``last`` checkpoints (after every epoch) and ``samples_epochNNN.png`` grids.
    sample_text : tensor of shape (k, text_dim), optional
        Captions of the fixed-noise sample grids (default: the first 8 captions).
    hard_wrong : callable, optional
        ``hard_wrong(captions, generator)``: for right-caption indices (n,), a wrong caption
        index for each, or -1 where there is none (then the random one stays); used for
        ``config.hard_wrong_fraction`` of each batch, drawn from the seed and the step.
    distributed : bool, optional
        Data-parallel training over the ranks of a ``torch.distributed`` group (joined from
        torchrun's environment when none is running); None (default): when torchrun set
        ``WORLD_SIZE`` > 1 or a group is running. Every rank draws the same global batch
        (``batch_size`` images, their captions, wrong captions and noise, from the seed and
        the step) and trains on rows ``rank::world_size`` of it; rank 0's initial weights are
        broadcast; each network's gradients are averaged over the ranks while its backward
        pass runs (as the shared :class:`~vislang.models.Trainer`), so every rank takes the
        same optimizer steps; batch normalisation uses each rank's own rows (as DDP without
        SyncBatchNorm) and its running statistics are rank 0's after every epoch; the epoch's
        losses are averaged over the ranks; rank 0 alone shows the progress bar and writes
        checkpoints and sample grids. A checkpoint written by N processes resumes with M.
    """

    def __init__(
        self,
        model: TextToImageGAN,
        images: Any,
        text: Tensor,
        caption_image: Any,
        config: GANTrainConfig | None = None,
        *,
        device: str = "auto",
        progress: bool = True,
        out: str | os.PathLike[str] | None = None,
        sample_text: Tensor | None = None,
        hard_wrong: Callable[[Tensor, torch.Generator], Tensor] | None = None,
        distributed: bool | None = None,
    ) -> None:
        self.config = c = config or GANTrainConfig()
        if c.hard_wrong_fraction > 0 and hard_wrong is None:
            raise InvalidInputError("hard_wrong_fraction > 0 needs a hard_wrong sampler")
        self.hard_wrong = hard_wrong
        self.device, self.rank, self.world_size = join(distributed, device)
        if c.batch_size // self.world_size < 2:
            raise InvalidInputError(
                f"batch_size {c.batch_size} over {self.world_size} processes leaves fewer than "
                "2 images per process (batch normalisation needs 2)"
            )
        self.model = model.to(self.device)
        if isinstance(images, np.ndarray):
            if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
                raise InvalidInputError(
                    f"images must be uint8 (n, S, S, 3), got {images.dtype} {images.shape}"
                )
            images = from_uint8(images)
        s = model.config.image_size
        if images.ndim != 4 or tuple(images.shape[1:]) != (3, s, s):
            raise InvalidInputError(
                f"images must have shape (n, 3, {s}, {s}) for this GAN, got {tuple(images.shape)}"
            )
        self.images = images.float()
        self.text = torch.as_tensor(text).float()
        model._check_text(self.text)
        self.caption_image = torch.as_tensor(np.asarray(caption_image, dtype=np.int64))
        if self.caption_image.shape != (self.text.shape[0],):
            raise InvalidInputError(
                f"caption_image must have shape ({self.text.shape[0]},), got "
                f"{tuple(self.caption_image.shape)}"
            )
        if int(self.caption_image.min()) < 0 or int(self.caption_image.max()) >= len(self.images):
            raise InvalidInputError(f"caption_image must index images in [0, {len(self.images)})")
        self.progress = progress and self.rank == 0
        self.out = None if out is None else Path(out)
        self.amp = bool(c.amp and self.device.type == "cuda")
        betas = (c.beta1, 0.999)
        self.opt_d = torch.optim.Adam(model.discriminator.parameters(), lr=c.lr, betas=betas)
        self.opt_g = torch.optim.Adam(model.generator.parameters(), lr=c.lr, betas=betas)
        self.scaler_d = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.scaler_g = torch.amp.GradScaler("cuda", enabled=self.amp)
        # An epoch is one pass over the images, each with one of its captions drawn at random.
        n = len(self.images)
        counts = torch.bincount(self.caption_image, minlength=n)
        if int(counts.min()) == 0:
            raise InvalidInputError(f"image {int(counts.argmin())} has no caption")
        order = torch.argsort(self.caption_image, stable=True)
        self._cap_start = torch.cumsum(counts, 0) - counts  # (n_images,)
        self._cap_count = counts
        self._cap_order = order  # caption indices grouped by image
        self.steps_per_epoch = math.ceil(n / c.batch_size)
        if c.max_steps_per_epoch:
            self.steps_per_epoch = min(self.steps_per_epoch, c.max_steps_per_epoch)
        self.sample_text = (self.text[:8] if sample_text is None else sample_text).float()
        g = torch.Generator().manual_seed(c.seed + 7919)
        self.fixed_z = torch.randn(8, model.config.z_dim, generator=g)
        self.epoch = 0
        self.step = 0
        self.history: list[dict[str, float]] = []
        self._sync_d = self._sync_g = None
        if self.world_size > 1:
            broadcast_state(model, "GAN trainer: broadcasting rank 0's weights")
            self._sync_d = GradientSync(
                list(model.discriminator.parameters()), self.world_size, c.grad_bucket_mb
            )
            self._sync_g = GradientSync(
                list(model.generator.parameters()), self.world_size, c.grad_bucket_mb
            )

    # ---------------------------------------------------------------- checkpoints
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Model, both optimizers, scalers, RNG and progress; :meth:`resume` continues
        exactly."""
        weights, state_path, meta_path = _paths(path)
        weights.parent.mkdir(parents=True, exist_ok=True)
        m = self.model
        tensors = {k: v.detach().cpu().contiguous().clone() for k, v in m.state_dict().items()}
        weights_sha = _save_tensors(
            weights, tensors, {"format_version": FORMAT_VERSION, "model_type": m.model_type}
        )
        state: dict[str, Tensor] = {"rng.torch": torch.get_rng_state()}
        td, pd = optimizer_state(self.opt_d, "optim_d")
        tg, pg = optimizer_state(self.opt_g, "optim_g")
        state.update(td)
        state.update(tg)
        meta = {
            "format_version": FORMAT_VERSION,
            "model_type": m.model_type,
            "model_version": m.format_version,
            "config": m.config_dict(),
            "trainer": {
                "epoch": self.epoch,
                "step": self.step,
                "history": self.history,
                "config": asdict(self.config),
            },
            "optim_d": pd,
            "optim_g": pg,
            "scaler_d": self.scaler_d.state_dict(),
            "scaler_g": self.scaler_g.state_dict(),
            "rng_python": _jsonable(random.getstate()),
        }
        # Same writer as every checkpoint: byte-identical files, umask, sha256 in the sidecar.
        meta["sha256"] = {
            weights.name: weights_sha,
            state_path.name: _save_tensors(state_path, state, None),
        }
        _write_bytes(meta_path, json.dumps(meta, indent=1).encode())
        return weights

    def load(self, path: str | os.PathLike[str]) -> None:
        """Restore weights, both optimizers, scalers, RNG and progress from ``path``."""
        weights, state_path, meta_path = _paths(path)
        meta = _read_meta(meta_path)
        if meta.get("model_type") != self.model.model_type:
            raise CheckpointError(
                f"{meta_path}: checkpoint holds a {meta.get('model_type')!r} model, expected "
                f"{self.model.model_type!r}"
            )
        _load_weights(self.model, weights, meta)  # type: ignore[arg-type]
        state = _read_tensors(state_path, meta)
        try:
            load_optimizer_state(self.opt_d, meta["optim_d"], state, "optim_d")
            load_optimizer_state(self.opt_g, meta["optim_g"], state, "optim_g")
            self.scaler_d.load_state_dict(meta["scaler_d"])
            self.scaler_g.load_state_dict(meta["scaler_g"])
        except (KeyError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"{meta_path}: optimizer state does not fit ({exc})") from None
        torch.set_rng_state(state["rng.torch"])
        random.setstate(_tuples(meta["rng_python"]))
        tr = meta["trainer"]
        self.epoch = int(tr["epoch"])
        self.step = int(tr["step"])
        self.history = list(tr["history"])

    @classmethod
    def resume(
        cls,
        path: str | os.PathLike[str],
        images: Any,
        text: Tensor,
        caption_image: Any,
        *,
        device: str = "auto",
        progress: bool = True,
        out: str | os.PathLike[str] | None = None,
        sample_text: Tensor | None = None,
        hard_wrong: Callable[[Tensor, torch.Generator], Tensor] | None = None,
        distributed: bool | None = None,
    ) -> GANTrainer:
        """A trainer for the GAN in checkpoint ``path`` with its saved config, ready to
        continue."""
        model = load_gan(path)
        meta = _read_meta(_paths(path)[2])
        config = GANTrainConfig(**meta["trainer"]["config"])
        trainer = cls(
            model,
            images,
            text,
            caption_image,
            config,
            device=device,
            progress=progress,
            out=out,
            sample_text=sample_text,
            hard_wrong=hard_wrong,
            distributed=distributed,
        )
        trainer.load(path)
        return trainer

    # ---------------------------------------------------------------- loop
    def _batch(self, images: Tensor, step: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        c = self.config
        g = torch.Generator().manual_seed(c.seed * 1_000_003 + step + 31)
        pick = (torch.rand(len(images), generator=g) * self._cap_count[images]).long()
        sel = self._cap_order[self._cap_start[images] + pick]  # one caption per image
        img_idx = images
        # Wrong text: each caption's neighbour in the shuffled batch, re-drawn (deterministically)
        # where the neighbour describes the same image.
        wrong_sel = sel.roll(1)
        same = self.caption_image[wrong_sel] == img_idx
        if bool(same.any()):
            g = torch.Generator().manual_seed(c.seed * 1_000_003 + step + 17)
            repl = torch.randint(0, self.text.shape[0], (int(same.sum()),), generator=g)
            wrong_sel = wrong_sel.clone()
            wrong_sel[same] = repl
        if c.hard_wrong_fraction > 0:
            assert self.hard_wrong is not None
            g = torch.Generator().manual_seed(c.seed * 1_000_003 + step + 53)
            rows = torch.nonzero(torch.rand(len(sel), generator=g) < c.hard_wrong_fraction)[:, 0]
            if len(rows):
                hard = torch.as_tensor(self.hard_wrong(sel[rows], g), dtype=torch.long)
                if hard.shape != rows.shape or int(hard.max()) >= len(self.text):
                    raise InvalidInputError(
                        f"hard_wrong returned {tuple(hard.shape)} indices (max "
                        f"{int(hard.max())}) for {len(rows)} captions of {len(self.text)}"
                    )
                keep = hard >= 0
                wrong_sel = wrong_sel.clone()
                wrong_sel[rows[keep]] = hard[keep]
        g = torch.Generator().manual_seed(c.seed * 1_000_003 + step)
        z = torch.randn(len(sel), self.model.config.z_dim, generator=g)
        if self.world_size > 1:  # this rank's rows of the global batch
            part = slice(self.rank, None, self.world_size)
            img_idx, sel, wrong_sel, z = img_idx[part], sel[part], wrong_sel[part], z[part]
        dev = self.device
        return (
            self.images[img_idx].to(dev),
            self.text[sel].to(dev),
            self.text[wrong_sel].to(dev),
            z.to(dev),
        )

    def train_epoch(self) -> dict[str, float]:
        """One epoch of D-then-G steps; returns the mean losses, D(x), D(G(z)) and images/s."""
        from tqdm.auto import tqdm

        c = self.config
        m = self.model
        m.train()
        if m.text_encoder is not None:
            m.text_encoder.eval()
        gen = torch.Generator().manual_seed(c.seed * 1_000_003 + self.epoch)
        order = torch.randperm(len(self.images), generator=gen)
        d_params = list(m.discriminator.parameters())
        g_params = list(m.generator.parameters())
        bar = tqdm(
            total=self.steps_per_epoch,
            desc=f"epoch {self.epoch + 1}/{c.epochs}",
            disable=not self.progress,
            leave=False,
        )
        sums = {"d_loss": 0.0, "g_loss": 0.0, "d_x": 0.0, "d_g_z": 0.0}
        count = seen = 0
        t0 = time.perf_counter()
        for i in range(self.steps_per_epoch):
            sel = order[i * c.batch_size : (i + 1) * c.batch_size]
            if len(sel) // self.world_size < 2:  # batch norm needs two samples on every rank
                continue
            real, text, wrong, z = self._batch(sel, self.step)
            with torch.autocast("cuda", dtype=torch.float16, enabled=self.amp):
                d_loss, g_loss, stats = m.losses(real, text, wrong, z)
            self._check_finite(d_loss, g_loss)
            self.opt_d.zero_grad(set_to_none=True)
            self.opt_g.zero_grad(set_to_none=True)
            # Algorithm 1: both losses use the same s_f; D's gradient from L_G is not applied.
            if self._sync_d is not None:
                self._sync_d.arm()
            self.scaler_d.scale(d_loss).backward(inputs=d_params)  # type: ignore[no-untyped-call]
            if self._sync_d is not None:
                self._sync_d.finish(f"GAN step {self.step}: averaging D's gradients")
            if self._sync_g is not None:
                self._sync_g.arm()
            self.scaler_g.scale(g_loss).backward(inputs=g_params)  # type: ignore[no-untyped-call]
            if self._sync_g is not None:
                self._sync_g.finish(f"GAN step {self.step}: averaging G's gradients")
            self.scaler_d.step(self.opt_d)
            self.scaler_g.step(self.opt_g)
            self.scaler_d.update()
            self.scaler_g.update()
            self.step += 1
            count += 1
            seen += len(real)
            sums["d_loss"] += float(d_loss.detach())
            sums["g_loss"] += float(g_loss.detach())
            sums["d_x"] += float(stats["d_x"])
            sums["d_g_z"] += float(stats["d_g_z"])
            bar.set_postfix(
                D=f"{sums['d_loss'] / count:.3f}",
                G=f"{sums['g_loss'] / count:.3f}",
                Dx=f"{sums['d_x'] / count:.2f}",
                DGz=f"{sums['d_g_z'] / count:.2f}",
            )
            bar.update(1)
        bar.close()
        elapsed = time.perf_counter() - t0
        self.epoch += 1
        record = {k: v / max(count, 1) for k, v in sums.items()}
        if self.world_size > 1:
            broadcast_state(m, "GAN trainer: rank 0's buffers", buffers_only=True)
            keys = sorted(record)
            (total,) = _dist.sum_float64(
                [np.array([record[k] for k in keys] + [seen])], "GAN trainer: epoch means"
            )
            record = {k: float(v) / self.world_size for k, v in zip(keys, total, strict=False)}
            seen = int(total[-1])  # images of every rank
            elapsed = max(_dist.all_gather_object(elapsed, "GAN trainer: epoch time"))
        record["epoch"] = float(self.epoch)
        record["images_per_s"] = seen / max(elapsed, 1e-9)
        return record

    def _check_finite(self, d_loss: Tensor, g_loss: Tensor) -> None:
        """Stop on a NaN / inf loss, naming the step (and, data-parallel, the rank: every rank
        sees every rank's losses, so all stop together instead of waiting on a dead peer)."""
        values = [[float(d_loss.detach()), float(g_loss.detach())]]
        if self.world_size > 1:
            values = _dist.all_gather_object(values[0], f"GAN step {self.step}: losses")
        for rank, pair in enumerate(values):
            for name, value in zip(("discriminator", "generator"), pair, strict=True):
                if not math.isfinite(value):
                    where = f" on rank {rank}" if self.world_size > 1 else ""
                    last = (
                        "" if self.out is None else f"; last good checkpoint: {self.out / 'last'}"
                    )
                    raise FloatingPointError(
                        f"GAN training: {name} loss is {value}{where} at step {self.step} "
                        f"(epoch {self.epoch + 1}){last}"
                    )

    def sample_grid(self) -> NDArray[np.uint8]:
        """Fixed-noise samples of the sample captions: uint8 (k, 8, S, S, 3)."""
        return self.model.generate_from_embeddings(self.sample_text, 8, z=self.fixed_z)

    def fit(self, until_epoch: int | None = None) -> list[dict[str, float]]:
        """Train to ``config.epochs`` (or ``until_epoch``); returns the per-epoch history."""
        c = self.config
        stop = c.epochs if until_epoch is None else min(until_epoch, c.epochs)
        while self.epoch < stop:
            record = self.train_epoch()
            self.history.append(record)
            if self.out is not None and self.rank == 0:
                if c.sample_every and self.epoch % c.sample_every == 0:
                    save_image_grid(
                        self.sample_grid(), self.out / f"samples_epoch{self.epoch:03d}.png"
                    )
                self.save(self.out / "last")
        if self.world_size > 1:
            _dist.barrier("GAN trainer: end of training")  # rank 0's checkpoint is on disk
        return self.history


def image_grid(images: NDArray[np.uint8], pad: int = 2) -> NDArray[np.uint8]:
    """(rows, cols, S, S, 3) uint8 -> one (rows*(S+pad)+pad, cols*(S+pad)+pad, 3) image."""
    rows, cols, s = images.shape[0], images.shape[1], images.shape[2]
    out = np.full((rows * (s + pad) + pad, cols * (s + pad) + pad, 3), 255, dtype=np.uint8)
    for r in range(rows):
        for k in range(cols):
            y, x = pad + r * (s + pad), pad + k * (s + pad)
            out[y : y + s, x : x + s] = images[r, k]
    return out


def save_image_grid(images: NDArray[np.uint8], path: str | os.PathLike[str]) -> Path:
    """Save a (rows, cols, S, S, 3) uint8 grid as a PNG."""
    import matplotlib.image

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    matplotlib.image.imsave(p, image_grid(images))
    return p
