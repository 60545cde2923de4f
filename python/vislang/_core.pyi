"""Type stubs of the native extension ``vislang._core`` (private: use the public API)."""

from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any, final

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "CiderScorer",
    "__version__",
    "_testing",
    "caption_scores",
    "contrastive_ranking",
    "cpu_features",
    "dense_sift",
    "encode",
    "idf",
    "kmeans_fit",
    "kmeans_plus_plus",
    "minibatch_step",
    "nearest",
    "ptb_tokenize",
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
    sample_weight: _Floats | None = None,
    n_local_trials: int | None = None,
    seed: int = 0,
    n_threads: int | None = None,
    callback: Callable[[int], object] | None = None,
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
def dense_sift(
    images: list[NDArray[np.uint8]],
    *,
    step: int = 8,
    sizes: list[float] = ...,
    magnif: float = 6.0,
    window: str = "flat",
    window_size: float = 1.5,
    contrast_threshold: float = 0.005,
    quantize: bool = True,
    root: bool = False,
    n_threads: int | None = None,
) -> tuple[NDArray[np.float32], NDArray[np.int64]]: ...
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
def cpu_features() -> dict[str, Any]: ...

# Single-step kernels that only tests call, in the submodule ``vislang._core._testing``:
#   skipgram_step(syn0, syn1neg, center, context, negatives, lr)
#       -> (syn0, syn1neg, loss before the step)
#   multimodal_step(syn0, word, visual, target, negatives, lr, *, margin=0.5, weight=1.0,
#       mapping=None) -> (syn0, mapping or None, loss before the step)
#   skipgram_tables(counts, sample, ns_exponent=0.75) -> (keep probabilities, noise probabilities)
_testing: ModuleType

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
