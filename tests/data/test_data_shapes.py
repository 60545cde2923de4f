"""The built-in shapes world: determinism, held-out pairs, and captions true of their images.

The consistency test parses captions with its own small regex parser (independent of
``vislang.data.shapes.parse_caption``) and checks them against the scene and the pixels.
"""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vislang.data import CaptionDataset, make_shapes
from vislang.data.shapes import (
    COLOURS,
    DEFAULT_HELDOUT_PAIRS,
    SHAPES,
    Scene,
    ShapeObject,
    ShapesWorld,
    caption_is_true,
    parse_caption,
    relation_holds,
)
from vislang.exceptions import InvalidInputError


@pytest.fixture(scope="module")
def shapes() -> CaptionDataset:
    return make_shapes(300, 50, 50, 100, seed=7)


# ---------------------------------------------------------------------- an independent parser
_COL = "|".join(COLOURS)
_SHP = "|".join(SHAPES)
_NP = rf"(?:(small|little|large|big) )?({_COL}) ({_SHP})"
_REL = r"(left of|to the left of|right of|to the right of|above|below|under)"
_REGION = (
    r"(in the center|on the left|on the right|at the top|at the bottom"
    r"|in the (?:top|bottom) (?:left|right))"
)
_PREFIX = r"(?:there is |the image shows |a picture of )?"
_CLAUSE_REL = re.compile(rf"^an? {_NP} {_REL} an? {_NP}$")
_CLAUSE_THE = re.compile(rf"^the {_NP} is {_REL} the {_NP}$")
_CLAUSE_ONE = re.compile(rf"^an? {_NP}(?: {_REGION})?$")
_SIZE = {"small": "small", "little": "small", "large": "large", "big": "large"}
_RELNAME = {
    "left of": "left",
    "to the left of": "left",
    "right of": "right",
    "to the right of": "right",
    "above": "above",
    "below": "below",
    "under": "below",
}


def _match(o: ShapeObject, size: str | None, colour: str, shape: str) -> bool:
    return o.colour == colour and o.shape == shape and (size is None or o.size == _SIZE[size])


def _rel(rel: str, a: ShapeObject, b: ShapeObject, s: int) -> bool:
    m = 0.1 * s
    return {
        "left": b.x - a.x >= m,
        "right": a.x - b.x >= m,
        "above": b.y - a.y >= m,
        "below": a.y - b.y >= m,
    }[rel]


def _region_ok(region: str | None, o: ShapeObject, s: int) -> bool:
    if region is None:
        return True
    h = "left" if o.x < s / 3 else ("right" if o.x >= 2 * s / 3 else "center")
    v = "top" if o.y < s / 3 else ("bottom" if o.y >= 2 * s / 3 else "middle")
    want = {
        "in the center": ("middle", "center"),
        "on the left": ("middle", "left"),
        "on the right": ("middle", "right"),
        "at the top": ("top", "center"),
        "at the bottom": ("bottom", "center"),
    }.get(region)
    if want is None:
        _, _, wv, wh = region.split()
        want = (wv, wh)
    return (v, h) == want


def _clause_true(clause: str, scene: Scene) -> bool:
    s, objs = scene.image_size, scene.objects
    m = _CLAUSE_REL.match(clause) or _CLAUSE_THE.match(clause)
    if m:
        sa, ca, ha, rel, sb, cb, hb = m.groups()
        return any(
            _match(a, sa, ca, ha) and _match(b, sb, cb, hb) and _rel(_RELNAME[rel], a, b, s)
            for a in objs
            for b in objs
            if a is not b
        )
    m = _CLAUSE_ONE.match(clause)
    assert m, f"caption clause outside the grammar: {clause!r}"
    sa, ca, ha, region = m.groups()
    return any(_match(a, sa, ca, ha) and _region_ok(region, a, s) for a in objs)


def _independent_check(caption: str, scene: Scene) -> bool:
    body = re.sub(rf"^{_PREFIX}", "", caption)
    return all(_clause_true(c, scene) for c in body.split(" and "))


# ---------------------------------------------------------------------- tests
def test_determinism_and_independent_splits() -> None:
    a = make_shapes(40, 10, 10, 10, seed=3)
    b = make_shapes(40, 10, 10, 10, seed=3)
    assert np.array_equal(a.images, b.images)
    assert a.captions == b.captions and a.ids == b.ids and a.annotations == b.annotations
    c = make_shapes(40, 10, 10, 10, seed=4)
    assert not np.array_equal(a.images, c.images)
    # Each split has its own stream: more training images leave validation unchanged.
    d = make_shapes(80, 10, 10, 10, seed=3)
    assert np.array_equal(a.select("val").images, d.select("val").images)
    assert a.select("val").captions == d.select("val").captions


def test_two_thousand_images_generate() -> None:
    ds = make_shapes(2000, 0, 0, 0, seed=0)
    images = ds.images
    assert isinstance(images, np.ndarray)
    assert images.shape == (2000, 64, 64, 3) and images.dtype == np.uint8
    assert ds.n_captions == 2000 * 5
    assert all(len(set(c)) == 5 for c in ds.captions[:200])
    # every image shows at least one object (some pixel differs from the background)
    assert (images.reshape(2000, -1).std(axis=1) > 0).all()


def test_splits_and_ids(shapes: CaptionDataset) -> None:
    assert shapes.split_counts() == {"train": 300, "val": 50, "test": 50, "heldout": 100}
    assert shapes.ids[0] == "shapes-train-00000"
    assert shapes.select("heldout").ids[0] == "shapes-heldout-00000"
    assert shapes.annotations is not None and len(shapes.annotations) == len(shapes)


