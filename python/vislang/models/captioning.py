"""Image captioning: Show and Tell (Vinyals et al. 2015) and Show, Attend and Tell (Xu et al.
2015, soft and hard attention), with greedy and batched beam search.

Both are :class:`~vislang.models.base.CrossModalModel` s trained by the shared
:class:`~vislang.models.Trainer` on :class:`~vislang.models.CaptionPairs` (teacher forcing;
``evaluate`` decodes greedily and scores CIDEr-D, the early-stopping metric, returned as
``rsum = 100 * cider_d``). Images are precomputed features ((n, F) for Show and Tell, grids
(n, L, D) for attention), or pixels (n, 3, H, W) through a backbone of
:mod:`~vislang.models.image_encoders` (its last feature map is the grid).

>>> from vislang.models.captioning import ShowAttendTell
>>> model = ShowAttendTell.example()
>>> caps, alphas = model.caption(torch.zeros(2, 4, 8), beam=2, return_attention=True)
>>> len(caps), alphas[0].shape[1]
(2, 4)
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import Tensor, nn

from vislang.exceptions import InvalidInputError
from vislang.models._composed import strict_config
from vislang.models.base import CaptionPairs, CrossModalModel, _rows
from vislang.models.image_encoders import create_backbone
from vislang.models.registry import register_model
from vislang.models.vocabulary import Vocabulary

__all__ = [
    "END",
    "START",
    "CaptionConfig",
    "Captioner",
    "SCSTImages",
    "ShowAndTell",
    "ShowAttendTell",
    "backbone_grid",
    "beam_search",
    "caption_vocabulary",
    "greedy_search",
    "sample_search",
]

START = "<start>"
END = "<end>"
_START, _END = 2, 3  # indices after <pad>, <unk>


def caption_vocabulary(
    captions: Sequence[str], *, min_count: int = 1, max_length: int = 20
) -> Vocabulary:
    """The words of the training captions (only!) with ``<start>`` and ``<end>`` at 2 and 3."""
    base = Vocabulary.build(captions, min_count=min_count, max_length=max_length)
    words = [w for w in base.words[2:] if w not in (START, END)]
    return Vocabulary([START, END, *words], max_length=max_length)


def _check_vocab(vocab: Vocabulary) -> None:
    if len(vocab) < 5 or vocab.words[_START] != START or vocab.words[_END] != END:
        raise InvalidInputError(
            "vocab: a captioning vocabulary needs <start>, <end> at 2, 3 and at least one word "
            "(use caption_vocabulary)"
        )


def backbone_grid(backbone: nn.Module, x: Tensor) -> Tensor:
    """The last feature map of a backbone of :func:`create_backbone` as a grid (B, L, C)
    (L = h * w locations, row-major), instead of the pooled (B, C)."""
    from vislang.models.image_encoders import TinyCNN, _EfficientNetFeatures

    fmap: Tensor
    if isinstance(backbone, TinyCNN):
        fmap = backbone.features(x)
    elif isinstance(backbone, _EfficientNetFeatures):
        fmap = backbone.net.extract_features(x)  # type: ignore[operator]
    else:  # torchvision ResNet: everything before the global pooling
        b: Any = backbone
        fmap = b.maxpool(b.relu(b.bn1(b.conv1(x))))
        for name in ("layer1", "layer2", "layer3", "layer4"):
            fmap = getattr(b, name)(fmap)
    return fmap.flatten(2).transpose(1, 2)  # (B, L, C)


@dataclass
class SCSTImages:
    """Training data of self-critical sequence training (Rennie et al. 2017): one row per image
    and its reference captions; the CIDEr-D document frequencies of ``references`` are computed
    once (:class:`~vislang.eval.CiderD`). ``samples`` captions are sampled per image, each
    rewarded by its CIDEr-D minus the greedy caption's. The trainer batches images
    (``batch_size`` = images per step)."""

    images: Any
    references: list[list[str]]
    samples: int = 1
    scorer: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if len(self.references) != len(self.images):
            raise InvalidInputError(
                f"SCSTImages: {len(self.images)} images but {len(self.references)} reference lists"
            )
        if self.samples < 1:
            raise InvalidInputError(f"samples: must be >= 1, got {self.samples}")
        if self.scorer is None:
            from vislang.eval.caption import CiderD

            self.scorer = CiderD(self.references)


@dataclass
class CaptionConfig:
    """Options of the captioning models (saved in checkpoints).

    ``backbone="precomputed"`` takes features: (n, feature_dim) for Show and Tell, grids
    (n, L, feature_dim) for Show-Attend-Tell. ``attention``: ``"soft"`` or ``"hard"``
    (Show-Attend-Tell only). ``alpha_c``: the doubly stochastic regulariser's lambda;
    ``entropy_weight``, ``reinforce_weight`` and ``baseline_decay``: hard attention's REINFORCE.
    """

    backbone: str = "precomputed"
    feature_dim: int = 1280
    finetune: bool = True
    image_size: int = 0
    word_dim: int = 256
    hidden_dim: int = 512
    attention_dim: int = 256
    dropout: float = 0.3
    attention: str = "soft"
    alpha_c: float = 1.0
    entropy_weight: float = 0.01
    reinforce_weight: float = 1.0
    baseline_decay: float = 0.9

    def __post_init__(self) -> None:
        for name in ("feature_dim", "word_dim", "hidden_dim", "attention_dim"):
            if int(getattr(self, name)) < 1:
                raise InvalidInputError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise InvalidInputError(f"dropout: must be in [0, 1), got {self.dropout}")
        if self.attention not in ("soft", "hard"):
            raise InvalidInputError(f"attention: must be 'soft' or 'hard', got {self.attention!r}")
        if self.alpha_c < 0 or self.entropy_weight < 0 or not 0 <= self.baseline_decay < 1:
            raise InvalidInputError("alpha_c, entropy_weight >= 0 and baseline_decay in [0, 1)")


class Captioner(CrossModalModel):
    """Shared parts: vocabulary, image input, batching, decoding and evaluation.

    Subclasses implement ``encode(x) -> state`` (a dict of tensors with the batch first),
    ``step(tokens, state) -> (log_probs (N, V), state, alpha (N, L) or None)`` and
    ``sequence_loss(batch, device)``.
    """

    model_type: str = ""
    uses_grid: ClassVar[bool] = False
    #: State entries that stay the same for every step of one image (beam search never
    #: reorders them: beams only move within their image).
    static_state: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self, vocab: Vocabulary, config: CaptionConfig | None = None, *, pretrained: Any = None
    ) -> None:
        super().__init__()
        _check_vocab(vocab)
        self.vocab = vocab
        self.config = config or CaptionConfig()
        c = self.config
        self.backbone: nn.Module | None = None
        if c.backbone != "precomputed":
            self.backbone, c.feature_dim = create_backbone(c.backbone, pretrained=pretrained)
            if not c.finetune:
                self.backbone.requires_grad_(False)
        self.embed = nn.Embedding(len(vocab), c.word_dim)
        self.drop = nn.Dropout(c.dropout)

    # ---------------------------------------------------------------- registry / checkpoint
    def config_dict(self) -> dict[str, Any]:
        return {"model": asdict(self.config), "vocab": self.vocab.to_dict()}

    @classmethod
    def from_config_dict(cls, config: dict[str, Any]) -> Captioner:
        vocab = Vocabulary.from_dict(config["vocab"])
        return cls(vocab, strict_config(CaptionConfig, config["model"]))

    @classmethod
    def example(cls, **overrides: Any) -> Captioner:
        """A tiny instance (precomputed 8-d features; grids of 4 locations for attention)."""
        vocab = caption_vocabulary(["a red circle", "a blue square", "the red square"])
        kw: dict[str, Any] = {
            "feature_dim": 8,
            "word_dim": 6,
            "hidden_dim": 10,
            "attention_dim": 5,
            "dropout": 0.0,
        }
        kw.update(overrides)
        return cls(vocab, CaptionConfig(**kw))

    @classmethod
    def example_batch(cls, model: Captioner) -> dict[str, Any]:
        """One training batch for an :meth:`example` instance."""
        shape = (
            (3, 4, model.config.feature_dim) if model.uses_grid else (3, model.config.feature_dim)
        )
        data = CaptionPairs(
            torch.randn(*shape, generator=torch.Generator().manual_seed(0)),
            ["a red circle", "a blue square", "the red square"],
            np.arange(3),
        )
        return next(iter(model.batches(data, 3, torch.Generator().manual_seed(0))))

    def train(self, mode: bool = True) -> Captioner:
        super().train(mode)
        if self.backbone is not None and not self.config.finetune:
            self.backbone.eval()
        return self

    @property
    def embed_dim(self) -> int:
        return self.config.hidden_dim

    def init_word_vectors(self, word_vectors: Any, *, seed: int = 0) -> int:
        """Initialise the decoder's word embeddings from pre-trained vectors (GloVe, word2vec:
        a :class:`~vislang.semantics.WordVectors`, a ``(vectors, words)`` pair or a file);
        vocabulary words they lack get small random vectors, ``<pad>`` zero. Their dimension
        must equal ``config.word_dim``. Returns the number of vocabulary words found."""
        from vislang.models.text_encoders import pretrained_embeddings

        weights, found = pretrained_embeddings(self.vocab, word_vectors, seed=seed)
        if weights.shape[1] != self.config.word_dim:
            raise InvalidInputError(
                f"word vectors have dimension {weights.shape[1]} but word_dim is "
                f"{self.config.word_dim} (set word_dim to the vectors' dimension)"
            )
        with torch.no_grad():
            self.embed.weight.copy_(weights.to(self.embed.weight))
        return found

    # ---------------------------------------------------------------- images
    def features(self, x: Tensor) -> Tensor:
        """(B, F) pooled features or (B, L, F) grids from features / pixels."""
        c = self.config
        if self.backbone is None:
            want = 3 if self.uses_grid else 2
            if x.ndim != want or x.shape[-1] != c.feature_dim:
                shape = "(n, L, %d)" if self.uses_grid else "(n, %d)"
                raise InvalidInputError(
                    f"features must have shape {shape % c.feature_dim}, got {tuple(x.shape)}"
                )
            return x
        if x.ndim != 4 or x.shape[1] != 3:
            raise InvalidInputError(f"images must have shape (n, 3, H, W), got {tuple(x.shape)}")
        if self.uses_grid:
            return backbone_grid(self.backbone, x)
        pooled: Tensor = self.backbone(x)
        return pooled

    def _image_tensor(self, images: Any) -> Tensor:
        if isinstance(images, Tensor) and images.ndim == 3:
            return images.float()
        if isinstance(images, np.ndarray) and images.ndim == 3 and images.dtype != np.uint8:
            return torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
        return self.image_input(images)

    # ---------------------------------------------------------------- subclasses
    def encode(self, x: Tensor) -> dict[str, Tensor]:
        raise NotImplementedError

    def step(
        self, tokens: Tensor, state: dict[str, Tensor]
    ) -> tuple[Tensor, dict[str, Tensor], Tensor | None]:
        raise NotImplementedError

    def sequence_loss(self, batch: dict[str, Any], device: torch.device) -> Tensor:
        raise NotImplementedError

    # ---------------------------------------------------------------- training
    def encode_captions(self, captions: Sequence[str]) -> tuple[Tensor, Tensor]:
        """Targets ``w1 .. wT <end>`` (padded with 0) and their lengths T + 1.

        Raises :class:`InvalidInputError` naming the caption when it has no known word."""
        rows = []
        for j, cap in enumerate(captions):
            ids = self.vocab.lookup(self.vocab.tokenize(cap))
            if not ids or all(i == 1 for i in ids):
                raise InvalidInputError(
                    f"caption {j} ({cap!r}) has no word of the vocabulary (only unknown words)"
                )
            rows.append([*ids, _END])
        lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)
        out = torch.zeros(len(rows), int(lengths.max()), dtype=torch.long)
        for j, r in enumerate(rows):
            out[j, : len(r)] = torch.tensor(r)
        return out, lengths

    def batches(
        self, data: CaptionPairs, batch_size: int, generator: torch.Generator
    ) -> Iterator[dict[str, Any]]:
        """Shuffled (image, caption) pairs with teacher-forcing targets; for
        :class:`SCSTImages`, shuffled images with their reference index and a sampling seed."""
        if isinstance(data, SCSTImages):
            yield from self._scst_batches(data, batch_size, generator)
            return
        if not isinstance(data, CaptionPairs):
            raise InvalidInputError(
                f"{type(self).__name__} trains on CaptionPairs, got {type(data).__name__}"
            )
        targets, lengths = self.encode_captions(data.captions)
        order = torch.randperm(len(data.captions), generator=generator).numpy()
        images = data.images
        for start in range(0, len(order), batch_size):
            sel = order[start : start + batch_size]
            ln = lengths[sel]
            yield {
                "images": self._image_tensor(_rows(images, data.text_to_image[sel])),
                "targets": targets[sel, : int(ln.max())],
                "lengths": ln,
            }

    def training_loss(self, batch: dict[str, Any], device: torch.device) -> Tensor:
        if "scorer" in batch:
            return self.scst_loss(batch, device)
        return self.sequence_loss(batch, device)

    # ---------------------------------------------------------------- self-critical training
    def _scst_batches(
        self, data: SCSTImages, batch_size: int, generator: torch.Generator
    ) -> Iterator[dict[str, Any]]:
        n = len(data.references)
        order = torch.randperm(n, generator=generator).numpy()
        for start in range(0, n, batch_size):
            sel = order[start : start + batch_size]
            # The sampling seed comes from the epoch's generator: exact resume, whatever else
            # used the global RNG.
            seed = int(torch.randint(2**62, (1,), generator=generator))
            yield {
                "images": self._image_tensor(_rows(data.images, sel)),
                "index": sel,
                "scorer": data.scorer,
                "samples": data.samples,
                "seed": seed,
            }

    def scst_loss(
        self, batch: dict[str, Any], device: torch.device, *, max_length: int = 16
    ) -> Tensor:
        """Self-critical sequence training (Rennie et al. 2017): sample ``samples`` captions
        per image, reward each by its CIDEr-D minus the CIDEr-D of the greedy caption (test-time
        inference as the baseline), loss ``-(reward * log p(sample)).mean()``.

        Sets ``batch_stats`` (mean sampled and greedy CIDEr-D) for the trainer's history."""
        x = self.features(batch["images"].to(device))
        k = int(batch["samples"])
        index = np.asarray(batch["index"])
        was = self.training
        self.eval()
        try:
            with torch.no_grad():
                greedy_ids, _ = greedy_search(self.step, self.encode(x.detach()), max_length)
        finally:
            self.train(was)
        state = self.encode(x)
        if k > 1:
            state = _select(state, torch.arange(x.shape[0], device=x.device).repeat_interleave(k))
        gen = torch.Generator(device=x.device).manual_seed(int(batch["seed"]))
        ids, logp = sample_search(self.step, state, max_length, generator=gen)
        scorer = batch["scorer"]
        greedy = scorer.score([self.decode_ids(i) for i in greedy_ids], index)
        sampled = scorer.score([self.decode_ids(i) for i in ids], np.repeat(index, k))
        adv = torch.as_tensor(sampled - np.repeat(greedy, k), dtype=logp.dtype, device=x.device)
        self.batch_stats = {
            "scst_sample_cider_d": float(sampled.mean()),
            "scst_greedy_cider_d": float(greedy.mean()),
        }
        return -(adv * logp).mean()

    def _teacher_inputs(self, targets: Tensor) -> Tensor:
        """``<start> w1 .. wT`` from targets ``w1 .. wT <end>``."""
        start = torch.full_like(targets[:, :1], _START)
        return torch.cat([start, targets[:, :-1]], dim=1)

    # ---------------------------------------------------------------- decoding
    def _check_decode(self, beam: int, max_length: int) -> None:
        n_words = len(self.vocab) - 2  # everything but <pad> and <start>
        if beam < 1:
            raise InvalidInputError(f"beam must be >= 1, got {beam}")
        if beam > n_words:
            raise InvalidInputError(
                f"beam={beam} is larger than the {n_words} words the model can emit"
            )
        if max_length < 1:
            raise InvalidInputError(f"max_length must be >= 1, got {max_length}")

    @torch.no_grad()
    def generate(
        self,
        images: Any,
        *,
        beam: int = 1,
        max_length: int = 20,
        length_penalty: float = 0.0,
        batch_size: int = 64,
    ) -> tuple[list[list[int]], list[NDArray[np.float32] | None]]:
        """Token ids (without ``<end>``) and attention maps (T, L) per image."""
        self._check_decode(beam, max_length)
        x = self._image_tensor(images)
        was = self.training
        self.eval()
        dev = self.device
        ids: list[list[int]] = []
        alphas: list[NDArray[np.float32] | None] = []
        try:
            for s in range(0, x.shape[0], batch_size):
                state = self.encode(self.features(x[s : s + batch_size].to(dev)))
                if beam == 1:
                    i, a = greedy_search(self.step, state, max_length)
                else:
                    i, a = beam_search(
                        self.step,
                        state,
                        beam,
                        max_length,
                        length_penalty,
                        static=self.static_state,
                    )
                ids += i
                alphas += a
        finally:
            self.train(was)
        return ids, alphas

    def decode_ids(self, ids: Sequence[int]) -> str:
        return " ".join(self.vocab.words[i] for i in ids)

    def caption(
        self,
        images: Any,
        *,
        beam: int = 3,
        max_length: int = 20,
        length_penalty: float = 0.0,
        return_attention: bool = False,
    ) -> Any:
        """Captions (strings) of ``images``; with ``return_attention`` also the attention maps,
        one (n_words + 1, L) array per image (the last row is the step that emitted
        ``<end>``; ``None`` for Show and Tell).

        ``images``: features, grids, preprocessed pixels, raw uint8 images, paths or a dataset
        (raw images are resized like the training images)."""
        ids, alphas = self.generate(
            images, beam=beam, max_length=max_length, length_penalty=length_penalty
        )
        caps = [self.decode_ids(i) for i in ids]
        return (caps, alphas) if return_attention else caps

    @torch.no_grad()
    def evaluate(
        self, data: CaptionPairs, *, device: torch.device | None = None, beam: int = 1
    ) -> dict[str, float]:
        """Caption metrics of greedy (or beam) captions of each image of ``data`` against all
        its captions; ``rsum`` = 100 x CIDEr-D (what the trainer's early stopping maximises)."""
        from vislang.eval.caption import caption_metrics

        uniq = np.unique(data.text_to_image)
        refs: dict[int, list[str]] = {int(i): [] for i in uniq}
        for cap, i in zip(data.captions, data.text_to_image, strict=True):
            refs[int(i)].append(cap)
        cands = self.caption(_rows(data.images, uniq), beam=beam)
        m = caption_metrics(dict(zip(refs, cands, strict=True)), refs)
        m["rsum"] = 100.0 * m["cider_d"]
        return m

    def embed_images(self, images: Any, *, batch_size: int = 256) -> Tensor:
        raise InvalidInputError(f"{type(self).__name__} generates captions; it embeds nothing")

    def embed_texts(self, texts: Sequence[str], *, batch_size: int = 256) -> Tensor:
        raise InvalidInputError(f"{type(self).__name__} generates captions; it embeds nothing")


