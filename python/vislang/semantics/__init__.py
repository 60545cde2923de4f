"""Multimodal word meaning: word vectors, visual word vectors and their fusion.

- :class:`WordVectors` and readers/writers for word2vec (text, binary), GloVe and ``.npz``
  (:mod:`vislang.semantics.word_vectors`).
- Visual word vectors aggregated over tagged images, and image dispersion
  (:mod:`vislang.semantics.visual`).
- :class:`SkipGram` (skip-gram with negative sampling) and :class:`MultimodalSkipGram`
  (Lazaridou et al. 2015), trained in native code (:mod:`vislang.semantics.skipgram`), on corpora
  encoded by :func:`encode_corpus`; :func:`run_config` / :func:`config_help` drive them from a
  config (``vislang train``) (:mod:`vislang.semantics.skipgram_config`).
- Feature-level (concatenation, SVD) and scoring-level fusion, dispersion gating, PMI/LMI
  reweighting and development-split tuning (:mod:`vislang.semantics.fusion`).

Evaluate any of them with :func:`vislang.eval.word_similarity`. Only NumPy, SciPy and the
package's own modules are imported.
"""

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
from vislang.semantics.skipgram import MultimodalSkipGram, SkipGram
from vislang.semantics.skipgram_config import config_help, run_config
from vislang.semantics.visual import (
    aggregate_visual_vectors,
    bovw_visual_vectors,
    cnn_visual_vectors,
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
    "ScoreFusion",
    "SimilarityModel",
    "SkipGram",
    "WordVectors",
    "aggregate_visual_vectors",
    "bovw_visual_vectors",
    "cnn_visual_vectors",
    "common_words",
    "concatenate",
    "config_help",
    "encode_corpus",
    "group_images_by_word",
    "image_dispersion",
    "load_glove",
    "load_glove_6b_50d",
    "load_word2vec",
    "load_word_vectors",
    "reweight",
    "run_config",
    "save_word_vectors",
    "sniff_format",
    "svd_fusion",
    "svd_mixing",
    "tags_from_captions",
    "truncated_svd",
    "tune_fusion",
]
