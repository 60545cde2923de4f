"""VSE (Kiros et al. 2014) and VSE++ (Faghri et al. 2018): image encoder + GRU/LSTM text encoder
trained with a hinge triplet loss (sum of hinges or hardest negative) or InfoNCE."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from vislang import _dist
from vislang.exceptions import InvalidInputError
from vislang.losses import InfoNCELoss, VSELoss
from vislang.models._composed import forward, from_dict, renamed, split_flat, to_dict
from vislang.models.base import CaptionPairs, CrossModalModel, _rows, as_image_tensor
from vislang.models.image_encoders import ImageEncoder, ImageEncoderConfig
from vislang.models.registry import register_model
from vislang.models.text_encoders import TextEncoderConfig, create_text_encoder
from vislang.models.vocabulary import Vocabulary

__all__ = ["VSE", "VSEConfig", "similarity_spread"]

LossKind = Literal["vse", "vse++", "infonce"]
_EXAMPLE_CAPTIONS = ("a red circle", "a blue square", "two green triangles", "a small red circle")


@dataclass(init=False)
class VSEConfig:
    """Options of :class:`VSE` (saved in checkpoints): its two encoders' configs plus the loss.

    ``loss``: ``"vse"`` (sum of hinges), ``"vse++"`` (hardest negative, after
    ``hinge_warmup_steps`` steps of sum) or ``"infonce"`` (with ``temperature``). The flat
    keywords of the encoders (``backbone``, ``feature_dim``, ``finetune``, ``image_size``,
    ``text_encoder``, ``word_dim``, ``num_layers``, ``bidirectional``, ``embed_dim`` for both)
    are shorthand for ``image=ImageEncoderConfig(...)`` / ``text=TextEncoderConfig(...)`` and
    stay readable as attributes (``config.backbone``). ``warmup_steps`` is the deprecated name
    of ``hinge_warmup_steps``. After the warm-up, ``blend_steps`` steps of a linear sum-to-max
    blend; VSE++ keeps half the (per-negative) sum of hinges by default (``blend_to=0.5``):
    with pure hardest negatives, small data collapses to the ``2 * B * margin`` plateau (see
    :class:`vislang.losses.VSELoss`, ``blend_to``, and ``benches/results/vsepp_plateau.md``);
    ``blend_to=1.0`` is the paper's loss.

    Examples
    --------
    >>> c = VSEConfig(feature_dim=8, word_dim=4, embed_dim=6, loss="vse")
    >>> c.image.feature_dim, c.text.word_dim, c.text.embed_dim, c.embed_dim
    (8, 4, 6, 6)
    """

    image: ImageEncoderConfig
    text: TextEncoderConfig
    loss: str = "vse++"
    margin: float = 0.2
    hinge_warmup_steps: int = 0
    blend_steps: int = 0
    blend_to: float = 0.5
    temperature: float = 0.07

    def __init__(
        self,
        image: ImageEncoderConfig | None = None,
        text: TextEncoderConfig | None = None,
        *,
        loss: str = "vse++",
        margin: float = 0.2,
        hinge_warmup_steps: int = 0,
        blend_steps: int = 0,
        blend_to: float = 0.5,
        temperature: float = 0.07,
        **flat: Any,
    ) -> None:
        if "warmup_steps" in flat:
            hinge_warmup_steps = renamed(flat, "warmup_steps", "hinge_warmup_steps", "VSEConfig")
        self.image = replace(image) if image is not None else ImageEncoderConfig()
        self.text = replace(text) if text is not None else TextEncoderConfig()
        split_flat("VSEConfig", flat, self.image, self.text)
        self.loss, self.margin = loss, margin
        self.hinge_warmup_steps, self.temperature = hinge_warmup_steps, temperature
        self.blend_steps, self.blend_to = blend_steps, blend_to
        if self.loss not in ("vse", "vse++", "infonce"):
            raise InvalidInputError(f"loss: must be 'vse', 'vse++' or 'infonce', got {self.loss!r}")
        if self.margin < 0:
            raise InvalidInputError(f"margin: must be >= 0, got {self.margin}")
        if self.image.embed_dim != self.text.embed_dim:
            raise InvalidInputError(
                f"embed_dim: image ({self.image.embed_dim}) and text ({self.text.embed_dim}) "
                "encoders must share the joint space"
            )

    backbone = forward("image", "backbone")
    feature_dim = forward("image", "feature_dim")
    finetune = forward("image", "finetune")
    image_size = forward("image", "image_size")
    text_encoder = forward("text", "kind")
    word_dim = forward("text", "word_dim")
    num_layers = forward("text", "num_layers")
    bidirectional = forward("text", "bidirectional")

    @property
    def embed_dim(self) -> int:
        """The joint space size (of both encoders)."""
        return self.image.embed_dim

    @embed_dim.setter
    def embed_dim(self, value: int) -> None:
        self.image.embed_dim = self.text.embed_dim = value

    @property
    def warmup_steps(self) -> int:
        """Deprecated name of ``hinge_warmup_steps``."""
        return self.hinge_warmup_steps

    @classmethod
    def from_dict(cls, config: Mapping[str, Any]) -> VSEConfig:
        """From :meth:`to_dict` or the flat dict of a checkpoint saved before the split."""
        return from_dict(cls, config, {"warmup_steps": "hinge_warmup_steps"})

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)


@torch.no_grad()
def similarity_spread(image_emb: Tensor, text_emb: Tensor, positives: Tensor) -> dict[str, float]:
    """How far a batch is from collapse: statistics of ``S = image_emb @ text_emb.T``.

    For each caption (column) ``j`` with its positive image ``p``: ``gap_j = S[p, j] -
    max_{i negative} S[i, j]``, the margin VSE++ acts on. A collapsed space has every
    similarity alike: ``sim_std`` near 0 and ``gap_mean`` near 0 (VSE++'s loss is then
    ``2 * B * margin``).

    Returns
    -------
    dict
        ``sim_std`` (std of all similarities), ``pos_sim`` / ``neg_sim`` (means over positive
        and negative entries), ``gap_mean`` / ``gap_std`` (of the per-caption gap to the
        hardest negative; captions with no negative are left out).
    """
    s = image_emb @ text_emb.t()  # (U, B)
    pos = positives.bool()
    neg = ~pos
    # The caption's own image: its most similar positive (the one the hinge compares).
    s_pos = s.masked_fill(neg, -torch.inf).amax(dim=0)  # (B,)
    s_neg = s.masked_fill(pos, -torch.inf).amax(dim=0)  # (B,)
    has_neg = neg.any(dim=0)
    gap = (s_pos - s_neg)[has_neg]
    n_gap = int(gap.numel())
    return {
        "sim_std": float(s.std()) if s.numel() > 1 else 0.0,
        "pos_sim": float(s[pos].mean()),
        "neg_sim": float(s[neg].mean()) if bool(neg.any()) else float("nan"),
        "gap_mean": float(gap.mean()) if n_gap else float("nan"),
        "gap_std": float(gap.std()) if n_gap > 1 else float("nan"),
    }


@register_model(
    "vse",
    family="retrieval",
    description="VSE (Kiros et al. 2014): sum of hinges over the batch",
    defaults={"loss": "vse"},
    factory="create",
)
@register_model(
    "vse++",
    family="retrieval",
    description="VSE++ (Faghri et al. 2018): hardest negative in the batch",
    defaults={"loss": "vse++"},
    factory="create",
)
@register_model(
    "infonce",
    family="retrieval",
    description="VSE image/caption encoders trained with InfoNCE (Oord et al. 2018)",
    defaults={"loss": "infonce"},
    factory="create",
)
class VSE(CrossModalModel):
    """Visual-semantic embedding: images and captions in one L2-normalised space.

    Parameters
    ----------
    vocab : Vocabulary
        Built from the training captions only.
    config : VSEConfig
    word_vectors : WordVectors, (vectors, words) or path, optional
        Initialises the word embeddings (and sets ``word_dim``).
    pretrained : path or True, optional
        Backbone weights (see :func:`vislang.models.create_backbone`).

    Examples
    --------
    >>> from vislang.models import VSE, VSEConfig, Vocabulary
    >>> vocab = Vocabulary.build(["a red circle", "a blue square"])
    >>> model = VSE(vocab, VSEConfig(feature_dim=8, word_dim=4, embed_dim=6))
    >>> model.embed_texts(["a red square"]).shape
    torch.Size([1, 6])
    """

    model_type = "vse"
    #: ``evaluate`` is :func:`~vislang.eval.retrieval.retrieval_metrics` of ``embed_images`` and
    #: ``embed_texts``, so a data-parallel trainer may embed a block per rank and gather.
    evaluates_retrieval: bool = True

    def __init__(
        self,
        vocab: Vocabulary,
        config: VSEConfig | None = None,
        *,
        word_vectors: Any = None,
        pretrained: Any = None,
    ) -> None:
        super().__init__()
        self.vocab = vocab
        self.config = config or VSEConfig()
        c = self.config
        # The registered name (vse / vse++ / infonce) is what checkpoints record.
        self.model_type = c.loss
        # The encoders share (and update: feature_dim, word_dim) the config's parts.
        self.image_encoder = ImageEncoder(c.image, pretrained=pretrained)
        self.text_encoder = create_text_encoder(vocab, c.text, word_vectors=word_vectors)
        self.criterion: VSELoss | InfoNCELoss
        if c.loss == "infonce":
            self.criterion = InfoNCELoss(c.temperature)
        else:
            hard = c.loss == "vse++"
            self.criterion = VSELoss(
                c.margin,
                hard,
                warmup_steps=c.hinge_warmup_steps if hard else 0,
                blend_steps=c.blend_steps if hard else 0,
                blend_to=c.blend_to if hard else 1.0,
            )

    @classmethod
    def create(
        cls,
        vocab: Vocabulary | None = None,
        *,
        captions: Sequence[str] | None = None,
        word_vectors: Any = None,
        pretrained: Any = None,
        **config: Any,
    ) -> VSE:
        """``create_model("vse++", vocab=..., embed_dim=...)``: the vocabulary (or the training
        ``captions`` to build it from) and the :class:`VSEConfig` keywords."""
        if vocab is None:
            if captions is None:
                raise InvalidInputError("VSE needs vocab= or captions= to build the vocabulary")
            vocab = Vocabulary.build(captions)
        return cls(vocab, VSEConfig(**config), word_vectors=word_vectors, pretrained=pretrained)

    @classmethod
    def example(cls, **overrides: Any) -> VSE:
        """A tiny model (for the registry test sweep)."""
        config = {"feature_dim": 12, "word_dim": 8, "embed_dim": 6, "hinge_warmup_steps": 1}
        return cls.create(captions=_EXAMPLE_CAPTIONS, **{**config, **overrides})

    @classmethod
    def example_batch(cls, model: VSE) -> dict[str, Any]:
        """One training batch for :meth:`example` models."""
        rng = np.random.default_rng(0)
        feats = rng.normal(size=(3, model.config.feature_dim)).astype(np.float32)
        pairs = CaptionPairs(feats, list(_EXAMPLE_CAPTIONS), np.array([0, 1, 2, 0]))
        return next(model.batches(pairs, 4, torch.Generator().manual_seed(0)))

    @property
    def embed_dim(self) -> int:
        return self.config.embed_dim

    def config_dict(self) -> dict[str, Any]:
        return {"model": self.config.to_dict(), "vocab": self.vocab.to_dict()}

    @classmethod
    def from_config_dict(cls, config: dict[str, Any]) -> VSE:
        model = dict(config["model"])
        # Checkpoints from before blend_to existed were trained with pure hardest negatives.
        model.setdefault("blend_to", 1.0)
        return cls(Vocabulary.from_dict(config["vocab"]), VSEConfig.from_dict(model))

    # ---------------------------------------------------------------- embedding
    def encode_images(self, x: Tensor) -> Tensor:
        return F.normalize(self.image_encoder(x), dim=-1)  # (B, D)

    def encode_ids(self, ids: Tensor, lengths: Tensor) -> Tensor:
        return F.normalize(self.text_encoder(ids, lengths), dim=-1)  # (B, D)

    @torch.no_grad()
    def embed_images(self, images: Any, *, batch_size: int = 256) -> Tensor:
        """L2-normalised embeddings (n, embed_dim) of features (n, F), preprocessed images
        (n, 3, H, W), or raw uint8 images (n, H, W, 3) / a list of them / a dataset."""
        return self._embed_image_batches(images, batch_size, self.encode_images)

    @torch.no_grad()
    def embed_texts(self, texts: Sequence[str], *, batch_size: int = 256) -> Tensor:
        """L2-normalised embeddings (n, embed_dim) of captions (unknown words -> <unk>,
        captions truncated to ``vocab.max_length`` tokens)."""
        ids, lengths = self.vocab.encode(list(texts) if not isinstance(texts, str) else texts)
        was = self.training
        self.eval()
        dev = self.device
        out = []
        for i in range(0, ids.shape[0], batch_size):
            ln = torch.from_numpy(lengths[i : i + batch_size])
            chunk = torch.from_numpy(ids[i : i + batch_size, : int(ln.max())]).to(dev)
            out.append(self.encode_ids(chunk, ln.to(dev)))
        self.train(was)
        return torch.cat(out)

    # ---------------------------------------------------------------- training
    def batches(
        self, data: CaptionPairs, batch_size: int, generator: torch.Generator
    ) -> Iterator[dict[str, Any]]:
        """Shuffled caption batches; ``positives`` marks every pair of the same image, so other
        captions of a batch's image are never negatives, and the pairs that ``data.positives``
        knows to be true (a caption that also describes another image of the batch)."""
        if not isinstance(data, CaptionPairs):
            raise InvalidInputError(f"VSE trains on CaptionPairs, got {type(data).__name__}")
        ids, lengths = self.vocab.encode(data.captions)
        order = torch.randperm(len(data.captions), generator=generator).numpy()
        for start in range(0, len(order), batch_size):
            sel = order[start : start + batch_size]
            img_idx = data.text_to_image[sel]
            uniq, inverse = np.unique(img_idx, return_inverse=True)
            ln = lengths[sel]
            yield {
                "images": _rows(data.images, uniq),  # (U, ...) each image once
                "ids": torch.from_numpy(ids[sel, : int(ln.max())]),
                "lengths": torch.from_numpy(ln),
                "positives": torch.from_numpy(self._batch_positives(data, uniq, inverse, sel)),
                # Image indices, so that data-parallel ranks can tell a caption of the same
                # image on another rank from a negative (global negatives).
                "image_ids": torch.from_numpy(uniq.astype(np.int64)),
                "text_image_ids": torch.from_numpy(np.asarray(img_idx, dtype=np.int64)),
            }

    @staticmethod
    def _batch_positives(
        data: CaptionPairs, uniq: Any, inverse: Any, sel: Any
    ) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """(U, B) mask: caption ``j`` of the batch is true of its unique image ``i``."""
        mask: np.ndarray[Any, np.dtype[np.bool_]] = (
            inverse.reshape(-1)[None, :] == np.arange(len(uniq))[:, None]
        )
        if data.positives is not None:
            extra = np.asarray(data.positives(uniq, sel), dtype=bool)
            if extra.shape != mask.shape:
                raise InvalidInputError(
                    f"positives(images, captions) must have shape {mask.shape}, got {extra.shape}"
                )
            mask = mask | extra
        return mask

    def training_loss(self, batch: dict[str, Any], device: torch.device) -> Tensor:
        # Text first: autograd runs the later branch's backward first, so the image
        # projection's gradient (cheap to compute, large) is final early and its all-reduce
        # overlaps the text encoder's backward pass when data-parallel.
        txt = self.encode_ids(batch["ids"].to(device), batch["lengths"].to(device))  # (B, D)
        img = self.encode_images(batch["images"].to(device, non_blocking=True))  # (U, D)
        positives = batch["positives"].to(device)
        self.batch_stats = similarity_spread(img.detach().float(), txt.detach().float(), positives)
        if "image_ids" in batch and _dist.is_active():
            ids = {"image_ids": batch["image_ids"], "text_image_ids": batch["text_image_ids"]}
            return self.criterion(img.float(), txt.float(), positives, **ids)
        return self.criterion(img.float(), txt.float(), positives)

    @torch.no_grad()
    def evaluate(
        self, data: CaptionPairs, *, device: torch.device | None = None
    ) -> dict[str, float]:
        """R@1/5/10, median/mean rank in both directions and rsum (all captions per image)."""
        from vislang.eval.retrieval import retrieval_metrics

        img = self.embed_images(as_image_tensor(data.images))
        txt = self.embed_texts(data.captions)
        return retrieval_metrics(img.cpu().numpy(), txt.cpu().numpy(), data.text_to_image)