# ==================================================================== decoding
def _mask_special(logp: Tensor) -> Tensor:
    logp = logp.clone()
    logp[:, 0] = -math.inf  # <pad>
    logp[:, _START] = -math.inf
    return logp


def _select(state: dict[str, Tensor], idx: Tensor) -> dict[str, Tensor]:
    return {k: v.index_select(0, idx) for k, v in state.items()}


def greedy_search(
    step: Any, state: dict[str, Tensor], max_length: int
) -> tuple[list[list[int]], list[NDArray[np.float32] | None]]:
    """Arg-max decoding, batched; a caption stops at ``<end>`` or ``max_length`` words."""
    n = next(iter(state.values())).shape[0]
    dev = next(iter(state.values())).device
    tokens = torch.full((n,), _START, dtype=torch.long, device=dev)
    out: list[list[int]] = [[] for _ in range(n)]
    att: list[list[Tensor]] = [[] for _ in range(n)]
    done = torch.zeros(n, dtype=torch.bool, device=dev)
    for _ in range(max_length + 1):
        logp, state, alpha = step(tokens, state)
        tokens = _mask_special(logp).argmax(-1)
        for i in torch.nonzero(~done).flatten().tolist():
            if alpha is not None:
                att[i].append(alpha[i].cpu())
            t = int(tokens[i])
            if t == _END or len(out[i]) == max_length:
                done[i] = True
            else:
                out[i].append(t)
        if bool(done.all()):
            break
    return out, [torch.stack(a).numpy() if a else None for a in att]


