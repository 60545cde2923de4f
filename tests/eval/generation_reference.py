"""Reference formulas for the generation metrics (plain NumPy / SciPy)."""

from __future__ import annotations

import numpy as np
from scipy import linalg


def pytorch_fid_frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """pytorch-fid's ``calculate_frechet_distance`` (v0.3.0), restated: scipy ``sqrtm`` of the
    covariance product, an ``eps`` offset when it is singular, the real part."""
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    diff = mu1 - mu2
    covmean = linalg.sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def inception_score_loop(probs: np.ndarray) -> float:
    """exp of the mean over images of sum_y p(y|x) log(p(y|x) / p(y)), one image at a time."""
    py = probs.mean(axis=0)
    kls = []
    for p in probs:
        kls.append(sum(pi * np.log(pi / qi) for pi, qi in zip(p, py, strict=True) if pi > 0))
    return float(np.exp(np.mean(kls)))
