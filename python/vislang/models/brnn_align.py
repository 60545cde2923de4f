"""Word-region alignment of Karpathy & Fei-Fei 2015 (Deep Visual-Semantic Alignments), with the
fragment objective of Karpathy, Joulin & Fei-Fei 2014 (Deep Fragment Embeddings) as an option.

Regions are the cells of a CNN feature grid plus the whole image (the grid's mean), mapped
into the joint space: ``v_i = W_m cnn_i + b_m``. Words come from a bidirectional RNN
(eqs. 2-6 of the 2015 paper)::

    x_t = W_w onehot_t;   e_t = f(W_e x_t + b_e)
    h^f_t = f(e_t + W_f h^f_{t-1} + b_f);   h^b_t = f(e_t + W_b h^b_{t+1} + b_b)
    s_t = f(W_d (h^f_t + h^b_t) + b_d)          with f = ReLU

Image-sentence score (``score``):

- ``"max"``: ``S_kl = sum_t max_i v_i^T s_t`` (the 2015 paper's simplified eq. 8);
- ``"max_relu"``: ``sum_t max_i max(0, v_i^T s_t)`` (a word with no positive region adds 0);
- ``"sum_relu"``: ``sum_t sum_i max(0, v_i^T s_t)`` (eq. 7, from the 2014 paper).

The objective is the ranking loss over the batch in both directions (margin 1, the paper's),
run by the Rust ``negatives`` kernel on the (images x captions) score matrix. With
``objective="fragment"`` the 2014 paper's loss is used instead: the global ranking term on
``sum_relu`` scores normalised by ``(n_words + smoothing)`` plus ``fragment_weight`` times the
fragment term ``sum max(0, 1 - y_it v_i^T s_t)``, where ``y`` is -1 for regions of other
images and, for the caption's own image, ``sign(v_i^T s_t)`` with at least one positive
region per word (the paper's multiple-instance heuristic). The 2014 fragments were
dependency triples; here they are the BRNN's word vectors.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from vislang.exceptions import InvalidInputError
from vislang.losses import VSELoss
from vislang.models._composed import ImageEncoderOptions, VocabularyConfigModel
from vislang.models._pair_batches import caption_batches
from vislang.models.base import CaptionPairs, CrossModalModel
from vislang.models.image_encoders import ImageEncoderConfig, create_backbone
from vislang.models.registry import register_model
from vislang.models.vocabulary import Vocabulary

__all__ = ["Alignment", "BRNNAlign", "BRNNAlignConfig", "pixel_grid"]

_EXAMPLE_CAPTIONS = ("a red circle", "a blue square", "two green triangles", "a small red circle")


@dataclass
class BRNNAlignConfig(ImageEncoderOptions):
    """Options of :class:`BRNNAlign` (saved in checkpoints).

    ``image.backbone="precomputed"`` takes grids (n, L, feature_dim) (L cells, row-major);
    a backbone name takes pixels and uses its last feature map. ``global_region`` adds the
    whole image (the mean cell feature) as a last region, index ``L``.
    """

    image: ImageEncoderConfig = field(default_factory=ImageEncoderConfig)
    word_dim: int = 300
    hidden_dim: int = 512
    score: str = "max"
    objective: str = "global"
    margin: float = 1.0
    fragment_weight: float = 1.0
    smoothing: float = 5.0
    global_region: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.image, Mapping):
            self.image = ImageEncoderConfig(**self.image)
        if self.score not in ("max", "max_relu", "sum_relu"):
            raise InvalidInputError(
                f"score: must be 'max', 'max_relu' or 'sum_relu', got {self.score!r}"
            )
        if self.objective not in ("global", "fragment"):
            raise InvalidInputError(
                f"objective: must be 'global' or 'fragment', got {self.objective!r}"
            )
        for name in ("word_dim", "hidden_dim"):
            if int(getattr(self, name)) < 1:
                raise InvalidInputError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.image.embed_dim < 1 or self.image.feature_dim < 1:
            raise InvalidInputError("embed_dim and feature_dim must be >= 1")
        if self.margin < 0 or self.fragment_weight < 0 or self.smoothing < 0:
            raise InvalidInputError("margin, fragment_weight and smoothing must be >= 0")


class Alignment(NamedTuple):
    """``model.align(image, caption)``: the caption's tokens, ``scores`` (n_words, n_regions)
    = ``v_i^T s_t`` (the grid cells row-major, then the whole image when the model has it),
    ``best`` the top region of each word, or -1 when no region scores above 0 (a word aligned
    to nothing), and ``grid`` = (rows, cols) of the cells."""

    words: list[str]
    scores: NDArray[np.float32]
    best: NDArray[np.int64]
    grid: tuple[int, int]


def pixel_grid(images: Any, cells: int = 8, sub: int = 2) -> NDArray[np.float32]:
    """A non-learned region grid for small images: (n, cells * cells, sub * sub * 3), each
    cell's pixels (uint8 RGB (n, H, W, 3), H and W divisible by ``cells * sub``) averaged
    down to ``sub x sub`` in [0, 1]. Fast stand-in for a CNN grid on the shapes world."""
    x = np.asarray(images)
    if x.ndim != 4 or x.shape[-1] != 3:
        raise InvalidInputError(f"images must have shape (n, H, W, 3), got {x.shape}")
    n, h, w, _ = x.shape
    if h % (cells * sub) or w % (cells * sub):
        raise InvalidInputError(f"image size {h}x{w} is not divisible by cells*sub={cells * sub}")
    kh, kw = h // (cells * sub), w // (cells * sub)
    g = (x.astype(np.float32) / 255.0).reshape(n, cells, sub, kh, cells, sub, kw, 3)
    g = g.mean(axis=(3, 6)).transpose(0, 1, 3, 2, 4, 5)  # (n, cy, cx, sy, sx, 3)
    out: NDArray[np.float32] = np.ascontiguousarray(g.reshape(n, cells * cells, -1))
    return out


@register_model(
    "brnn-align",
    family="alignment",
    description="BRNN word-region alignment (Karpathy & Fei-Fei 2015)",
    factory="create",
)
class BRNNAlign(VocabularyConfigModel, CrossModalModel):
    """Image regions and words in one space; a caption's score sums its words' best regions.

    Parameters
    ----------
    vocab : Vocabulary
    config : BRNNAlignConfig
    pretrained : path or True, optional
        Backbone weights (see :func:`vislang.models.create_backbone`).

    Examples
    --------
    >>> from vislang.models import ImageEncoderConfig, Vocabulary
    >>> vocab = Vocabulary.build(["a red circle", "a blue square"])
    >>> cfg = BRNNAlignConfig(ImageEncoderConfig(feature_dim=8, embed_dim=6), 4, 5)
    >>> model = BRNNAlign(vocab, cfg)
    >>> grid = torch.randn(2, 9, 8)
    >>> model.scores(grid, ["a red circle", "a blue square", "a red square"]).shape
    torch.Size([2, 3])
    """

    config_class = BRNNAlignConfig

    model_type = "brnn-align"

    def __init__(
        self, vocab: Vocabulary, config: BRNNAlignConfig | None = None, *, pretrained: Any = None
    ) -> None:
        super().__init__()
        self.vocab = vocab
        self.config = config or BRNNAlignConfig()
        c = self.config
        self.backbone: nn.Module | None = None
        if c.image.backbone != "precomputed":
            self.backbone, c.image.feature_dim = create_backbone(
                c.image.backbone, pretrained=pretrained
            )
            if not c.image.finetune:
                self.backbone.requires_grad_(False)
        elif pretrained:
            raise InvalidInputError("pretrained: not used with backbone='precomputed'")
        self.region_fc = nn.Linear(c.image.feature_dim, c.embed_dim)  # W_m, b_m
        self.embedding = nn.Embedding(len(vocab), c.word_dim)  # W_w
        self.w_e = nn.Linear(c.word_dim, c.hidden_dim)
        self.rnn = nn.RNN(c.hidden_dim, c.hidden_dim, nonlinearity="relu", bidirectional=True)
        self.w_d = nn.Linear(c.hidden_dim, c.embed_dim)
        self.criterion = VSELoss(c.margin, False)

    def train(self, mode: bool = True) -> BRNNAlign:
        super().train(mode)
        if self.backbone is not None and not self.config.image.finetune:
            self.backbone.eval()
        return self

    @classmethod
    def create(
        cls,
        vocab: Vocabulary | None = None,
        *,
        captions: Sequence[str] | None = None,
        backbone: str = "precomputed",
        feature_dim: int = 1280,
        finetune: bool = True,
        image_size: int = 0,
        embed_dim: int = 256,
        pretrained: Any = None,
        **config: Any,
    ) -> BRNNAlign:
        """``create_model("brnn-align", captions=..., feature_dim=..., embed_dim=...)``."""
        if vocab is None:
            if captions is None:
                raise InvalidInputError("brnn-align needs vocab= or captions=")
            vocab = Vocabulary.build(captions)
        image = ImageEncoderConfig(backbone, feature_dim, embed_dim, finetune, image_size)
        return cls(vocab, BRNNAlignConfig(image, **config), pretrained=pretrained)

    @classmethod
    def example(cls, **overrides: Any) -> BRNNAlign:
        """A tiny model (for the registry test sweep)."""
        config = {"feature_dim": 12, "word_dim": 8, "hidden_dim": 8, "embed_dim": 6}
        return cls.create(captions=_EXAMPLE_CAPTIONS, **{**config, **overrides})

    @classmethod
    def example_batch(cls, model: BRNNAlign) -> dict[str, Any]:
        rng = np.random.default_rng(0)
        grids = rng.normal(size=(3, 4, model.config.image.feature_dim)).astype(np.float32)
        pairs = CaptionPairs(grids, list(_EXAMPLE_CAPTIONS), np.array([0, 1, 2, 0]))
        return next(model.batches(pairs, 4, torch.Generator().manual_seed(0)))

    @property
    def embed_dim(self) -> int:
        return self.config.embed_dim

    # ---------------------------------------------------------------- regions
    def grid_input(self, images: Any) -> Tensor:
        """Grids (n, L, F) as given (precomputed), or pixels for the backbone: features,
        preprocessed (n, 3, H, W) or raw uint8 images."""
        if isinstance(images, Tensor) and images.ndim == 3:
            return images.float()
        if isinstance(images, np.ndarray) and images.ndim == 3 and images.dtype != np.uint8:
            return torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
        return self.image_input(images)

    def cell_features(self, x: Tensor) -> Tensor:
        """(B, L, F) CNN cell features of grids or pixels."""
        c = self.config.image
        if self.backbone is None:
            if x.ndim != 3 or x.shape[-1] != c.feature_dim:
                raise InvalidInputError(
                    f"grids must have shape (n, L, {c.feature_dim}), got {tuple(x.shape)}"
                )
            return x
        if x.ndim != 4 or x.shape[1] != 3:
            raise InvalidInputError(f"images must have shape (n, 3, H, W), got {tuple(x.shape)}")
        from vislang.models.captioning import backbone_grid

        return backbone_grid(self.backbone, x)

    def encode_regions(self, x: Tensor) -> Tensor:
        """Region vectors (B, R, embed_dim): the L cells, then the whole image if
        ``global_region``."""
        cells = self.cell_features(x)
        if self.config.global_region:
            cells = torch.cat([cells, cells.mean(1, keepdim=True)], dim=1)
        out: Tensor = self.region_fc(cells)
        return out

    # ---------------------------------------------------------------- words
    def encode_words(self, texts: Sequence[str]) -> tuple[Tensor, Tensor]:
        """Word vectors (B, T, embed_dim) and the (B, T) mask of real words."""
        ids, lengths = self.vocab.encode(list(texts))
        dev = self.w_e.weight.device
        x = torch.from_numpy(ids).to(dev)
        e = torch.relu(self.w_e(self.embedding(x)))  # (B, T, H)
        packed = pack_padded_sequence(
            e.transpose(0, 1), torch.from_numpy(lengths), enforce_sorted=False
        )
        out, _ = self.rnn(packed)
        h, _ = pad_packed_sequence(out, total_length=ids.shape[1])  # (T, B, 2H)
        hidden = self.config.hidden_dim
        s = torch.relu(self.w_d(h[..., :hidden] + h[..., hidden:])).transpose(0, 1)
        mask = (
            torch.arange(ids.shape[1], device=dev)[None, :]
            < torch.from_numpy(lengths).to(dev)[:, None]
        )
        return s, mask

    # ---------------------------------------------------------------- scores
    def pair_scores(self, regions: Tensor, words: Tensor, mask: Tensor) -> Tensor:
        """(U, B) image-sentence scores from regions (U, R, D) and words (B, T, D)."""
        dots = torch.einsum("urd,btd->ubtr", regions, words)  # (U, B, T, R)
        kind = self.config.score
        if self.config.objective == "fragment":
            kind = "sum_relu"
        if kind == "max":
            per_word = dots.amax(-1)
        elif kind == "max_relu":
            per_word = dots.amax(-1).clamp_min(0)
        else:
            per_word = dots.clamp_min(0).sum(-1)
        m = mask.to(per_word.dtype)[None]
        total = (per_word * m).sum(-1)
        if self.config.objective == "fragment":
            total = total / (m.sum(-1) + self.config.smoothing)
        return total

    def scores(self, images: Any, texts: Sequence[str], *, batch_size: int = 128) -> Tensor:
        """The (n_images, n_texts) score matrix (no gradient)."""
        x = self.grid_input(images)
        was = self.training
        self.eval()
        dev = self.w_e.weight.device
        with torch.no_grad():
            words = [
                self.encode_words(texts[j : j + batch_size])
                for j in range(0, len(texts), batch_size)
            ]
            rows = []
            for i in range(0, x.shape[0], batch_size):
                regions = self.encode_regions(x[i : i + batch_size].float().to(dev))
                rows.append(torch.cat([self.pair_scores(regions, s, m) for s, m in words], 1))
        self.train(was)
        return torch.cat(rows)

    @torch.no_grad()
    def align(self, image: Any, caption: str) -> Alignment:
        """Per word of ``caption``, its score with every region of ``image`` (one grid (L, F),
        one preprocessed (3, H, W) or raw (H, W, 3) image)."""
        if not isinstance(caption, str):
            raise InvalidInputError("caption must be one string")
        x = image
        if isinstance(x, np.ndarray) and x.dtype == np.uint8:
            x = x[None]
        elif isinstance(x, Tensor | np.ndarray) and x.ndim in (2, 3):
            x = x[None]
        grid = self.grid_input(x)
        was = self.training
        self.eval()
        dev = self.w_e.weight.device
        regions = self.encode_regions(grid[:1].float().to(dev))[0]  # (R, D)
        words, _ = self.encode_words([caption])
        self.train(was)
        tokens = self.vocab.tokenize(caption) or ["<unk>"]
        s = (words[0, : len(tokens)] @ regions.t()).float().cpu().numpy()  # (T, R)
        best = np.where(s.max(1) > 0, s.argmax(1), -1).astype(np.int64)
        n_cells = regions.shape[0] - int(self.config.global_region)
        side = round(n_cells**0.5)
        shape = (side, side) if side * side == n_cells else (1, n_cells)
        return Alignment(tokens, s.astype(np.float32), best, shape)

    # ---------------------------------------------------------------- inference API
    @torch.no_grad()
    def embed_images(self, images: Any, *, batch_size: int = 256) -> Tensor:
        """Region embeddings flattened: (n, R * embed_dim). Alignment scores are not dot
        products of one vector per item; use :meth:`scores` / :meth:`search` for retrieval."""
        x = self.grid_input(images)
        was = self.training
        self.eval()
        dev = self.w_e.weight.device
        out = [
            self.encode_regions(x[i : i + batch_size].float().to(dev)).flatten(1)
            for i in range(0, x.shape[0], batch_size)
        ]
        self.train(was)
        return torch.cat(out)

    @torch.no_grad()
    def embed_texts(self, texts: Sequence[str], *, batch_size: int = 256) -> Tensor:
        """Mean word vector of each caption (n, embed_dim) (a summary; retrieval uses
        :meth:`scores`)."""
        out = []
        was = self.training
        self.eval()
        for j in range(0, len(texts), batch_size):
            s, m = self.encode_words(texts[j : j + batch_size])
            w = m.to(s.dtype)[..., None]
            out.append((s * w).sum(1) / w.sum(1).clamp_min(1))
        self.train(was)
        return torch.cat(out)

    def search(
        self, query: Any, gallery: Any, k: int = 5, *, batch_size: int = 128
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Top-``k`` gallery items per query: captions -> images or images -> captions."""
        text_query = isinstance(query, str) or (
            isinstance(query, list | tuple) and bool(query) and isinstance(query[0], str)
        )
        if isinstance(query, str):
            query = [query]
        if text_query:
            s = self.scores(gallery, list(query), batch_size=batch_size).t()
        else:
            s = self.scores(query, list(gallery), batch_size=batch_size)
        k = min(k, s.shape[1])
        top = torch.topk(s, k, dim=1)
        return top.values.cpu().numpy().astype(np.float32), top.indices.cpu().numpy()

    # ---------------------------------------------------------------- training
    def batches(
        self, data: CaptionPairs, batch_size: int, generator: torch.Generator
    ) -> Iterator[dict[str, Any]]:
        return caption_batches(data, batch_size, generator, "brnn-align")

    def training_loss(self, batch: dict[str, Any], device: torch.device) -> Tensor:
        regions = self.encode_regions(batch["images"].to(device))  # (U, R, D)
        words, mask = self.encode_words(batch["captions"])  # (B, T, D)
        positives = batch["positives"].to(device)
        s = self.pair_scores(regions, words, mask).float()
        loss: Tensor = self.criterion.forward_scores(s, positives)
        if self.config.objective == "fragment":
            loss = loss + self.config.fragment_weight * self._fragment_loss(
                regions, words, mask, positives
            )
        return loss

    def _fragment_loss(
        self, regions: Tensor, words: Tensor, mask: Tensor, positives: Tensor
    ) -> Tensor:
        """``mean max(0, 1 - y v_i^T s_t)`` over (region, word) pairs (Karpathy et al.
        2014's fragment objective with its multiple-instance labels)."""
        dots = torch.einsum("urd,btd->ubtr", regions, words).float()  # (U, B, T, R)
        own = positives.bool()[:, :, None, None].expand_as(dots)
        with torch.no_grad():
            y = torch.where(dots > 0, 1.0, -1.0)
            # at least one positive region per word among its own image's regions
            own_scores = dots.masked_fill(~own, -torch.inf)
            top = own_scores.amax(dim=(0, 3), keepdim=True)  # (1, B, T, 1)
            y = torch.where(own & (dots >= top), 1.0, y)
            y = torch.where(own, y, -1.0)
        hinge = (1.0 - y * dots).clamp_min(0)
        m = mask.to(hinge.dtype)[None, :, :, None]
        return (hinge * m).sum() / (m.sum() * dots.shape[0] * dots.shape[3]).clamp_min(1)

    @torch.no_grad()
    def evaluate(
        self, data: CaptionPairs, *, device: torch.device | None = None
    ) -> dict[str, float]:
        """R@1/5/10, median/mean rank both ways and rsum, from the full score matrix."""
        from vislang.eval.alignment import score_retrieval_metrics

        s = self.scores(data.images, data.captions)
        return score_retrieval_metrics(s.cpu().numpy(), data.text_to_image)
