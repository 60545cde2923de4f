"""Cross-modal retrieval metrics with several captions per image (Flickr8k/30k, COCO).

Image -> text: an image's rank is the rank of its best-ranked caption among all texts (Karpathy
& Fei-Fei 2015; Faghri et al. 2018). Text -> image: a caption's rank is the rank of its image
among all images. Ranks start at 1 and are pessimistic on ties: every other candidate scoring
*at least* as high as the positive ranks above it, so collapsed embeddings (all scores equal)
score worst, not best. Scores are dot products (cosine similarity for normalised embeddings),
computed in row chunks so that no ``n_images x n_texts`` matrix is held in memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from vislang.exceptions import InvalidInputError

__all__ = [
    "coco_retrieval_metrics",
    "image_to_text_ranks",
    "recall_at_k",
    "retrieval_metrics",
    "text_to_image_ranks",
    "topk_search",
]

FloatArray = NDArray[np.floating[Any]]


def _as_matrix(a: Any, name: str) -> FloatArray:
    if hasattr(a, "detach"):  # a torch tensor, on any device
        a = a.detach().cpu().numpy()
    arr = np.asarray(a)
    if arr.ndim != 2:
        raise InvalidInputError(f"{name} must be 2-D (n, dim), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidInputError(f"{name} must be non-empty, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number):
        raise InvalidInputError(f"{name} must hold numbers, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=arr.dtype if arr.dtype == np.float32 else np.float64)
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        raise InvalidInputError(f"{name} contains NaN or inf at row {int(np.argmax(bad))}")
    return arr


def _check(
    image_emb: Any, text_emb: Any, text_to_image: Any
) -> tuple[FloatArray, FloatArray, NDArray[np.int64]]:
    img = _as_matrix(image_emb, "image_emb")
    txt = _as_matrix(text_emb, "text_emb")
    if img.shape[1] != txt.shape[1]:
        raise InvalidInputError(
            "image_emb and text_emb must have the same dimension, got "
            f"{img.shape[1]} and {txt.shape[1]}"
        )
    if img.dtype != txt.dtype:
        txt = txt.astype(np.float64)
        img = img.astype(np.float64)
    if hasattr(text_to_image, "detach"):
        text_to_image = text_to_image.detach().cpu().numpy()
    t2i = np.asarray(text_to_image)
    if t2i.shape != (txt.shape[0],) or not np.issubdtype(t2i.dtype, np.integer):
        raise InvalidInputError(
            f"text_to_image must be an integer array of shape ({txt.shape[0]},), got "
            f"shape {t2i.shape} and dtype {t2i.dtype}"
        )
    t2i = t2i.astype(np.int64)
    bad = (t2i < 0) | (t2i >= img.shape[0])
    if bad.any():
        i = int(np.argmax(bad))
        raise InvalidInputError(
            f"text_to_image[{i}]={int(t2i[i])} is not an image index in [0, {img.shape[0]})"
        )
    return img, txt, t2i


def _chunk_rows(n: int, chunk_size: int) -> range:
    if chunk_size < 1:
        raise InvalidInputError(f"chunk_size: must be >= 1, got {chunk_size}")
    return range(0, n, chunk_size)


def image_to_text_ranks(
    image_emb: Any, text_emb: Any, text_to_image: Any, *, chunk_size: int = 256
) -> NDArray[np.int64]:
    """1-based rank of each image's best-ranked caption among all texts.

    Parameters
    ----------
    image_emb : array of shape (n_images, dim)
    text_emb : array of shape (n_texts, dim)
    text_to_image : int array of shape (n_texts,)
        The image each text describes.
    chunk_size : int
        Images scored at once (memory: ``chunk_size x n_texts`` scores).

    Returns
    -------
    ndarray of shape (n_images,), int64

    Raises
    ------
    InvalidInputError
        Bad shapes, NaN/inf, an index out of range, or an image without captions.
    """
    img, txt, t2i = _check(image_emb, text_emb, text_to_image)
    counts = np.bincount(t2i, minlength=img.shape[0])
    if (counts == 0).any():
        i = int(np.argmin(counts))
        raise InvalidInputError(f"text_to_image: image {i} has no caption")
    ranks = np.empty(img.shape[0], dtype=np.int64)
    for start in _chunk_rows(img.shape[0], chunk_size):
        stop = min(start + chunk_size, img.shape[0])
        scores = img[start:stop] @ txt.T  # (chunk, n_texts)
        positive = t2i[None, :] == np.arange(start, stop)[:, None]
        best = np.where(positive, scores, -np.inf).max(axis=1, keepdims=True)  # (chunk, 1)
        ranks[start:stop] = 1 + ((scores >= best) & ~positive).sum(axis=1)
    return ranks


def text_to_image_ranks(
    image_emb: Any, text_emb: Any, text_to_image: Any, *, chunk_size: int = 256
) -> NDArray[np.int64]:
    """1-based rank of each text's image among all images (parameters as
    :func:`image_to_text_ranks`; returns shape (n_texts,))."""
    img, txt, t2i = _check(image_emb, text_emb, text_to_image)
    ranks = np.empty(txt.shape[0], dtype=np.int64)
    for start in _chunk_rows(txt.shape[0], chunk_size):
        stop = min(start + chunk_size, txt.shape[0])
        scores = txt[start:stop] @ img.T  # (chunk, n_images)
        rows = np.arange(stop - start)
        true = scores[rows, t2i[start:stop]][:, None]
        ranks[start:stop] = (scores >= true).sum(axis=1)  # the image itself counts as 1
    return ranks


def recall_at_k(ranks: Any, k: int) -> float:
    """Percentage of queries whose rank is <= k."""
    r = np.asarray(ranks)
    if r.size == 0:
        raise InvalidInputError("ranks must be non-empty")
    return float(100.0 * np.mean(r <= k))


def _summary(ranks: NDArray[np.int64], prefix: str, ks: tuple[int, ...]) -> dict[str, float]:
    out = {f"{prefix}_r{k}": recall_at_k(ranks, k) for k in ks}
    out[f"{prefix}_medr"] = float(np.floor(np.median(ranks)))
    out[f"{prefix}_meanr"] = float(np.mean(ranks))
    return out


def retrieval_metrics(
    image_emb: Any,
    text_emb: Any,
    text_to_image: Any,
    *,
    ks: tuple[int, ...] = (1, 5, 10),
    n_folds: int = 1,
    chunk_size: int = 256,
) -> dict[str, float]:
    """R@K, median and mean rank in both directions, and rsum (the sum of all R@K).

    Parameters
    ----------
    image_emb : array of shape (n_images, dim)
    text_emb : array of shape (n_texts, dim)
    text_to_image : int array of shape (n_texts,)
    ks : tuple of int
        Cut-offs of recall@K.
    n_folds : int
        Split the images into ``n_folds`` contiguous equal folds (with their captions),
        evaluate each on its own and average: COCO "1K" is ``n_folds=5`` on the 5K test set.
    chunk_size : int
        Queries scored at once.

    Returns
    -------
    dict
        ``i2t_r1``, ``i2t_r5``, ``i2t_r10``, ``i2t_medr``, ``i2t_meanr``, the same with
        ``t2i_``, and ``rsum``. Recalls are percentages.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.eye(3)
    >>> txt = np.repeat(np.eye(3), 2, axis=0)  # two exact captions per image
    >>> m = retrieval_metrics(img, txt, np.repeat(np.arange(3), 2))
    >>> m["i2t_r1"], m["t2i_r1"], m["rsum"]
    (100.0, 100.0, 600.0)
    """
    img, txt, t2i = _check(image_emb, text_emb, text_to_image)
    if n_folds < 1 or img.shape[0] % n_folds:
        raise InvalidInputError(
            f"n_folds={n_folds} must be >= 1 and divide n_images={img.shape[0]}"
        )
    size = img.shape[0] // n_folds
    folds = []
    for f in range(n_folds):
        lo, hi = f * size, (f + 1) * size
        sel = (t2i >= lo) & (t2i < hi)
        i2t = image_to_text_ranks(img[lo:hi], txt[sel], t2i[sel] - lo, chunk_size=chunk_size)
        t2i_r = text_to_image_ranks(img[lo:hi], txt[sel], t2i[sel] - lo, chunk_size=chunk_size)
        m = {**_summary(i2t, "i2t", ks), **_summary(t2i_r, "t2i", ks)}
        m["rsum"] = sum(m[f"{d}_r{k}"] for d in ("i2t", "t2i") for k in ks)
        folds.append(m)
    return {key: float(np.mean([m[key] for m in folds])) for key in folds[0]}


def topk_search(
    queries: Any,
    gallery: Any,
    k: int,
    *,
    query_chunk: int = 1024,
    gallery_chunk: int = 65536,
    device: str = "cpu",
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Exact top-``k`` gallery items by dot product for each query, without an n x n matrix.

    Queries are scored ``query_chunk`` at a time against ``gallery_chunk`` gallery rows; a
    running top-k is merged across gallery chunks, so memory is
    ``query_chunk x (gallery_chunk + k)`` scores whatever the gallery size (100k items and
    more). Scores are exact; the order among exactly tied scores is unspecified.

    Parameters
    ----------
    queries : array or tensor of shape (n_queries, dim)
    gallery : array or tensor of shape (n_gallery, dim)
    k : int
        1 <= k <= n_gallery.
    query_chunk, gallery_chunk : int
    device : str
        Torch device of the computation ("cpu", "cuda").

    Returns
    -------
    scores : ndarray of shape (n_queries, k), float32, best first
    indices : ndarray of shape (n_queries, k), int64

    Examples
    --------
    >>> import numpy as np
    >>> s, i = topk_search(np.eye(3), np.eye(3)[::-1], 1)
    >>> i.ravel().tolist()
    [2, 1, 0]
    """
    import torch

    q = torch.from_numpy(np.asarray(_as_matrix(queries, "queries"), dtype=np.float32))
    g = torch.from_numpy(np.asarray(_as_matrix(gallery, "gallery"), dtype=np.float32))
    if q.shape[1] != g.shape[1]:
        raise InvalidInputError(
            f"queries and gallery must have the same dimension, got {q.shape[1]} and {g.shape[1]}"
        )
    if not 1 <= k <= g.shape[0]:
        raise InvalidInputError(f"k={k} must be in [1, n_gallery={g.shape[0]}]")
    _chunk_rows(1, query_chunk)
    _chunk_rows(1, gallery_chunk)
    dev = torch.device(device)
    g = g.to(dev)
    out_s = np.empty((q.shape[0], k), dtype=np.float32)
    out_i = np.empty((q.shape[0], k), dtype=np.int64)
    with torch.no_grad():
        for qs in range(0, q.shape[0], query_chunk):
            qc = q[qs : qs + query_chunk].to(dev)
            best_s = torch.full((qc.shape[0], 0), -torch.inf, device=dev)
            best_i = torch.zeros((qc.shape[0], 0), dtype=torch.long, device=dev)
            for gs in range(0, g.shape[0], gallery_chunk):
                scores = qc @ g[gs : gs + gallery_chunk].T  # (q_chunk, g_chunk)
                kk = min(k, scores.shape[1])
                s, i = scores.topk(kk, dim=1)
                cand_s = torch.cat([best_s, s], dim=1)
                cand_i = torch.cat([best_i, i + gs], dim=1)
                top = min(k, cand_s.shape[1])
                best_s, pos = cand_s.topk(top, dim=1)
                best_i = cand_i.gather(1, pos)
            out_s[qs : qs + qc.shape[0]] = best_s.cpu().numpy()
            out_i[qs : qs + qc.shape[0]] = best_i.cpu().numpy()
    return out_s, out_i


def coco_retrieval_metrics(
    image_emb: Any, text_emb: Any, text_to_image: Any, *, ks: tuple[int, ...] = (1, 5, 10)
) -> dict[str, dict[str, float]]:
    """The two COCO protocols on the 5,000-image test split (Karpathy): ``"1k"`` (mean over
    five folds of 1,000 images) and ``"5k"`` (all images at once).

    Any number of images divisible by 5 works (each fold is a fifth of the images).
    """
    return {
        "1k": retrieval_metrics(image_emb, text_emb, text_to_image, ks=ks, n_folds=5),
        "5k": retrieval_metrics(image_emb, text_emb, text_to_image, ks=ks, n_folds=1),
    }
