"""Grounded sentence representations (Kiela, Conneau, Jabri and Nickel 2018, NAACL).

A bidirectional LSTM/GRU over (GloVe-initialisable) word embeddings, max-pooled over time
(InferSent-style), is trained on image captions to

- ``cap2img``: predict the image: the sentence vector is projected into image-feature space and
  ranked against the batch's images with the max-margin (sum of hinges) loss of
  :class:`vislang.losses.VSELoss` (the Rust negatives kernel on the CPU);
- ``cap2cap``: generate another caption of the same image with a GRU decoder (teacher forcing);
  ``target="self"`` makes it a sequence autoencoder that never sees which captions share an
  image: the text-only control;
- ``cap2both``: both losses, ``loss = cap2img + cap_weight * cap2cap``.

The frozen sentence vectors (:meth:`SentenceEncoder.encode`) then feed the simple classifiers of
:mod:`vislang.eval.transfer`, alone or concatenated with a text-only vector (:class:`GroundSent`
with :class:`MeanWordVectors`: mean GloVe, a vislang skip-gram average, or any callable).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from vislang.exceptions import InvalidInputError
from vislang.losses import VSELoss
from vislang.models._composed import VocabularyConfigModel, strict_config
from vislang.models.base import CaptionPairs, CrossModalModel, _rows
from vislang.models.packed_rnn import run_rnn
from vislang.models.registry import register_model
from vislang.models.text_encoders import pretrained_embeddings
from vislang.models.vocabulary import Vocabulary

__all__ = [
    "OBJECTIVES",
    "GroundSent",
    "GroundedConfig",
    "GroundedSentenceModel",
    "MeanWordVectors",
    "SentenceEncoder",
    "SentenceEncoderConfig",
]

#: The training objectives (each a registered model name).
OBJECTIVES = ("cap2img", "cap2cap", "cap2both")
_EXAMPLE_CAPTIONS = (
    "a red circle",
    "a round red shape",
    "a blue square",
    "a square in blue",
    "two green triangles",
    "green triangles twice",
)


def _check_sentences(sentences: Sequence[str]) -> list[str]:
    if isinstance(sentences, str):
        raise InvalidInputError("sentences must be a list of strings, got one string")
    out = list(sentences)
    if not out:
        raise InvalidInputError("sentences: empty list")
    for i, s in enumerate(out):
        if not isinstance(s, str):
            raise InvalidInputError(f"sentences[{i}] must be a string, got {type(s).__name__}")
    return out


# ---------------------------------------------------------------------- encoder
@dataclass
class SentenceEncoderConfig:
    """Options of :class:`SentenceEncoder` (saved in checkpoints).

    The paper's encoder is a BiLSTM with 1024 units per direction over 300-d GloVe (a
    2048-d sentence vector); ``hidden_dim=128`` with 50-d GloVe 6B trains on a CPU.
    """

    kind: str = "lstm"
    word_dim: int = 300
    hidden_dim: int = 1024
    num_layers: int = 1

    def __post_init__(self) -> None:
        if self.kind not in ("lstm", "gru"):
            raise InvalidInputError(f"encoder: must be 'lstm' or 'gru', got {self.kind!r}")
        for name in ("word_dim", "hidden_dim", "num_layers"):
            if int(getattr(self, name)) < 1:
                raise InvalidInputError(f"{name}: must be >= 1, got {getattr(self, name)}")

    @property
    def output_dim(self) -> int:
        """Size of the sentence vector (both directions)."""
        return 2 * self.hidden_dim


class SentenceEncoder(nn.Module):
    """Bidirectional LSTM/GRU over word embeddings, max-pooled over time.

    ``forward(ids, lengths)`` maps padded word indices (B, T) to sentence vectors
    (B, 2 * hidden_dim); padding never changes a sentence's vector (packed sequences, and the
    max runs over real time steps only). :meth:`encode` takes raw sentences.

    Parameters
    ----------
    vocab : Vocabulary
        Built from the training captions only; unknown words map to ``<unk>``.
    config : SentenceEncoderConfig
    word_vectors : WordVectors, (vectors, words) or path, optional
        Initialises the embeddings (and sets ``word_dim``), e.g.
        :func:`vislang.semantics.load_glove_6b_50d`.

    Examples
    --------
    >>> vocab = Vocabulary.build(["a red circle", "a blue square"])
    >>> enc = SentenceEncoder(vocab, SentenceEncoderConfig(word_dim=4, hidden_dim=3))
    >>> enc.encode(["a red square", "blue"]).shape
    (2, 6)
    """

    def __init__(
        self,
        vocab: Vocabulary,
        config: SentenceEncoderConfig | None = None,
        *,
        word_vectors: Any = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.vocab = vocab
        self.config = config or SentenceEncoderConfig()
        weights = None
        if word_vectors is not None:
            weights, _ = pretrained_embeddings(vocab, word_vectors, seed=seed)
            self.config.word_dim = int(weights.shape[1])
        c = self.config
        self.embed = nn.Embedding(len(vocab), c.word_dim, padding_idx=0)
        if weights is not None:
            with torch.no_grad():
                self.embed.weight.copy_(weights)
        rnn = nn.LSTM if c.kind == "lstm" else nn.GRU
        self.rnn = rnn(
            c.word_dim, c.hidden_dim, num_layers=c.num_layers, batch_first=True, bidirectional=True
        )

    @property
    def output_dim(self) -> int:
        return self.config.output_dim

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        if ids.ndim != 2 or lengths.shape != (ids.shape[0],) or ids.shape[0] == 0:
            raise InvalidInputError(
                f"ids (B, T) and lengths (B,) must match, got {tuple(ids.shape)} and "
                f"{tuple(lengths.shape)}"
            )
        packed = pack_padded_sequence(
            self.embed(ids), lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        out, _ = run_rnn(self.rnn, packed)
        states, _ = pad_packed_sequence(out, batch_first=True, padding_value=-torch.inf)
        return states.amax(dim=1)  # (B, 2H): max over the real time steps

    def token_ids(self, sentences: Sequence[str]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Padded word indices and lengths of ``sentences``.

        Raises
        ------
        InvalidInputError
            A sentence with no word (empty, blank or only punctuation); the message names its
            index. (A sentence of only unknown words is encoded from ``<unk>`` tokens.)
        """
        sentences = _check_sentences(sentences)
        for i, s in enumerate(sentences):
            if not self.vocab.tokenize(s):
                raise InvalidInputError(f"sentences[{i}] has no word: {s!r}")
        return self.vocab.encode(sentences)

    @torch.no_grad()
    def encode(self, sentences: Sequence[str], *, batch_size: int = 256) -> NDArray[np.float32]:
        """Sentence vectors (n, 2 * hidden_dim), float32, in input order (batched)."""
        if batch_size < 1:
            raise InvalidInputError(f"batch_size: must be >= 1, got {batch_size}")
        ids, lengths = self.token_ids(sentences)
        was = self.training
        self.eval()
        dev = self.embed.weight.device
        out = []
        for i in range(0, ids.shape[0], batch_size):
            ln = torch.from_numpy(lengths[i : i + batch_size])
            chunk = torch.from_numpy(ids[i : i + batch_size, : int(ln.max())]).to(dev)
            out.append(self(chunk, ln).float().cpu())
        self.train(was)
        return torch.cat(out).numpy().astype(np.float32, copy=False)


