"""Dataset-supplied positives: scene truth for the shapes world, identical captions otherwise."""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest

from vislang.data import caption_is_true, make_shapes
from vislang.data.positives import IdenticalCaptions, caption_positives, identical_captions
from vislang.data.shapes import ScenePositives, scene_positives
from vislang.exceptions import InvalidInputError


def test_scene_positives_match_caption_is_true_everywhere() -> None:
    ds = make_shapes(30, 0, 0, 0, captions_per_image=3, seed=1)
    t2i, caps = ds.pairs()
    pos = scene_positives(ds.annotations, caps, t2i)
    rng = np.random.default_rng(0)
    imgs = rng.choice(30, size=12, replace=False)
    cols = rng.choice(len(caps), size=40, replace=False)
    got = pos(imgs, cols)
    want = np.array([[caption_is_true(caps[j], ds.annotations[i]) for j in cols] for i in imgs])
    np.testing.assert_array_equal(got, want)
    # Every caption is true of its own image, and some are true of other images too.
    own = imgs[:, None] == t2i[cols][None, :]
    assert not (own & ~got).any()
    assert (got & ~own).any()


def test_caption_positives_dispatches_on_what_the_dataset_knows() -> None:
    ds = make_shapes(10, 0, 0, 0, captions_per_image=2, seed=0)
    assert isinstance(caption_positives(ds), ScenePositives)
    ds.annotations = None
    assert isinstance(caption_positives(ds), IdenticalCaptions)


def test_identical_captions_mark_both_images() -> None:
    caps = ["A dog runs .", "a cat sits", "a dog runs", "a bird", "a cat  sits"]
    pos = identical_captions(caps, [0, 1, 2, 3, 4])
    got = pos(np.array([4, 0, 2, 3]), np.array([0, 1, 2, 3]))
    want = np.array(
        [[0, 1, 0, 0], [1, 0, 1, 0], [1, 0, 1, 0], [0, 0, 0, 1]],
        dtype=bool,
    )
    np.testing.assert_array_equal(got, want)
    assert pos.n_shared == 4


@pytest.mark.parametrize("bad", [np.array([5]), np.array([-1])])
def test_indices_are_checked(bad: np.ndarray) -> None:
    pos = identical_captions(["a", "b"], [0, 1])
    with pytest.raises(InvalidInputError, match=r"images must be indices in \[0, 2\)"):
        pos(bad, np.array([0]))
    ds = make_shapes(2, 0, 0, 0, captions_per_image=1, seed=0)
    t2i, caps = ds.pairs()
    with pytest.raises(InvalidInputError, match=r"captions must be indices in \[0, 2\)"):
        scene_positives(ds.annotations, caps, t2i)(np.array([0]), bad + 2 * (bad > 0))


@pytest.mark.parametrize("name", ["vislang.data.positives", "vislang.data.shapes"])
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
