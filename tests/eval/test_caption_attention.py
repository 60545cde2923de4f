"""Attention strips and attention correctness on the shapes world."""

from __future__ import annotations

import numpy as np
import pytest

from vislang.data import make_shapes
from vislang.eval import attention_correctness, plot_attention
from vislang.eval.caption_attention import pixel_attention
from vislang.exceptions import InvalidInputError


def _scene_and_caption():  # type: ignore[no-untyped-def]
    ds = make_shapes(1, 0, 0, 0, max_objects=1, seed=3)
    scene = ds.annotations[0]
    o = scene.objects[0]
    return ds.images[0], scene, f"a {o.colour} {o.shape}"


def test_pixel_attention_keeps_mass() -> None:
    a = np.random.default_rng(0).dirichlet(np.ones(16), size=3)
    maps = pixel_attention(a, (64, 64))
    np.testing.assert_allclose(maps.sum(axis=(1, 2)), 1.0)
    with pytest.raises(InvalidInputError, match=r"15 locations is not a square grid"):
        pixel_attention(np.ones((2, 15)) / 15, (8, 8))


def test_uniform_attention_scores_the_area_fraction_and_focused_attention_more() -> None:
    _, scene, cap = _scene_and_caption()
    uniform = np.full((4, 16), 1 / 16)
    res = attention_correctness([cap], [uniform], [scene])
    assert res.n_words == 2  # the colour word and the shape word
    assert res.mass == pytest.approx(res.area, rel=1e-9)
    o = scene.objects[0]
    cell = int(o.y // 16) * 4 + int(o.x // 16)  # the 4x4 cell holding the object's centre
    focused = np.zeros((4, 16))
    focused[:, cell] = 1.0
    res2 = attention_correctness([cap], [focused], [scene])
    assert res2.mass > 2 * res2.area
    assert "looks at" in str(res2)


def test_plot_attention_writes_a_png(tmp_path) -> None:  # type: ignore[no-untyped-def]
    img, _, cap = _scene_and_caption()
    alphas = np.random.default_rng(0).dirichlet(np.ones(16), size=4)
    out = plot_attention(img, cap, alphas, tmp_path / "strip.png")
    assert out.stat().st_size > 1000
    with pytest.raises(InvalidInputError, match=r"one row per word \(3\)"):
        plot_attention(img, cap, alphas[:2])