# ---------------------------------------------------------------------- model
@dataclass
class GroundedConfig:
    """Options of :class:`GroundedSentenceModel` (saved in checkpoints).

    ``objective``: ``cap2img``, ``cap2cap`` or ``cap2both``. ``feature_dim``: size of the
    (precomputed) image features; ``margin``: of the ranking loss (``direction`` as
    :class:`~vislang.losses.VSELoss`); ``decoder_dim`` / ``decoder_word_dim``: the caption
    decoder's GRU and word sizes; ``cap_weight``: weight of the caption loss in ``cap2both``;
    ``target``: what ``cap2cap`` generates, ``"other"`` (another caption of the same image, the
    paper) or ``"self"`` (the input caption: a text-only autoencoder, the control).
    """

    objective: str = "cap2img"
    kind: str = "lstm"
    word_dim: int = 300
    hidden_dim: int = 1024
    num_layers: int = 1
    feature_dim: int = 2048
    margin: float = 0.2
    direction: str = "both"
    decoder_dim: int = 512
    decoder_word_dim: int = 128
    cap_weight: float = 1.0
    target: str = "other"

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise InvalidInputError(
                f"objective: must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}"
            )
        if self.direction not in ("both", "i2t", "t2i"):
            raise InvalidInputError(f"direction: must be both, i2t or t2i, got {self.direction!r}")
        if self.target not in ("other", "self"):
            raise InvalidInputError(f"target: must be 'other' or 'self', got {self.target!r}")
        for name in ("feature_dim", "decoder_dim", "decoder_word_dim"):
            if int(getattr(self, name)) < 1:
                raise InvalidInputError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if not (self.margin >= 0 and self.cap_weight >= 0):
            raise InvalidInputError("margin and cap_weight: must be >= 0")
        self.encoder_config()  # validates kind / sizes

    def encoder_config(self) -> SentenceEncoderConfig:
        return SentenceEncoderConfig(self.kind, self.word_dim, self.hidden_dim, self.num_layers)

    @property
    def uses_images(self) -> bool:
        return self.objective in ("cap2img", "cap2both")

    @property
    def uses_captions(self) -> bool:
        return self.objective in ("cap2cap", "cap2both")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, config: Mapping[str, Any]) -> GroundedConfig:
        config_: GroundedConfig = strict_config(cls, config, "grounded model config")
        return config_