def sample_search(
    step: Any,
    state: dict[str, Tensor],
    max_length: int,
    *,
    generator: torch.Generator | None = None,
) -> tuple[list[list[int]], Tensor]:
    """Sample one caption per row from the model's distribution (``<pad>``/``<start>``
    excluded); returns the token ids (without ``<end>``) and the summed log-probability of
    each sampled sequence, ``<end>`` included, differentiable (N,). A caption stops at ``<end>``
    or after ``max_length`` words (then ``<end>`` is not sampled and not counted)."""
    n = next(iter(state.values())).shape[0]
    dev = next(iter(state.values())).device
    tokens = torch.full((n,), _START, dtype=torch.long, device=dev)
    alive = torch.ones(n, dtype=torch.bool, device=dev)
    total = torch.zeros(n, device=dev)
    steps: list[Tensor] = []
    for _ in range(max_length + 1):
        logp, state, _ = step(tokens, state)
        logp = _mask_special(logp.float())
        tokens = torch.multinomial(logp.exp(), 1, generator=generator).squeeze(1)
        if len(steps) == max_length:  # no room left: stop without counting <end>
            break
        picked = logp.gather(1, tokens[:, None]).squeeze(1)
        total = total + torch.where(alive, picked, torch.zeros_like(picked))
        steps.append(torch.where(alive, tokens, torch.full_like(tokens, _END)))
        alive = alive & (tokens != _END)
        if not bool(alive.any()):
            break
    out: list[list[int]] = []
    seq = torch.stack(steps, 1).tolist() if steps else [[] for _ in range(n)]
    for row in seq:
        words = []
        for t in row:
            if t == _END:
                break
            words.append(int(t))
        out.append(words)
    return out, total


