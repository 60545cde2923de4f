"""Evaluation: word similarity (Spearman rho with coverage and a bootstrap interval),
cross-modal retrieval (recall@K, median and mean rank), caption metrics (BLEU, ROUGE-L, CIDEr-D
as pycocoevalcap computes them, in Rust) and attention, and text-to-image generation (FID, IS,
R-precision, attribute accuracy), and the SentEval transfer protocol for frozen sentence vectors
(:mod:`vislang.eval.transfer`).

Each metric lives in its own module and is re-exported here explicitly.
"""

from vislang.eval.alignment import (
    AlignmentCorrectness,
    alignment_correctness,
    plot_alignment,
    score_retrieval_metrics,
)
from vislang.eval.caption import (
    CiderD,
    caption_metrics,
    format_caption_table,
    meteor_status,
    ptb_tokenize,
)
from vislang.eval.caption_attention import (
    AttentionCorrectness,
    attention_correctness,
    plot_attention,
)
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
from vislang.eval.transfer import (
    cross_validate_classifier,
    evaluate_encoder,
    load_senteval_task,
    paraphrase_retrieval,
)
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
    "AlignmentCorrectness",
    "AttentionCorrectness",
    "CiderD",
    "WordPairs",
    "WordSimilarityResult",
    "alignment_correctness",
    "attention_correctness",
    "attribute_accuracy",
    "caption_metrics",
    "coco_retrieval_metrics",
    "compare_models",
    "cross_validate_classifier",
    "evaluate_encoder",
    "fid_from_features",
    "format_caption_table",
    "frechet_distance",
    "image_to_text_ranks",
    "inception_score",
    "load_men",
    "load_senteval_task",
    "load_simlex999",
    "load_word_pairs",
    "load_wordsim353",
    "meteor_status",
    "paraphrase_retrieval",
    "plot_alignment",
    "plot_attention",
    "plot_retrieval_grid",
    "ptb_tokenize",
    "r_precision",
    "recall_at_k",
    "retrieval_metrics",
    "score_retrieval_metrics",
    "spearman",
    "text_to_image_ranks",
    "topk_search",
    "word_similarity",
]
