"""Evaluation: word similarity (Spearman rho with coverage and a bootstrap interval) and
cross-modal retrieval (recall@K, median and mean rank).

Each metric lives in its own module and is re-exported here explicitly.
"""

from vislang.eval.generation import (
    attribute_accuracy,
    fid_from_features,
    frechet_distance,
    inception_score,
    r_precision,
)
from vislang.eval.retrieval import (
    coco_retrieval_metrics,
    image_to_text_ranks,
    recall_at_k,
    retrieval_metrics,
    text_to_image_ranks,
    topk_search,
)
from vislang.eval.retrieval_plot import plot_retrieval_grid
from vislang.eval.word_similarity import (
    WordPairs,
    WordSimilarityResult,
    compare_models,
    load_men,
    load_simlex999,
    load_word_pairs,
    load_wordsim353,
    spearman,
    word_similarity,
)

__all__ = [
    "WordPairs",
    "WordSimilarityResult",
    "attribute_accuracy",
    "coco_retrieval_metrics",
    "compare_models",
    "fid_from_features",
    "frechet_distance",
    "image_to_text_ranks",
    "inception_score",
    "load_men",
    "load_simlex999",
    "load_word_pairs",
    "load_wordsim353",
    "plot_retrieval_grid",
    "r_precision",
    "recall_at_k",
    "retrieval_metrics",
    "spearman",
    "text_to_image_ranks",
    "topk_search",
    "word_similarity",
]
