"""Multimodal word meaning: word vectors, visual word vectors and their fusion.

- :class:`WordVectors` and readers/writers for word2vec (text, binary), GloVe and ``.npz``
  (:mod:`vislang.semantics.word_vectors`).
- Visual word vectors aggregated over tagged images, and image dispersion
  (:mod:`vislang.semantics.visual`).
- :class:`SkipGram` (skip-gram with negative sampling) and :class:`MultimodalSkipGram`
  (Lazaridou et al. 2015), trained in native code (:mod:`vislang.semantics.skipgram`), on corpora
  encoded by :func:`encode_corpus`; ``vislang train skipgram|mmskipgram`` drives them from a
  config (:mod:`vislang.train.skipgram`).
- :class:`WordPairs` and :func:`spearman` (:mod:`vislang.semantics.pairs`), the data type of the
  word-similarity benchmarks scored by :func:`vislang.eval.word_similarity`.
- Feature-level (concatenation, SVD) and scoring-level fusion, dispersion gating, PMI/LMI
  reweighting and development-split tuning (:mod:`vislang.semantics.fusion`).

Evaluate any of them with :func:`vislang.eval.word_similarity`. Only NumPy, SciPy and the
package's own modules are imported (layer 2: see ARCHITECTURE.md).

Moved names, still reachable here with a :class:`DeprecationWarning`: ``run_config`` /
``config_help`` (now the ``skipgram`` / ``mmskipgram`` runners of :mod:`vislang.train`) and
``cnn_visual_vectors`` (needs PyTorch: :func:`vislang.models.cnn_visual_vectors`).
"""

from __future__ import annotations

import warnings
from typing import Any

from vislang.semantics.corpus import EncodedCorpus, encode_corpus
from vislang.semantics.fusion import (
    DispersionGated,
    FusionTuning,
    ScoreFusion,
    common_words,
    concatenate,
    reweight,
    svd_fusion,
    svd_mixing,
    truncated_svd,
    tune_fusion,
)
from vislang.semantics.pairs import PairsLike, WordPairs, as_word_pairs, spearman
from vislang.semantics.skipgram import MultimodalSkipGram, SkipGram
from vislang.semantics.visual import (
    aggregate_visual_vectors,
    bovw_visual_vectors,
    group_images_by_word,
    image_dispersion,
    tags_from_captions,
)
from vislang.semantics.word_vectors import (
    OutOfVocabularyError,
    SimilarityModel,
    WordVectors,
    load_glove,
    load_glove_6b_50d,
    load_word2vec,
    load_word_vectors,
    save_word_vectors,
    sniff_format,
)

__all__ = [
    "DispersionGated",
    "EncodedCorpus",
    "FusionTuning",
    "MultimodalSkipGram",
    "OutOfVocabularyError",
    "PairsLike",
    "ScoreFusion",
    "SimilarityModel",
    "SkipGram",
    "WordPairs",
    "WordVectors",
    "aggregate_visual_vectors",
    "as_word_pairs",
    "bovw_visual_vectors",
    "common_words",
    "concatenate",
    "encode_corpus",
    "group_images_by_word",
    "image_dispersion",
    "load_glove",
    "load_glove_6b_50d",
    "load_word2vec",
    "load_word_vectors",
    "reweight",
    "save_word_vectors",
    "sniff_format",
    "spearman",
    "svd_fusion",
    "svd_mixing",
    "tags_from_captions",
    "truncated_svd",
    "tune_fusion",
]


def __getattr__(name: str) -> Any:
    # Deprecated aliases of names that moved up a layer (the only imports from here into
    # vislang.models / vislang.train, declared in the import-linter contract).
    if name in ("run_config", "config_help"):
        warnings.warn(
            f"vislang.semantics.{name} is deprecated; use 'vislang train skipgram|mmskipgram' or "
            f"vislang.train.runner(name)",
            DeprecationWarning,
            stacklevel=2,
        )
        from vislang.train import skipgram

        return getattr(skipgram, name)
    if name == "cnn_visual_vectors":
        warnings.warn(
            "vislang.semantics.cnn_visual_vectors is deprecated; use "
            "vislang.models.cnn_visual_vectors",
            DeprecationWarning,
            stacklevel=2,
        )
        from vislang.models.visual_vectors import cnn_visual_vectors

        return cnn_visual_vectors
    raise AttributeError(f"module 'vislang.semantics' has no attribute {name!r}")
