"""Evaluation: word similarity (Spearman rho with coverage and a bootstrap interval).

Each metric lives in its own module and is re-exported here explicitly.
"""

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
    "compare_models",
    "load_men",
    "load_simlex999",
    "load_word_pairs",
    "load_wordsim353",
    "spearman",
    "word_similarity",
]
