"""Plain per-triplet Python loops: the oracles of the ranking losses (pytorch-metric-learning
tests do the same). Slow on purpose: one hinge at a time, no vectorisation, float64."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray


def _queries(S: NDArray[Any], P: NDArray[np.bool_], direction: str) -> list[tuple[Any, Any, bool]]:
    """(scores, positives, transposed) with queries along the rows, per direction."""
    sides = []
    if direction in ("both", "i2t"):
        sides.append((S, P, False))
    if direction in ("both", "t2i"):
        sides.append((S.T, P.T, True))
    return sides


def ranking_loop(
    S: NDArray[Any],
    P: NDArray[np.bool_] | None,
    margin: float,
    max_violation: bool,
    direction: str = "both",
) -> tuple[float, NDArray[np.float64]]:
    """VSE (sum over negatives) / VSE++ (hardest negative, lowest index on ties)."""
    S = np.asarray(S, dtype=np.float64)
    if P is None:
        P = np.eye(S.shape[0], dtype=bool)
    loss = 0.0
    grad = np.zeros_like(S)
    for s, p, transposed in _queries(S, P, direction):
        g = grad.T if transposed else grad  # a view: writes land in grad
        for q in range(s.shape[0]):
            negatives = [j for j in range(s.shape[1]) if not p[q, j]]
            if max_violation and negatives:
                best = negatives[0]
                for j in negatives:
                    if s[q, j] > s[q, best]:
                        best = j
                negatives = [best]
            for pos in range(s.shape[1]):
                if not p[q, pos]:
                    continue
                for j in negatives:
                    h = margin - s[q, pos] + s[q, j]
                    if h > 0:
                        loss += h
                        g[q, j] += 1.0
                        g[q, pos] -= 1.0
    return loss, grad


def harmonic(k: int) -> float:
    """L(k) = sum_{j=1..k} 1/j of WARP."""
    return math.fsum(1.0 / j for j in range(1, k + 1))


def info_nce_loop(
    S: NDArray[Any], P: NDArray[np.bool_] | None, temperature: float, direction: str = "both"
) -> float:
    """Mean over positive pairs of -log(e^{s_p/t} / (e^{s_p/t} + sum_neg e^{s_j/t})), averaged
    over directions."""
    S = np.asarray(S, dtype=np.float64)
    if P is None:
        P = np.eye(S.shape[0], dtype=bool)
    parts = []
    for s, p, _ in _queries(S, P, direction):
        terms = []
        for q in range(s.shape[0]):
            for pos in range(s.shape[1]):
                if not p[q, pos]:
                    continue
                denom = math.exp(s[q, pos] / temperature)
                denom += sum(
                    math.exp(s[q, j] / temperature) for j in range(s.shape[1]) if not p[q, j]
                )
                terms.append(-(s[q, pos] / temperature - math.log(denom)))
        parts.append(sum(terms) / len(terms))
    return sum(parts) / len(parts)