class _CaptionDecoder(nn.Module):
    """GRU decoder conditioned on a sentence vector (its initial state), teacher-forced."""

    def __init__(self, n_words: int, sentence_dim: int, word_dim: int, hidden: int) -> None:
        super().__init__()
        self.eos = n_words  # one extra output: end of caption
        self.init = nn.Linear(sentence_dim, hidden)
        self.embed = nn.Embedding(n_words + 1, word_dim, padding_idx=0)  # eos doubles as <bos>
        self.gru = nn.GRU(word_dim, hidden, batch_first=True)
        self.out = nn.Linear(hidden, n_words + 1)

    def loss(self, sentence: Tensor, ids: Tensor, lengths: Tensor) -> Tensor:
        """Mean cross-entropy per target token (words then end of caption)."""
        b, t = ids.shape
        dev = ids.device
        target = torch.cat([ids, torch.zeros(b, 1, dtype=ids.dtype, device=dev)], dim=1)
        target[torch.arange(b, device=dev), lengths.to(dev)] = self.eos  # (B, T+1)
        inputs = torch.cat([torch.full((b, 1), self.eos, dtype=ids.dtype, device=dev), ids], 1)
        h0 = torch.tanh(self.init(sentence))[None]  # (1, B, H)
        packed = pack_padded_sequence(
            self.embed(inputs), (lengths + 1).cpu(), batch_first=True, enforce_sorted=False
        )
        out, _ = run_rnn(self.gru, packed, h0)
        states, _ = pad_packed_sequence(out, batch_first=True, total_length=t + 1)
        logits = self.out(states)  # (B, T+1, V+1)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), target.reshape(-1),
                               ignore_index=0)  # fmt: skip


