"""Plain NumPy oracle of the Rust dense SIFT kernel (``vislang._core.dense_sift``).

Same definition as ``rust/vislang-core/src/dsift.rs``, written the direct way: every descriptor
is an explicit weighted sum over the whole image (no separable trick, no sparse rows), in
float64, with NumPy's ``arctan2`` instead of the kernel's polynomial.

1. grey levels / 255, Gaussian smoothing with sigma ``sqrt(max((s / magnif)^2 - 1/4, 0))``
   (none below 0.01), ``ceil(4 sigma)`` taps each side, normalised, borders replicated;
2. central-difference gradients, one-sided at the borders, zero along an axis of length 1;
3. 8 orientation planes: ``theta = atan2(-gy, gx) mod 2 pi``, ``t = 8 theta / (2 pi)``, plane
   ``o`` gets ``m * max(0, 1 - circular |t - o|)``;
4. bins ``b = 0..3`` centred at ``k + (b - 1.5) s``; a pixel at ``p`` weighs
   ``max(0, 1 - |p - centre| / s) / s`` per axis, times ``exp(-((p - k) / (ws s))^2 / 2)``
   (Gaussian window) or times ``exp(-((b - 1.5) / ws)^2 / 2)`` per bin (flat window);
5. normalise, clamp at 0.2, renormalise; zero if the raw norm is <= the contrast threshold
   or < 1e-6; optionally ``min(255, rint(512 v))``, then optionally RootSIFT.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

MIN_NORM = 1e-6


def grid(n: int, step: int) -> NDArray[np.int64]:
    return np.arange(step // 2, n, step, dtype=np.int64)


def smoothing_sigma(size: float, magnif: float) -> float:
    s = size / magnif
    return math.sqrt(max(s * s - 0.25, 0.0))


def smooth(img: NDArray[np.float64], sigma: float) -> NDArray[np.float64]:
    if sigma < 0.01:
        return img.copy()
    r = math.ceil(4 * sigma)
    k = np.arange(-r, r + 1, dtype=np.float64)
    g = np.exp(-0.5 * (k / sigma) ** 2)
    g /= g.sum()
    h, w = img.shape
    pad = np.pad(img, ((0, 0), (r, r)), mode="edge")
    tmp = sum(g[i] * pad[:, i : i + w] for i in range(2 * r + 1))
    pad = np.pad(tmp, ((r, r), (0, 0)), mode="edge")
    out: NDArray[np.float64] = sum(g[i] * pad[i : i + h, :] for i in range(2 * r + 1))
    return out


def gradient(img: NDArray[np.float64], axis: int) -> NDArray[np.float64]:
    if img.shape[axis] < 2:
        return np.zeros_like(img)
    return np.gradient(img, axis=axis)  # central inside, one-sided at the ends


def orientation_planes(img: NDArray[np.float64]) -> NDArray[np.float64]:
    gx, gy = gradient(img, 1), gradient(img, 0)
    m = np.hypot(gx, gy)
    theta = np.mod(np.arctan2(-gy, gx), 2 * np.pi)
    t = theta * 8 / (2 * np.pi)
    o = np.arange(8, dtype=np.float64)
    d = np.abs(t[..., None] - o)
    d = np.minimum(d, 8 - d)
    planes: NDArray[np.float64] = m[..., None] * np.maximum(0.0, 1.0 - d)  # (H, W, 8)
    return planes


def axis_weights(
    n: int, k: int, size: float, window: str, window_size: float
) -> NDArray[np.float64]:
    """(4, n): the weight of every pixel of an axis of length n in the 4 bins of point k."""
    p = np.arange(n, dtype=np.float64)
    out = np.empty((4, n))
    for b in range(4):
        centre = k + (b - 1.5) * size
        tri = np.maximum(0.0, 1.0 - np.abs(p - centre) / size) / size
        if window == "gaussian":
            tri = tri * np.exp(-0.5 * ((p - k) / (window_size * size)) ** 2)
        else:
            tri = tri * math.exp(-0.5 * ((b - 1.5) / window_size) ** 2)
        out[b] = tri
    return out


def finish(
    raw: NDArray[np.float64], contrast_threshold: float, quantize: bool, root: bool
) -> NDArray[np.float64]:
    norm = float(np.linalg.norm(raw))
    if norm <= contrast_threshold or norm < MIN_NORM:
        return np.zeros_like(raw)
    d = np.minimum(raw / norm, 0.2)
    d = d / max(float(np.linalg.norm(d)), 1.1920929e-07)
    if quantize:
        d = np.minimum(np.rint(512 * d), 255.0)
    if root:
        l1 = d.sum()
        if l1 > 0:
            d = np.sqrt(d / l1)
    return d


def dense_sift(
    image: NDArray[np.uint8],
    *,
    step: int = 8,
    sizes: tuple[float, ...] = (4, 6, 8, 10),
    magnif: float = 6.0,
    window: str = "flat",
    window_size: float = 1.5,
    contrast_threshold: float = 0.005,
    quantize: bool = True,
    root: bool = False,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Descriptors of shape (n, 128 * channels) and raw norms of shape (n, channels)."""
    img = image if image.ndim == 3 else image[:, :, None]
    h, w, c = img.shape
    xs, ys = grid(w, step), grid(h, step)
    n = len(xs) * len(ys) * len(sizes)
    desc = np.zeros((n, 128 * c))
    norms = np.zeros((n, c))
    for ch in range(c):
        gray = img[:, :, ch].astype(np.float64) / 255.0
        row = 0
        for size in sizes:
            planes = orientation_planes(smooth(gray, smoothing_sigma(size, magnif)))
            wxs = {int(k): axis_weights(w, int(k), size, window, window_size) for k in xs}
            for ky in ys:
                wy = axis_weights(h, int(ky), size, window, window_size)
                for kx in xs:
                    raw = np.einsum("iy,jx,yxo->ijo", wy, wxs[int(kx)], planes).ravel()
                    norms[row, ch] = np.linalg.norm(raw)
                    desc[row, ch * 128 : (ch + 1) * 128] = finish(
                        raw, contrast_threshold, quantize, root
                    )
                    row += 1
    return desc, norms
