"""Evaluation: cross-modal retrieval metrics (recall@K, median and mean rank). Torch-free."""

from __future__ import annotations

from vislang.eval.retrieval import (
    image_to_text_ranks,
    recall_at_k,
    retrieval_metrics,
    text_to_image_ranks,
)

__all__ = ["image_to_text_ranks", "recall_at_k", "retrieval_metrics", "text_to_image_ranks"]