@register_model(
    "cap2img",
    family="sentence",
    description="Cap2Img (Kiela et al. 2018): BiLSTM-max sentences ranked against image features",
    defaults={"objective": "cap2img"},
    factory="create",
)
@register_model(
    "cap2cap",
    family="sentence",
    description="Cap2Cap (Kiela et al. 2018): BiLSTM-max sentences decode another caption",
    defaults={"objective": "cap2cap"},
    factory="create",
)
@register_model(
    "cap2both",
    family="sentence",
    description="Cap2Both (Kiela et al. 2018): Cap2Img + Cap2Cap losses",
    defaults={"objective": "cap2both"},
    factory="create",
)
class GroundedSentenceModel(VocabularyConfigModel, CrossModalModel):
    """A :class:`SentenceEncoder` with its training heads (image projection, caption decoder).

    Trains on :class:`~vislang.models.CaptionPairs` (precomputed image features; ``cap2cap``
    only needs which captions share an image) with :class:`vislang.models.Trainer`; the
    validation score (``rsum``) is caption paraphrase retrieval R@1+5+10 (captions of the same
    image as matches), plus caption-to-image R@1+5+10 for the image objectives.

    Examples
    --------
    >>> model = GroundedSentenceModel.create(
    ...     captions=["a red circle", "a blue square"], objective="cap2img",
    ...     word_dim=4, hidden_dim=3, feature_dim=5)
    >>> model.encode(["a red square"]).shape
    (1, 6)
    """

    config_class = GroundedConfig

    model_type = "cap2img"

    def __init__(
        self, vocab: Vocabulary, config: GroundedConfig | None = None, *, word_vectors: Any = None
    ) -> None:
        super().__init__()
        self.config = config or GroundedConfig()
        c = self.config
        self.model_type = c.objective
        self.encoder = SentenceEncoder(vocab, c.encoder_config(), word_vectors=word_vectors)
        c.word_dim = self.encoder.config.word_dim
        d = self.encoder.output_dim
        self.to_image: nn.Linear | None = None
        self.decoder: _CaptionDecoder | None = None
        if c.uses_images:
            self.to_image = nn.Linear(d, c.feature_dim)
            self.ranking = VSELoss(
                c.margin,
                False,
                direction=c.direction,  # type: ignore[arg-type]
                reduction="mean",
            )
        if c.uses_captions:
            self.decoder = _CaptionDecoder(len(vocab), d, c.decoder_word_dim, c.decoder_dim)

    @property
    def vocab(self) -> Vocabulary:
        return self.encoder.vocab

    @classmethod
    def create(
        cls,
        vocab: Vocabulary | None = None,
        *,
        captions: Sequence[str] | None = None,
        word_vectors: Any = None,
        **config: Any,
    ) -> GroundedSentenceModel:
        """``create_model("cap2img", captions=train_captions, word_vectors=glove, ...)``."""
        if vocab is None:
            if captions is None:
                raise InvalidInputError("a grounded model needs vocab= or captions=")
            vocab = Vocabulary.build(captions)
        return cls(vocab, GroundedConfig(**config), word_vectors=word_vectors)

    @classmethod
    def example(cls, **overrides: Any) -> GroundedSentenceModel:
        config = {"word_dim": 6, "hidden_dim": 5, "feature_dim": 7, "decoder_dim": 6}
        config["decoder_word_dim"] = 4
        return cls.create(captions=_EXAMPLE_CAPTIONS, **{**config, **overrides})

    @classmethod
    def example_batch(cls, model: GroundedSentenceModel) -> dict[str, Any]:
        rng = np.random.default_rng(0)
        feats = rng.normal(size=(3, model.config.feature_dim)).astype(np.float32)
        pairs = CaptionPairs(feats, list(_EXAMPLE_CAPTIONS), np.array([0, 0, 1, 1, 2, 2]))
        return next(model.batches(pairs, 6, torch.Generator().manual_seed(0)))

    @property
    def embed_dim(self) -> int:
        return self.encoder.output_dim

    # ---------------------------------------------------------------- inference
    def encode(self, sentences: Sequence[str], *, batch_size: int = 256) -> NDArray[np.float32]:
        """The frozen sentence vectors (n, 2 * hidden_dim) of :meth:`SentenceEncoder.encode`."""
        return self.encoder.encode(sentences, batch_size=batch_size)

    @torch.no_grad()
    def embed_texts(self, texts: Sequence[str], *, batch_size: int = 256) -> Tensor:
        """Sentence vectors as a tensor (the :class:`CrossModalModel` API)."""
        return torch.from_numpy(self.encode(texts, batch_size=batch_size))

    @torch.no_grad()
    def predict_image_features(self, sentences: Sequence[str]) -> NDArray[np.float32]:
        """Cap2Img/Cap2Both: the L2-normalised predicted image features (n, feature_dim)."""
        if self.to_image is None:
            raise InvalidInputError(f"a {self.model_type} model does not predict images")
        u = torch.from_numpy(self.encode(sentences)).to(self.device)
        return F.normalize(self.to_image(u), dim=-1).cpu().numpy()

    # ---------------------------------------------------------------- training
    def batches(
        self, data: CaptionPairs, batch_size: int, generator: torch.Generator
    ) -> Iterator[dict[str, Any]]:
        """Shuffled caption batches: the caption, its image (each image once, with the
        positives mask) and the caption to generate (another caption of the same image when it
        has one, or the caption itself with ``target="self"``)."""
        if not isinstance(data, CaptionPairs):
            raise InvalidInputError(f"grounded models train on CaptionPairs, got {type(data)}")
        ids, lengths = self.vocab.encode(data.captions)
        t2i = data.text_to_image
        by_image: dict[int, list[int]] = {}
        for j, i in enumerate(t2i.tolist()):
            by_image.setdefault(i, []).append(j)
        order = torch.randperm(len(t2i), generator=generator).numpy()
        draws = torch.rand(len(t2i), generator=generator).numpy()
        for start in range(0, len(order), batch_size):
            sel = order[start : start + batch_size]
            batch: dict[str, Any] = {
                "ids": torch.from_numpy(ids[sel, : int(lengths[sel].max())]),
                "lengths": torch.from_numpy(lengths[sel]),
            }
            if self.config.uses_images:
                uniq, inverse = np.unique(t2i[sel], return_inverse=True)
                batch["images"] = _rows(data.images, uniq)
                pos = inverse.reshape(-1)[None, :] == np.arange(len(uniq))[:, None]
                batch["positives"] = torch.from_numpy(pos)
            if self.config.uses_captions:
                tgt = np.array(
                    [self._target(int(j), by_image[int(t2i[j])], float(draws[j])) for j in sel]
                )
                batch["target_ids"] = torch.from_numpy(ids[tgt, : int(lengths[tgt].max())])
                batch["target_lengths"] = torch.from_numpy(lengths[tgt])
            yield batch

    def _target(self, j: int, siblings: list[int], u: float) -> int:
        others = [k for k in siblings if k != j]
        if self.config.target == "self" or not others:
            return j
        return others[min(int(u * len(others)), len(others) - 1)]

    def training_loss(self, batch: dict[str, Any], device: torch.device) -> Tensor:
        u = self.encoder(batch["ids"].to(device), batch["lengths"].to(device))  # (B, D)
        loss = u.new_zeros(())
        stats: dict[str, float] = {}
        if self.to_image is not None:
            txt = F.normalize(self.to_image(u), dim=-1).float()
            img = F.normalize(batch["images"].to(device).float(), dim=-1)
            img_loss = self.ranking(img, txt, batch["positives"].to(device))
            loss = loss + img_loss
            stats["img_loss"] = float(img_loss.detach())
        if self.decoder is not None:
            cap = self.decoder.loss(
                u, batch["target_ids"].to(device), batch["target_lengths"].to(device)
            )
            weight = self.config.cap_weight if self.config.objective == "cap2both" else 1.0
            loss = loss + weight * cap
            stats["cap_loss"] = float(cap.detach())
        self.batch_stats = stats
        return loss

    @torch.no_grad()
    def evaluate(
        self, data: CaptionPairs, *, device: torch.device | None = None
    ) -> dict[str, float]:
        """Paraphrase retrieval (``para_r1/5/10``) and, for the image objectives, caption ->
        image retrieval (``t2i_r1/5/10``); ``rsum`` is the sum of all of them."""
        from vislang.eval.transfer import paraphrase_retrieval

        out: dict[str, float] = {}
        para = paraphrase_retrieval(self.encode(data.captions), data.text_to_image)
        out.update({f"para_{k}": v for k, v in para.items()})
        rsum = para["r1"] + para["r5"] + para["r10"]
        if self.to_image is not None:
            from vislang.eval.retrieval import retrieval_metrics

            img = F.normalize(torch.from_numpy(np.asarray(data.images, np.float32)), dim=-1)
            txt = self.predict_image_features(data.captions)
            m = retrieval_metrics(img.numpy(), txt, data.text_to_image)
            for k in ("t2i_r1", "t2i_r5", "t2i_r10"):
                out[k] = float(m[k])
                rsum += float(m[k])
        out["rsum"] = rsum
        return out


