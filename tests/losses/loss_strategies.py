"""Hypothesis strategies for the ranking losses.

Scores are small integers and margins multiples of 1/2, so every hinge is exact in float32 and
float64: ties (equal negatives, hinges exactly at zero) are real ties and losses and gradients
can be compared exactly with the float64 loop oracle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import hypothesis.strategies as st
import numpy as np
from hypothesis.extra import numpy as hnp
from numpy.typing import NDArray


@dataclass
class RankingCase:
    scores: NDArray[Any]
    positives: NDArray[np.bool_] | None
    margin: float
    max_violation: bool
    direction: str


@st.composite
def positives_masks(
    draw: st.DrawFn, rows: int, cols: int, direction: str
) -> NDArray[np.bool_] | None:
    """None (diagonal, square only) or a random mask where every query has a positive."""
    if rows == cols and draw(st.booleans()):
        return None
    mask = draw(hnp.arrays(np.bool_, (rows, cols), elements=st.booleans() | st.just(False)))
    if direction in ("both", "i2t"):
        for i in range(rows):
            if not mask[i].any():
                mask[i, draw(st.integers(0, cols - 1))] = True
    if direction in ("both", "t2i"):
        for j in range(cols):
            if not mask[:, j].any():
                mask[draw(st.integers(0, rows - 1)), j] = True
    return mask


@st.composite
def ranking_cases(draw: st.DrawFn, max_size: int = 7, dtype: Any = None) -> RankingCase:
    rows = draw(st.integers(1, max_size))
    cols = draw(st.one_of(st.just(rows), st.integers(1, max_size)))
    direction = draw(st.sampled_from(["both", "i2t", "t2i"]))
    dtype = dtype or draw(st.sampled_from([np.float32, np.float64]))
    values = draw(st.integers(1, 4))  # few distinct values: many ties
    scores = draw(hnp.arrays(np.int8, (rows, cols), elements=st.integers(-values, values))).astype(
        dtype
    )
    return RankingCase(
        scores=scores,
        positives=draw(positives_masks(rows, cols, direction)),
        margin=draw(st.sampled_from([0.0, 0.5, 1.0, 2.0, -0.5])),
        max_violation=draw(st.booleans()),
        direction=direction,
    )