def test_every_caption_is_true_of_its_scene(shapes: CaptionDataset) -> None:
    assert shapes.annotations is not None
    for caps, scene in zip(shapes.captions, shapes.annotations, strict=True):
        for cap in caps:
            assert _independent_check(cap, scene), (cap, scene)
            assert caption_is_true(cap, scene), (cap, scene)


def test_scene_matches_pixels(shapes: CaptionDataset) -> None:
    assert shapes.annotations is not None
    for i in range(0, len(shapes), 7):
        img, scene = shapes.load_image(i), shapes.annotations[i]
        assert 1 <= len(scene.objects) <= 3
        for o in scene.objects:
            # the centre pixel of every shape (triangle included) is drawn in its colour
            assert tuple(img[int(o.y), int(o.x)]) == COLOURS[o.colour], (i, o)
            x0, y0, x1, y1 = o.bbox
            assert 0 <= x0 and 0 <= y0 and x1 <= 64 and y1 <= 64
        for a in scene.objects:  # objects do not overlap
            for b in scene.objects:
                if a is not b:
                    assert abs(a.x - b.x) >= a.radius + b.radius or abs(a.y - b.y) >= (
                        a.radius + b.radius
                    )


def test_heldout_pairs_never_in_training(shapes: CaptionDataset) -> None:
    assert shapes.annotations is not None
    held = set(DEFAULT_HELDOUT_PAIRS)
    pattern = re.compile(rf"\b({_COL}) ({_SHP})\b")
    for caps, scene, split in zip(shapes.captions, shapes.annotations, shapes.splits, strict=True):
        pairs = set(scene.pairs())
        mentioned = {m for c in caps for m in pattern.findall(c)}
        if split == "heldout":
            assert pairs & held
        else:
            assert not pairs & held, (split, pairs)
            assert not mentioned & held
    # every seen colour and every shape still occurs in training
    train = set()
    for split, scene in zip(shapes.splits, shapes.annotations, strict=True):
        if split == "train":
            train.update(scene.pairs())
    assert {c for c, _ in train} == set(COLOURS) and {s for _, s in train} == set(SHAPES)


def test_bag_of_words_is_not_enough(shapes: CaptionDataset) -> None:
    """Swapping the colours of a relation caption keeps its words but makes it false."""
    assert shapes.annotations is not None
    swapped_false = 0
    for caps, scene in zip(shapes.captions, shapes.annotations, strict=True):
        for cap in caps:
            clauses = parse_caption(cap)
            if len(clauses) != 1 or clauses[0].relation is None:
                continue
            a, b = clauses[0].subject, clauses[0].object
            assert b is not None
            if a.colour == b.colour:
                continue
            swap = {a.colour: b.colour, b.colour: a.colour}
            foil = " ".join(swap.get(w, w) for w in cap.split())
            assert sorted(foil.split()) == sorted(cap.split())
            if not caption_is_true(foil, scene):
                swapped_false += 1
    assert swapped_false > 200


def test_relation_semantics_and_parser() -> None:
    a = ShapeObject("red", "circle", "small", 10.0, 30.0, 5.0)
    b = ShapeObject("blue", "square", "large", 40.0, 32.0, 10.0)
    scene = Scene((a, b), 64)
    assert relation_holds("left", a, b, 64) and relation_holds("right", b, a, 64)
    assert not relation_holds("above", a, b, 64)  # 2 px is below the 6.4 px margin
    assert caption_is_true("a small red circle left of a blue square", scene)
    assert caption_is_true("there is a big blue square to the right of a red circle", scene)
    assert caption_is_true("the blue square is right of the red circle", scene)
    assert not caption_is_true("a blue circle left of a red square", scene)
    assert not caption_is_true("a large red circle left of a blue square", scene)
    assert caption_is_true("a red circle on the left and a blue square", scene)
    assert not caption_is_true("a red circle in the top left", scene)
    with pytest.raises(InvalidInputError, match="expected a shape"):
        parse_caption("a red dog left of a blue square")
    with pytest.raises(InvalidInputError, match="cannot parse caption"):
        parse_caption("a red circle beside a blue square")


def test_world_options_and_errors() -> None:
    world = ShapesWorld(image_size=32, max_objects=1, heldout_pairs=())
    scenes = world.sample_scenes(20, random.Random(0))
    assert all(len(s.objects) == 1 for s in scenes)
    assert world.render(scenes).shape == (20, 32, 32, 3)
    assert "circle" in world.vocabulary and "left" in world.vocabulary
    with pytest.raises(InvalidInputError, match="heldout pair"):
        ShapesWorld(heldout_pairs=(("pink", "circle"),))
    with pytest.raises(InvalidInputError, match="n_val must be >= 0"):
        make_shapes(10, -1)
    noisy = make_shapes(4, 0, 0, 0, noise=10.0, seed=1)
    clean = make_shapes(4, 0, 0, 0, seed=1)
    assert noisy.captions == clean.captions
    assert not np.array_equal(noisy.images, clean.images)


@given(
    seed=st.integers(0, 2**32),
    image_size=st.sampled_from([16, 32, 48, 64, 96]),
    max_objects=st.integers(1, 3),
)
@settings(deadline=None)
def test_captions_true_for_any_world(seed: int, image_size: int, max_objects: int) -> None:
    ds = make_shapes(12, 0, 0, 6, image_size=image_size, max_objects=max_objects, seed=seed)
    assert ds.annotations is not None
    for caps, scene in zip(ds.captions, ds.annotations, strict=True):
        assert 1 <= len(scene.objects) <= max_objects
        for cap in caps:
            assert _independent_check(cap, scene), (cap, scene)
            assert caption_is_true(cap, scene), (cap, scene)