# ---------------------------------------------------------------------- text-only + GroundSent
class MeanWordVectors:
    """A text-only sentence vector: the mean of the word vectors of a sentence's known words.

    ``source``: a :class:`~vislang.semantics.WordVectors` (e.g. GloVe 6B 50-d from
    :func:`vislang.semantics.load_glove_6b_50d`), a ``(vectors, words)`` pair, or a fitted
    vislang :class:`~vislang.semantics.SkipGram` (its ``wv``). ``vocab``, optional, restricts
    the words to a vocabulary (the same vocabulary as a grounded encoder, for a fair
    comparison). ``missing``: what a sentence with no known word gets, ``"raise"``
    (:class:`InvalidInputError` naming the sentence) or ``"zero"``.
    """

    def __init__(
        self, source: Any, *, vocab: Vocabulary | None = None, missing: str = "raise"
    ) -> None:
        from vislang.models.text_encoders import _word_vector_source

        if hasattr(source, "wv") and not isinstance(source, tuple):
            source = source.wv
        vectors, words = _word_vector_source(source)
        if missing not in ("raise", "zero"):
            raise InvalidInputError(f"missing: must be 'raise' or 'zero', got {missing!r}")
        keep = [i for i, w in enumerate(words) if vocab is None or w in vocab]
        self.vectors = np.ascontiguousarray(vectors[keep], dtype=np.float32)
        self.index = {words[i]: k for k, i in enumerate(keep)}
        self.missing = missing

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def encode(self, sentences: Sequence[str], *, batch_size: int = 0) -> NDArray[np.float32]:
        """Mean vectors (n, dim), float32 (``batch_size`` is accepted for API symmetry)."""
        from vislang.data.base import simple_tokenize

        sentences = _check_sentences(sentences)
        out = np.zeros((len(sentences), self.dim), dtype=np.float32)
        for i, s in enumerate(sentences):
            tokens = simple_tokenize(s)
            if not tokens:
                raise InvalidInputError(f"sentences[{i}] has no word: {s!r}")
            rows = [self.index[t] for t in tokens if t in self.index]
            if rows:
                out[i] = self.vectors[rows].mean(axis=0)
            elif self.missing == "raise":
                raise InvalidInputError(
                    f"sentences[{i}] has only unknown words: {s!r} (pass missing='zero' to "
                    "give such sentences a zero vector)"
                )
        return out

    __call__ = encode


