"""Caption encoders: mean of word embeddings, GRU and LSTM over packed sequences.

Every encoder takes padded indices ``ids`` of shape (B, T) and ``lengths`` of shape (B,) and
returns (B, embed_dim). Padding never changes a caption's encoding (packed sequences).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

from vislang.exceptions import InvalidInputError
from vislang.models.packed_rnn import run_rnn
from vislang.models.vocabulary import Vocabulary

__all__ = [
    "MeanTextEncoder",
    "RNNTextEncoder",
    "TextEncoderConfig",
    "create_text_encoder",
    "pretrained_embeddings",
]

TextEncoderKind = Literal["mean", "gru", "lstm"]


@dataclass
class TextEncoderConfig:
    """Options of a text encoder (saved in checkpoints)."""

    kind: TextEncoderKind = "gru"
    word_dim: int = 300
    embed_dim: int = 1024
    num_layers: int = 1
    bidirectional: bool = False


def _word_vector_source(source: Any) -> tuple[NDArray[np.floating[Any]], list[str]]:
    """(vectors, words) from a WordVectors, a (vectors, words) pair or a vector file path."""
    from vislang.semantics.word_vectors import WordVectors, load_word_vectors

    if isinstance(source, str | os.PathLike):
        source = load_word_vectors(source)
    if isinstance(source, WordVectors):
        return np.asarray(source.vectors), list(source.words)
    if isinstance(source, tuple) and len(source) == 2:
        vectors, words = np.asarray(source[0]), list(source[1])
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise InvalidInputError(
                f"word vectors: need vectors of shape ({len(words)}, dim) for {len(words)} "
                f"words, got {vectors.shape}"
            )
        return vectors, words
    raise InvalidInputError(
        "word vectors: expected a WordVectors, a (vectors, words) pair or a file path, got "
        f"{type(source).__name__}"
    )


def pretrained_embeddings(vocab: Vocabulary, source: Any, *, seed: int = 0) -> tuple[Tensor, int]:
    """An embedding matrix of shape (len(vocab), dim) initialised from word vectors.

    Words missing from ``source`` get small random vectors (seeded); ``<pad>`` is zero.
    Returns the matrix and the number of vocabulary words found in ``source``.
    """
    vectors, words = _word_vector_source(source)
    if not np.isfinite(vectors).all():
        raise InvalidInputError("word vectors contain NaN or inf")
    index = {w: i for i, w in enumerate(words)}
    rng = np.random.default_rng(seed)
    scale = float(vectors.std()) if vectors.size else 0.1
    out = rng.normal(scale=scale, size=(len(vocab), vectors.shape[1])).astype(np.float32)
    out[0] = 0.0
    found = 0
    for i, w in enumerate(vocab.words[2:], start=2):
        j = index.get(w)
        if j is not None:
            out[i] = vectors[j]
            found += 1
    return torch.from_numpy(out), found


def _check_ids(ids: Tensor, lengths: Tensor) -> None:
    if ids.ndim != 2 or lengths.ndim != 1 or ids.shape[0] != lengths.shape[0]:
        raise InvalidInputError(
            f"ids (B, T) and lengths (B,) must match, got {tuple(ids.shape)} and "
            f"{tuple(lengths.shape)}"
        )
    if ids.shape[0] == 0:
        raise InvalidInputError("ids: empty batch")
    if bool((lengths < 1).any()) or bool((lengths > ids.shape[1]).any()):
        raise InvalidInputError(f"lengths must be in [1, {ids.shape[1]}]")


class MeanTextEncoder(nn.Module):
    """Mean of the word embeddings of a caption, then a linear map to ``embed_dim``."""

    def __init__(self, vocab_size: int, cfg: TextEncoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(vocab_size, cfg.word_dim, padding_idx=0)
        self.proj = nn.Linear(cfg.word_dim, cfg.embed_dim)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        _check_ids(ids, lengths)
        mask = (torch.arange(ids.shape[1], device=ids.device)[None, :] < lengths[:, None]).float()
        words = self.embed(ids) * mask[:, :, None]  # (B, T, word_dim)
        mean = words.sum(1) / lengths[:, None].to(words.dtype)  # (B, word_dim)
        return self.proj(mean)  # (B, embed_dim)


class RNNTextEncoder(nn.Module):
    """GRU or LSTM over packed word embeddings; the caption is the last hidden state.

    With ``bidirectional=True`` the last states of both directions are averaged.
    """

    def __init__(self, vocab_size: int, cfg: TextEncoderConfig) -> None:
        super().__init__()
        if cfg.kind not in ("gru", "lstm"):
            raise InvalidInputError(f"kind must be 'gru' or 'lstm', got {cfg.kind!r}")
        self.cfg = cfg
        self.embed = nn.Embedding(vocab_size, cfg.word_dim, padding_idx=0)
        rnn = nn.GRU if cfg.kind == "gru" else nn.LSTM
        self.rnn = rnn(
            cfg.word_dim,
            cfg.embed_dim,
            num_layers=cfg.num_layers,
            batch_first=True,
            bidirectional=cfg.bidirectional,
        )

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        _check_ids(ids, lengths)
        packed = pack_padded_sequence(
            self.embed(ids), lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        _, hidden = run_rnn(self.rnn, packed)  # training on the CPU: packed_rnn
        h = hidden[0] if isinstance(hidden, tuple) else hidden  # (layers*dirs, B, H)
        dirs = 2 if self.cfg.bidirectional else 1
        return h[-dirs:].mean(0)  # (B, embed_dim)


def create_text_encoder(
    vocab: Vocabulary, cfg: TextEncoderConfig, *, word_vectors: Any = None, seed: int = 0
) -> MeanTextEncoder | RNNTextEncoder:
    """A text encoder over ``vocab``; ``word_vectors`` (WordVectors, (vectors, words) pair or
    a GloVe/word2vec file) initialises the embeddings and sets ``word_dim``."""
    if cfg.kind not in ("mean", "gru", "lstm"):
        raise InvalidInputError(f"text_encoder: must be 'mean', 'gru' or 'lstm', got {cfg.kind!r}")
    for name in ("word_dim", "embed_dim", "num_layers"):
        if int(getattr(cfg, name)) < 1:
            raise InvalidInputError(f"{name}: must be >= 1, got {getattr(cfg, name)}")
    weights = None
    if word_vectors is not None:
        weights, _ = pretrained_embeddings(vocab, word_vectors, seed=seed)
        cfg.word_dim = int(weights.shape[1])
    enc: MeanTextEncoder | RNNTextEncoder
    enc = (
        MeanTextEncoder(len(vocab), cfg) if cfg.kind == "mean" else RNNTextEncoder(len(vocab), cfg)
    )
    if weights is not None:
        with torch.no_grad():
            enc.embed.weight.copy_(weights)
    return enc
