"""Distributed k-means: every rank fits on its own shard of the rows."""

from __future__ import annotations

from typing import Any

from vislang.vocab import VisualVocabulary

__all__ = ["kmeans"]


def kmeans(X: Any, n_clusters: int, **kwargs: Any) -> VisualVocabulary:
    """``VisualVocabulary(n_clusters, distributed=True, **kwargs).fit(X)`` on this rank's shard.

    Call it on every rank of a ``torch.distributed`` group (or in one process without a group)
    with the rank's own rows: an array, or a slice of a memory-mapped descriptor file
    (``np.load(path, mmap_mode="r")[start:stop]``), read in chunks of 65,536 rows. Every rank
    returns the same centres; ``labels_`` are this rank's. Default seeding is k-means||
    (``init="k-means||"``); ``sample_weight`` may be passed here too.

    Examples
    --------
    >>> import numpy as np
    >>> from vislang.distributed import kmeans
    >>> X = np.r_[np.zeros((5, 2)), np.ones((5, 2))]
    >>> kmeans(X, 2, random_state=0).inertia_  # no group: one process, the same algorithm
    0.0
    """
    sample_weight = kwargs.pop("sample_weight", None)
    kwargs.setdefault("init", "k-means||")
    vocab = VisualVocabulary(n_clusters, distributed=True, **kwargs)
    return vocab.fit(X, sample_weight=sample_weight)
