"""Type stubs of the native extension ``vislang._core`` (private: use the public API)."""

from collections.abc import Callable, Sequence
from typing import Any, final

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "CiderScorer",
    "__version__",
    "caption_scores",
    "contrastive_ranking",
    "encode",
    "idf",
    "kmeans_fit",
    "kmeans_plus_plus",
    "minibatch_step",
    "multimodal_step",
    "nearest",
    "ptb_tokenize",
    "skipgram_step",
    "skipgram_tables",
    "skipgram_train",
    "warp",
    "weight_and_normalize",
]

__version__: str

_Floats = NDArray[np.float32] | NDArray[np.float64]

def kmeans_fit(
    x: _Floats,
    n_clusters: int,
    *,
    init: str | _Floats,
    sample_weight: _Floats | None = None,
    max_iter: int = 300,
    tol: float = 0.0,
    n_init: int = 1,
    seed: int = 0,
    algorithm: str = "lloyd",
    n_local_trials: int | None = None,
    n_threads: int | None = None,
    callback: Callable[[int, int, float, float, int], Any] | None = None,
) -> tuple[_Floats, NDArray[np.int64], float, int, float]: ...
def nearest(
    x: _Floats,
    centers: _Floats,
    k: int = 1,
    *,
    precision: str = "auto",
    n_threads: int | None = None,
) -> tuple[NDArray[np.int64], _Floats]: ...
def minibatch_step(
    x: _Floats,
    centers: _Floats,
    counts: NDArray[np.float64],
    *,
    sample_weight: _Floats | None = None,
    n_threads: int | None = None,
) -> tuple[_Floats, NDArray[np.float64], NDArray[np.int64], _Floats, float]: ...
def kmeans_plus_plus(
    x: _Floats,
    n_clusters: int,
    *,
    n_local_trials: int | None = None,
    seed: int = 0,
    n_threads: int | None = None,
) -> NDArray[np.int64]: ...
def contrastive_ranking(
    scores: _Floats,
    positives: NDArray[np.bool_] | None = None,
    *,
    margin: float = 0.2,
    max_violation: bool = False,
    direction: str = "both",
    n_threads: int | None = None,
) -> tuple[float, _Floats]: ...
def warp(
    scores: _Floats,
    positives: NDArray[np.bool_] | None = None,
    *,
    margin: float = 1.0,
    direction: str = "i2t",
    seed: int = 0,
    max_trials: int | None = None,
    n_threads: int | None = None,
) -> tuple[float, _Floats]: ...
def encode(
    x: _Floats,
    offsets: NDArray[np.int64],
    centers: _Floats,
    *,
    encoding: str = "hard",
    k: int = 1,
    sigma: float | None = None,
    pyramid: list[int] = ...,
    keypoints: _Floats | None = None,
    image_sizes: NDArray[np.int64] | None = None,
    idf: NDArray[np.float64] | None = None,
    intra_norm: bool = False,
    norm: str | None = None,
    precision: str = "auto",
    n_threads: int | None = None,
) -> tuple[_Floats, float | None]: ...
def weight_and_normalize(
    x: _Floats,
    *,
    idf: NDArray[np.float64] | None = None,
    norm: str | None = None,
    n_threads: int | None = None,
) -> _Floats: ...
def idf(x: _Floats) -> NDArray[np.float64]: ...
def skipgram_train(
    ids: NDArray[np.uint32],
    offsets: NDArray[np.int64],
    counts: NDArray[np.int64],
    *,
    vector_size: int = 100,
    window: int = 5,
    negative: int = 5,
    sample: float = 1e-3,
    alpha: float = 0.025,
    min_alpha: float = 1e-4,
    epochs: int = 5,
    seed: int = 0,
    ns_exponent: float = 0.75,
    visual: NDArray[np.float32] | None = None,
    visual_of: NDArray[np.int64] | None = None,
    variant: str = "A",
    margin: float = 0.5,
    n_visual_negatives: int = 20,
    visual_weight: float = 1.0,
    n_threads: int | None = None,
    callback: Callable[[int, int], Any] | None = None,
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32] | None, int]: ...
def skipgram_step(
    syn0: NDArray[np.float32],
    syn1neg: NDArray[np.float32],
    center: int,
    context: int,
    negatives: NDArray[np.uint32],
    lr: float,
) -> tuple[NDArray[np.float32], NDArray[np.float32], float]: ...
def multimodal_step(
    syn0: NDArray[np.float32],
    word: int,
    visual: NDArray[np.float32],
    target: int,
    negatives: NDArray[np.uint32],
    lr: float,
    *,
    margin: float = 0.5,
    weight: float = 1.0,
    mapping: NDArray[np.float32] | None = None,
) -> tuple[NDArray[np.float32], NDArray[np.float32] | None, float]: ...
def skipgram_tables(
    counts: NDArray[np.int64], sample: float, ns_exponent: float = 0.75
) -> tuple[NDArray[np.float64], NDArray[np.float64]]: ...
def ptb_tokenize(texts: Sequence[str], *, n_threads: int | None = None) -> list[str]: ...
def caption_scores(
    candidates: Sequence[str],
    references: Sequence[Sequence[str]],
    *,
    tokenize: bool = True,
    n_threads: int | None = None,
) -> dict[str, Any]: ...

@final
class CiderScorer:
    def __new__(
        cls,
        references: Sequence[Sequence[str]],
        *,
        tokenize: bool = True,
        n_threads: int | None = None,
    ) -> CiderScorer: ...
    def __len__(self) -> int: ...
    def score(
        self, candidates: Sequence[str], index: Sequence[int], *, n_threads: int | None = None
    ) -> NDArray[np.float64]: ...