def beam_search(
    step: Any,
    state: dict[str, Tensor],
    beam: int,
    max_length: int,
    length_penalty: float = 0.0,
    *,
    static: tuple[str, ...] = (),
) -> tuple[list[list[int]], list[NDArray[np.float32] | None]]:
    """Beam search batched over images: ``beam`` hypotheses per image advance together as one
    (n * beam) batch. A hypothesis ends at ``<end>`` (scored by its log-probability over
    ``length ** length_penalty``, the length counting ``<end>``) or after ``max_length`` words;
    when no hypothesis of an image ends, its best unfinished one is returned (never an error).
    An image stops once it holds ``beam`` finished hypotheses. ``static``: state entries equal
    for all steps of an image (e.g. its features), expanded once and never reordered.
    """
    n = next(iter(state.values())).shape[0]
    dev = next(iter(state.values())).device
    k = beam
    # (n * k) rows: beam j of image i at row i * k + j; only beam 0 is alive at the start.
    state = _select(state, torch.arange(n, device=dev).repeat_interleave(k))
    tokens = torch.full((n * k,), _START, dtype=torch.long, device=dev)
    scores = torch.full((n, k), -math.inf, device=dev)
    scores[:, 0] = 0.0
    seqs = torch.zeros(n * k, 0, dtype=torch.long, device=dev)
    alphas: Tensor | None = None
    finished: list[list[tuple[float, list[int], Tensor | None]]] = [[] for _ in range(n)]
    done = [False] * n
    for t in range(max_length + 1):
        logp, state, alpha = step(tokens, state)
        logp = _mask_special(logp.float())
        v = logp.shape[1]
        if alpha is not None:
            a = alpha.unsqueeze(1)  # (n*k, 1, L)
            cur_alphas = a if alphas is None else torch.cat([alphas, a], dim=1)
        else:
            cur_alphas = None
        if t == max_length:
            # Only <end> may follow max_length words.
            only_end = torch.full_like(logp, -math.inf)
            only_end[:, _END] = logp[:, _END]
            logp = only_end
        total = (scores.reshape(-1, 1) + logp).reshape(n, k * v)
        top, flat = total.topk(2 * k, dim=1)  # (n, 2k)
        new_rows = torch.zeros(n, k, dtype=torch.long, device=dev)
        new_tok = torch.zeros(n, k, dtype=torch.long, device=dev)
        new_scores = torch.full((n, k), -math.inf, device=dev)
        top_l, flat_l = top.tolist(), flat.tolist()
        for i in range(n):
            if done[i]:
                continue
            filled = 0
            for rank in range(2 * k):
                sc = top_l[i][rank]
                if sc == -math.inf:
                    break
                src, tok = divmod(flat_l[i][rank], v)
                row = i * k + src
                if tok == _END:
                    if rank < k:  # only <end>s among the k best count (standard beam search)
                        words = seqs[row].tolist()
                        norm = sc / float(len(words) + 1) ** length_penalty
                        att = cur_alphas[row] if cur_alphas is not None else None
                        finished[i].append((norm, words, att))
                    continue
                if filled < k:
                    new_rows[i, filled] = row
                    new_tok[i, filled] = tok
                    new_scores[i, filled] = sc
                    filled += 1
            if len(finished[i]) >= k:
                done[i] = True
            if filled == 0:
                done[i] = True
            for j in range(filled, k):  # dead slots: copy a live row, score -inf
                new_rows[i, j] = new_rows[i, 0] if filled else i * k
        if all(done):
            break  # seqs/scores still describe the previous step's live beams
        rows = new_rows.reshape(-1)
        state = {k: v if k in static else v.index_select(0, rows) for k, v in state.items()}
        seqs = torch.cat([seqs.index_select(0, rows), new_tok.reshape(-1, 1)], dim=1)
        alphas = cur_alphas.index_select(0, rows) if cur_alphas is not None else None
        tokens = new_tok.reshape(-1)
        scores = new_scores
    out_ids: list[list[int]] = []
    out_att: list[NDArray[np.float32] | None] = []
    for i in range(n):
        if finished[i]:
            _, words, att = max(finished[i], key=lambda f: f[0])
        else:  # no hypothesis ended: the best partial one
            j = int(scores[i].argmax())
            words = seqs[i * k + j].tolist()
            att = alphas[i * k + j] if alphas is not None else None
        out_ids.append(words)
        out_att.append(None if att is None else att.cpu().numpy())
    return out_ids, out_att


