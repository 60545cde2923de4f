"""VSE (Kiros et al. 2014) and VSE++ (Faghri et al. 2018): image encoder + GRU/LSTM text encoder
trained with a hinge triplet loss (sum of hinges or hardest negative) or InfoNCE."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from vislang.exceptions import InvalidInputError
from vislang.losses import InfoNCELoss, VSELoss
from vislang.models.base import CaptionPairs, CrossModalModel, _rows, as_image_tensor
from vislang.models.image_encoders import ImageEncoder, ImageEncoderConfig
from vislang.models.text_encoders import TextEncoderConfig, create_text_encoder
from vislang.models.vocabulary import Vocabulary

__all__ = ["VSE", "VSEConfig", "similarity_spread"]

LossKind = Literal["vse", "vse++", "infonce"]


@dataclass
class VSEConfig:
    """Options of :class:`VSE` (saved in checkpoints).

    ``loss``: ``"vse"`` (sum of hinges), ``"vse++"`` (hardest negative, after
    ``warmup_steps`` steps of sum and ``blend_steps`` steps of a linear sum-to-max blend) or
    ``"infonce"`` (with ``temperature``). VSE++ keeps half the (per-negative) sum of hinges by
    default (``blend_to=0.5``): with pure hardest negatives, small data collapses to the
    ``2 * B * margin`` plateau (see :class:`vislang.losses.VSELoss`, ``blend_to``, and
    ``benches/vsepp_plateau.md``); ``blend_to=1.0`` is the paper's loss.
    """

    backbone: str = "precomputed"
    feature_dim: int = 1280
    finetune: bool = True
    image_size: int = (
        0  # pixel input size (0: the backbone's default); raw images are resized to it
    )
    text_encoder: str = "gru"
    word_dim: int = 300
    num_layers: int = 1
    bidirectional: bool = False
    embed_dim: int = 1024
    loss: str = "vse++"
    margin: float = 0.2
    warmup_steps: int = 0
    blend_steps: int = 0
    blend_to: float = 0.5
    temperature: float = 0.07

    def __post_init__(self) -> None:
        if self.loss not in ("vse", "vse++", "infonce"):
            raise InvalidInputError(f"loss: must be 'vse', 'vse++' or 'infonce', got {self.loss!r}")
        if self.margin < 0:
            raise InvalidInputError(f"margin: must be >= 0, got {self.margin}")


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
        self.image_encoder = ImageEncoder(
            ImageEncoderConfig(c.backbone, c.feature_dim, c.embed_dim, c.finetune),
            pretrained=pretrained,
        )
        c.feature_dim = self.image_encoder.cfg.feature_dim
        tcfg = TextEncoderConfig(
            c.text_encoder,  # type: ignore[arg-type]
            c.word_dim,
            c.embed_dim,
            c.num_layers,
            c.bidirectional,
        )
        self.text_encoder = create_text_encoder(vocab, tcfg, word_vectors=word_vectors)
        c.word_dim = tcfg.word_dim
        self.criterion: VSELoss | InfoNCELoss
        if c.loss == "infonce":
            self.criterion = InfoNCELoss(c.temperature)
        else:
            hard = c.loss == "vse++"
            self.criterion = VSELoss(
                c.margin,
                hard,
                warmup_steps=c.warmup_steps if hard else 0,
                blend_steps=c.blend_steps if hard else 0,
                blend_to=c.blend_to if hard else 1.0,
            )

    @property
    def embed_dim(self) -> int:
        return self.config.embed_dim

    def config_dict(self) -> dict[str, Any]:
        return {"model": asdict(self.config), "vocab": self.vocab.to_dict()}

    @classmethod
    def from_config_dict(cls, config: dict[str, Any]) -> VSE:
        names = {f.name for f in fields(VSEConfig)}
        unknown = set(config["model"]) - names
        if unknown:
            raise InvalidInputError(f"model config: unknown keys {sorted(unknown)}")
        model = dict(config["model"])
        # Checkpoints from before blend_to existed were trained with pure hardest negatives.
        model.setdefault("blend_to", 1.0)
        return cls(Vocabulary.from_dict(config["vocab"]), VSEConfig(**model))

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
        img = self.encode_images(batch["images"].to(device, non_blocking=True))  # (U, D)
        txt = self.encode_ids(batch["ids"].to(device), batch["lengths"].to(device))  # (B, D)
        positives = batch["positives"].to(device)
        self.batch_stats = similarity_spread(img.detach().float(), txt.detach().float(), positives)
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
