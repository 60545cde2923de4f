"""Visual vocabularies: k-means over local descriptors, backed by the Rust core."""

from vislang.vocab.assignment import assign
from vislang.vocab.kmeans import VisualVocabulary, kmeans, kmeans_plusplus

__all__ = ["VisualVocabulary", "assign", "kmeans", "kmeans_plusplus"]