# ==================================================================== models
@register_model(
    "show-and-tell",
    family="captioning",
    description="Show and Tell (Vinyals et al. 2015): CNN feature as the LSTM's first input",
)
class ShowAndTell(Captioner):
    """Show and Tell: the image feature, mapped to the word space, is the LSTM's input at
    t = -1; then ``<start>`` and the words (teacher forcing); cross-entropy on the next word.

    Examples
    --------
    >>> model = ShowAndTell.example()
    >>> len(model.caption(torch.zeros(2, 8), beam=2))
    2
    """

    model_type = "show-and-tell"
    uses_grid = False

    def __init__(
        self, vocab: Vocabulary, config: CaptionConfig | None = None, *, pretrained: Any = None
    ) -> None:
        super().__init__(vocab, config, pretrained=pretrained)
        c = self.config
        self.image_proj = nn.Linear(c.feature_dim, c.word_dim)
        self.lstm = nn.LSTM(c.word_dim, c.hidden_dim, batch_first=True)
        self.out = nn.Linear(c.hidden_dim, len(vocab))

    def encode(self, x: Tensor) -> dict[str, Tensor]:
        img = self.drop(self.image_proj(x)).unsqueeze(1)  # (B, 1, E)
        _, (h, c) = self.lstm(img)
        return {"h": h.squeeze(0), "c": c.squeeze(0)}

    def step(
        self, tokens: Tensor, state: dict[str, Tensor]
    ) -> tuple[Tensor, dict[str, Tensor], Tensor | None]:
        e = self.embed(tokens).unsqueeze(1)  # (N, 1, E)
        o, (h, c) = self.lstm(
            e, (state["h"].unsqueeze(0).contiguous(), state["c"].unsqueeze(0).contiguous())
        )
        logp = F.log_softmax(self.out(o.squeeze(1)), dim=-1)
        return logp, {"h": h.squeeze(0), "c": c.squeeze(0)}, None

    def sequence_loss(self, batch: dict[str, Any], device: torch.device) -> Tensor:
        x = self.features(batch["images"].to(device))
        targets = batch["targets"].to(device)  # (B, T)
        img = self.drop(self.image_proj(x)).unsqueeze(1)  # (B, 1, E)
        words = self.drop(self.embed(self._teacher_inputs(targets)))  # (B, T, E)
        o, _ = self.lstm(torch.cat([img, words], dim=1))  # (B, 1 + T, H)
        logits = self.out(self.drop(o[:, 1:]))  # (B, T, V)
        return F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=0
        )