Encoder = Callable[[list[str]], Any]


class GroundSent:
    """GroundSent (Kiela et al. 2018): a grounded sentence vector concatenated with a text-only
    one.

    ``grounded`` and ``text`` are each an object with ``encode(list[str])`` (a
    :class:`GroundedSentenceModel`, :class:`SentenceEncoder`, :class:`MeanWordVectors`) or a
    callable ``list[str] -> (n, d)`` array (e.g. a sentence-transformers model's ``encode``).
    With ``normalize=True`` (default) each part is L2-normalised first so that neither
    dominates by scale.

    Examples
    --------
    >>> import numpy as np
    >>> gs = GroundSent(lambda s: np.ones((len(s), 2)), lambda s: np.zeros((len(s), 3)))
    >>> gs.encode(["a", "b"]).shape
    (2, 5)
    """

    def __init__(self, grounded: Any, text: Any, *, normalize: bool = True) -> None:
        self.parts = [grounded, text]
        self.normalize = normalize

    @staticmethod
    def _call(part: Any, sentences: list[str]) -> NDArray[np.float32]:
        fn = part.encode if hasattr(part, "encode") else part
        if not callable(fn):
            raise InvalidInputError(f"GroundSent: {type(part).__name__} is not an encoder")
        x = np.asarray(fn(sentences), dtype=np.float32)
        if x.ndim != 2 or x.shape[0] != len(sentences):
            raise InvalidInputError(
                f"GroundSent: an encoder returned shape {x.shape} for {len(sentences)} sentences"
            )
        return x

    def encode(self, sentences: Sequence[str], *, batch_size: int = 256) -> NDArray[np.float32]:
        """The concatenated vectors (n, d_grounded + d_text), float32."""
        sentences = _check_sentences(sentences)
        parts = [self._call(p, sentences) for p in self.parts]
        if self.normalize:
            parts = [p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-12) for p in parts]
        return np.concatenate(parts, axis=1).astype(np.float32, copy=False)

    __call__ = encode