@register_model(
    "show-attend-tell",
    family="captioning",
    description="Show, Attend and Tell (Xu et al. 2015): soft or hard attention over a grid",
)
class ShowAttendTell(Captioner):
    """Show, Attend and Tell over a grid of L locations.

    Soft attention (Eq. 4-6 and 13 of Xu et al.): ``e = w^T tanh(W_a a + W_h h)``,
    ``alpha = softmax(e)``, context ``z = beta * sum_i alpha_i a_i`` with the gating scalar
    ``beta = sigmoid(f_beta(h))``; the LSTM state starts from MLPs of the mean feature; deep
    output ``p(y_t) ~ exp(L_o(E y_{t-1} + L_h h_t + L_z z_t))``; loss = cross-entropy +
    ``alpha_c * sum_i (1 - sum_t alpha_ti)^2`` (doubly stochastic attention).

    Hard attention (``attention="hard"``, Sec. 4.1): the context is one location sampled from
    ``alpha``; the sampler is trained by REINFORCE with reward ``log p(y | s)``, a moving-average
    baseline (decay ``baseline_decay``) and an entropy bonus; half of the sequences use the
    expected context, as in the paper; decoding uses the expected context.

    Examples
    --------
    >>> model = ShowAttendTell.example()
    >>> caps, alphas = model.caption(torch.zeros(1, 4, 8), beam=1, return_attention=True)
    >>> bool(np.allclose(alphas[0].sum(axis=1), 1.0))
    True
    """

    model_type = "show-attend-tell"
    uses_grid = True
    static_state = ("feats", "proj")

    def __init__(
        self, vocab: Vocabulary, config: CaptionConfig | None = None, *, pretrained: Any = None
    ) -> None:
        super().__init__(vocab, config, pretrained=pretrained)
        c = self.config
        d, h, a, e = c.feature_dim, c.hidden_dim, c.attention_dim, c.word_dim
        self.att_feat = nn.Linear(d, a)
        self.att_hidden = nn.Linear(h, a)
        self.att_score = nn.Linear(a, 1)
        self.f_beta = nn.Linear(h, 1)
        self.init_h = nn.Linear(d, h)
        self.init_c = nn.Linear(d, h)
        self.cell = nn.LSTMCell(e + d, h)
        self.L_h = nn.Linear(h, e)
        self.L_z = nn.Linear(d, e)
        self.L_o = nn.Linear(e, len(vocab))
        self.register_buffer("baseline", torch.zeros(()))

    def encode(self, x: Tensor) -> dict[str, Tensor]:
        mean = x.mean(dim=1)  # (B, D)
        return {
            "feats": x,  # (B, L, D)
            "proj": self.att_feat(x),  # (B, L, A)
            "h": torch.tanh(self.init_h(mean)),
            "c": torch.tanh(self.init_c(mean)),
        }

    def _attend(self, state: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        e = self.att_score(torch.tanh(state["proj"] + self.att_hidden(state["h"]).unsqueeze(1)))
        alpha = F.softmax(e.squeeze(-1), dim=-1)  # (N, L)
        beta = torch.sigmoid(self.f_beta(state["h"]))  # (N, 1)
        return alpha, beta

    def _advance(
        self, tokens: Tensor, state: dict[str, Tensor], z: Tensor
    ) -> tuple[Tensor, dict[str, Tensor]]:
        emb = self.embed(tokens)  # (N, E)
        h, c = self.cell(torch.cat([self.drop(emb), z], dim=-1), (state["h"], state["c"]))
        logits = self.L_o(self.drop(emb + self.L_h(h) + self.L_z(z)))  # deep output, Eq. 7
        return logits, {**state, "h": h, "c": c}

    def step(
        self, tokens: Tensor, state: dict[str, Tensor]
    ) -> tuple[Tensor, dict[str, Tensor], Tensor | None]:
        alpha, beta = self._attend(state)
        z = beta * torch.bmm(alpha.unsqueeze(1), state["feats"]).squeeze(1)  # (N, D)
        logits, state = self._advance(tokens, state, z)
        return F.log_softmax(logits, dim=-1), state, alpha

    def sequence_loss(self, batch: dict[str, Any], device: torch.device) -> Tensor:
        c = self.config
        x = self.features(batch["images"].to(device))  # (B, L, D)
        targets = batch["targets"].to(device)  # (B, T)
        inputs = self._teacher_inputs(targets)
        mask = (targets != 0).float()  # (B, T)
        state = self.encode(x)
        hard = c.attention == "hard" and self.training
        if hard:  # half of the sequences use the expected context (Sec. 4.1)
            sample = torch.rand(x.shape[0], device=device) < 0.5
        logits_t, alphas_t, logp_s, ent = [], [], [], []
        for t in range(targets.shape[1]):
            alpha, beta = self._attend(state)
            if hard:
                dist = torch.distributions.Categorical(probs=alpha)
                s = dist.sample()  # type: ignore[no-untyped-call]  # (B,)
                onehot = F.one_hot(s, alpha.shape[1]).to(alpha.dtype)
                weights = torch.where(sample[:, None], onehot, alpha)
                logp_s.append(dist.log_prob(s) * sample * mask[:, t])  # type: ignore[no-untyped-call]
                ent.append(dist.entropy() * mask[:, t])  # type: ignore[no-untyped-call]
            else:
                weights = alpha
            z = beta * torch.bmm(weights.unsqueeze(1), x).squeeze(1)
            logits, state = self._advance(inputs[:, t], state, z)
            logits_t.append(logits)
            alphas_t.append(alpha)
        logits = torch.stack(logits_t, 1)  # (B, T, V)
        alphas = torch.stack(alphas_t, 1)  # (B, T, L)
        nll = (
            F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none"
            ).view_as(mask)
            * mask
        )
        loss: Tensor = nll.sum() / mask.sum()
        # Doubly stochastic attention: every location attended about once over the caption.
        att_sum = (alphas * mask.unsqueeze(-1)).sum(1)  # (B, L)
        loss = loss + c.alpha_c * ((1.0 - att_sum) ** 2).sum(1).mean()
        if hard:
            log_py = -nll.sum(1).detach()  # reward log p(y | s), per sequence
            r = log_py.mean()
            baseline: Tensor = self.baseline  # type: ignore[assignment]
            baseline.mul_(c.baseline_decay).add_((1 - c.baseline_decay) * r)
            adv = log_py - baseline
            reinforce = -(adv * torch.stack(logp_s, 1).sum(1)).mean()
            entropy = torch.stack(ent, 1).sum(1).mean()
            loss = loss + c.reinforce_weight * reinforce - c.entropy_weight * entropy
        return loss
