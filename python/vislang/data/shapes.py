"""A built-in image–caption world: coloured shapes on a dark background, with paraphrased captions.

Each scene holds 1–3 non-overlapping objects; each object has a colour, a shape, a size and a
position. Captions come from a small grammar and talk about attributes, spatial relations and
image regions::

    a small red circle left of a blue square
    there is a blue square to the right of a red circle
    the large green triangle is above the purple diamond
    an orange circle in the top left

Captions are *true of their image* under the semantics below (:func:`caption_is_true`), and
relations plus attribute binding matter: "a red circle left of a blue square" and "a blue circle
left of a red square" have the same bag of words. Some colour+shape pairs are held out of the
training split to test compositional generalisation.

Semantics (``S`` the image size; objects are described by their centre ``(x, y)``, y downwards):

- ``A left of B`` iff ``B.x - A.x >= 0.1 S`` (right of, above, below alike).
- A region ("in the top left", "on the right", "at the bottom", "in the center") names the thirds
  of the image the centre falls in.
- ``small`` / ``large`` (``little`` / ``big``) are two disjoint radius ranges.

Everything is drawn with vectorised NumPy on small patches, so thousands of images take well
under a second.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

import numpy as np
from numpy.typing import NDArray

from vislang.data.base import CaptionDataset
from vislang.exceptions import InvalidInputError

__all__ = [
    "COLOURS",
    "DEFAULT_HELDOUT_PAIRS",
    "SHAPES",
    "SIZES",
    "Clause",
    "ObjectQuery",
    "Scene",
    "ShapeObject",
    "ShapesWorld",
    "caption_is_true",
    "make_shapes",
    "parse_caption",
    "region_of",
    "relation_holds",
]

#: Colour names and their RGB values.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (225, 35, 35),
    "green": (40, 175, 60),
    "blue": (45, 95, 235),
    "yellow": (240, 215, 40),
    "purple": (150, 60, 205),
    "orange": (250, 140, 20),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond")
SIZES: tuple[str, ...] = ("small", "large")
#: Radius range of each size, as a fraction of the image size (disjoint, so size words are exact).
SIZE_RANGES: dict[str, tuple[float, float]] = {"small": (0.075, 0.10), "large": (0.14, 0.18)}
#: Colour+shape pairs never drawn in the train/val/test splits, only in the ``"heldout"`` split.
DEFAULT_HELDOUT_PAIRS: tuple[tuple[str, str], ...] = (
    ("red", "triangle"),
    ("green", "square"),
    ("blue", "diamond"),
    ("yellow", "circle"),
)
RELATIONS: tuple[str, ...] = ("left", "right", "above", "below")
BACKGROUND = (28, 28, 32)
RELATION_MARGIN = 0.1
SPLITS: tuple[str, ...] = ("train", "val", "test", "heldout")

_SIZE_WORDS = {"small": ("small", "little"), "large": ("large", "big")}
_SIZE_OF_WORD = {w: s for s, ws in _SIZE_WORDS.items() for w in ws}
_REL_PHRASES = {
    "left": ("left of", "to the left of"),
    "right": ("right of", "to the right of"),
    "above": ("above",),
    "below": ("below", "under"),
}
_PREFIXES = ("", "", "there is ", "the image shows ", "a picture of ")
_GAP = 2.0  # pixels kept free between object boxes
_T = TypeVar("_T")


@dataclass(frozen=True)
class ShapeObject:
    """One object of a scene: attributes and geometry in pixels (y grows downwards)."""

    colour: str
    shape: str
    size: str
    x: float
    y: float
    radius: float

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """``(x0, y0, x1, y1)`` of the square the shape is drawn in."""
        r = self.radius
        return (self.x - r, self.y - r, self.x + r, self.y + r)

    def matches(self, query: ObjectQuery) -> bool:
        """True when colour, shape and (if given) size agree with ``query``."""
        return (
            self.colour == query.colour
            and self.shape == query.shape
            and (query.size is None or self.size == query.size)
        )


@dataclass(frozen=True)
class Scene:
    """The structured content of one image: its objects and the image size."""

    objects: tuple[ShapeObject, ...]
    image_size: int

    def pairs(self) -> list[tuple[str, str]]:
        """The (colour, shape) pair of each object."""
        return [(o.colour, o.shape) for o in self.objects]


class ObjectQuery(NamedTuple):
    """A noun phrase of a caption: colour, shape and optional size."""

    colour: str
    shape: str
    size: str | None


class Clause(NamedTuple):
    """``subject [relation object]`` or ``subject region``; a caption is a conjunction of these."""

    subject: ObjectQuery
    relation: str | None = None
    object: ObjectQuery | None = None
    region: tuple[str | None, str | None] | None = None


# ---------------------------------------------------------------------- semantics
def relation_holds(relation: str, a: ShapeObject, b: ShapeObject, image_size: int) -> bool:
    """Whether ``a <relation> b`` (``"left"``, ``"right"``, ``"above"``, ``"below"``) is true."""
    m = RELATION_MARGIN * image_size
    if relation == "left":
        return b.x - a.x >= m
    if relation == "right":
        return a.x - b.x >= m
    if relation == "above":
        return b.y - a.y >= m
    if relation == "below":
        return a.y - b.y >= m
    raise InvalidInputError(f"unknown relation {relation!r}; expected one of {RELATIONS}")


def region_of(obj: ShapeObject, image_size: int) -> tuple[str, str]:
    """``(vertical, horizontal)`` third of the image holding the object's centre.

    vertical is ``"top"``, ``"middle"`` or ``"bottom"``; horizontal ``"left"``, ``"center"`` or
    ``"right"``.
    """
    third = image_size / 3.0
    v = "top" if obj.y < third else ("bottom" if obj.y >= 2 * third else "middle")
    h = "left" if obj.x < third else ("right" if obj.x >= 2 * third else "center")
    return v, h


def _region_phrase(v: str, h: str) -> str:
    if v == "middle" and h == "center":
        return "in the center"
    if v == "middle":
        return f"on the {h}"
    if h == "center":
        return f"at the {v}"
    return f"in the {v} {h}"


# ---------------------------------------------------------------------- parsing
class _Tokens:
    def __init__(self, caption: str) -> None:
        self.caption = caption
        self.words = caption.lower().replace(",", " ").split()
        self.pos = 0

    def peek(self, *seq: str) -> bool:
        return tuple(self.words[self.pos : self.pos + len(seq)]) == seq

    def take(self, *seq: str) -> bool:
        if self.peek(*seq):
            self.pos += len(seq)
            return True
        return False

    def next(self, what: str) -> str:
        if self.pos >= len(self.words):
            self.fail(f"expected {what} at the end")
        word = self.words[self.pos]
        self.pos += 1
        return word

    def fail(self, why: str) -> None:
        raise InvalidInputError(f"cannot parse caption {self.caption!r}: {why} (word {self.pos})")


def _parse_np(t: _Tokens, determiner: bool) -> ObjectQuery:
    if determiner and not (t.take("a") or t.take("an")):
        t.fail("expected 'a' or 'an'")
    word = t.next("a size, colour or shape")
    size = _SIZE_OF_WORD.get(word)
    if size is not None:
        word = t.next("a colour")
    if word not in COLOURS:
        t.fail(f"expected a colour, got {word!r}")
    shape = t.next("a shape")
    if shape not in SHAPES:
        t.fail(f"expected a shape, got {shape!r}")
    return ObjectQuery(word, shape, size)


def _parse_relation(t: _Tokens) -> str | None:
    for rel, phrases in _REL_PHRASES.items():
        for phrase in sorted(phrases, key=len, reverse=True):
            if t.take(*phrase.split()):
                return rel
    return None


def _parse_region(t: _Tokens) -> tuple[str | None, str | None] | None:
    if t.take("in", "the", "center") or t.take("in", "the", "middle"):
        return ("middle", "center")
    for side in ("left", "right"):
        if t.take("on", "the", side):
            return ("middle", side)
    for v in ("top", "bottom"):
        for h in ("left", "right"):
            if t.take("in", "the", v, h):
                return (v, h)
        if t.take("at", "the", v):
            return (v, "center")
    return None


def parse_caption(caption: str) -> list[Clause]:
    """Parse a caption of the shapes grammar into clauses (a conjunction).

    Raises
    ------
    InvalidInputError
        The caption is not in the grammar (the message says where).

    Examples
    --------
    >>> parse_caption("there is a small red circle left of a blue square")
    [Clause(subject=ObjectQuery(colour='red', shape='circle', size='small'), relation='left', \
object=ObjectQuery(colour='blue', shape='square', size=None), region=None)]
    """
    t = _Tokens(caption)
    for prefix in ("there is", "the image shows", "a picture of"):
        if t.take(*prefix.split()):
            break
    clauses: list[Clause] = []
    while True:
        if t.take("the"):
            subject = _parse_np(t, determiner=False)
            if not t.take("is"):
                t.fail("expected 'is'")
            rel = _parse_relation(t)
            if rel is None or not t.take("the"):
                t.fail("expected a relation and 'the'")
            assert rel is not None
            clauses.append(Clause(subject, rel, _parse_np(t, determiner=False)))
        else:
            subject = _parse_np(t, determiner=True)
            rel = _parse_relation(t)
            if rel is not None:
                clauses.append(Clause(subject, rel, _parse_np(t, determiner=True)))
            else:
                clauses.append(Clause(subject, region=_parse_region(t)))
        if t.pos == len(t.words):
            return clauses
        if not t.take("and"):
            t.fail("expected 'and' or the end")


def caption_is_true(caption: str | Sequence[Clause], scene: Scene) -> bool:
    """Whether every clause of ``caption`` holds in ``scene`` (existential reading).

    ``"a red circle left of a blue square"`` is true when some red circle is left of some
    (other) blue square; sizes and regions, when mentioned, must match too. Use it to score
    generated captions against the scene.
    """
    clauses = parse_caption(caption) if isinstance(caption, str) else list(caption)
    s = scene.image_size
    for cl in clauses:
        ok = False
        for a in scene.objects:
            if not a.matches(cl.subject):
                continue
            if cl.region is not None:
                v, h = region_of(a, s)
                if (cl.region[0] not in (None, v)) or (cl.region[1] not in (None, h)):
                    continue
            if cl.relation is None or cl.object is None:
                ok = True
            else:
                ok = any(
                    b is not a and b.matches(cl.object) and relation_holds(cl.relation, a, b, s)
                    for b in scene.objects
                )
            if ok:
                break
        if not ok:
            return False
    return True


class ScenePositives:
    """Caption ``j`` is true of image ``i`` when :func:`caption_is_true` says so for scene ``i``.

    Captions are parsed once, on first use; identical captions share a parse. The callable
    follows :class:`vislang.data.positives.CaptionPositives`. See :func:`scene_positives`.
    """

    def __init__(self, scenes: Sequence[Scene], captions: Sequence[str], text_to_image: Any):
        t2i = np.asarray(text_to_image, dtype=np.int64)
        if t2i.shape != (len(captions),):
            raise InvalidInputError(
                f"text_to_image must have shape ({len(captions)},), got {t2i.shape}"
            )
        if t2i.size and (t2i.min() < 0 or t2i.max() >= len(scenes)):
            raise InvalidInputError(f"text_to_image must index the {len(scenes)} scenes")
        self.scenes = list(scenes)
        self.captions = list(captions)
        self.text_to_image = t2i
        self._parsed: dict[str, list[Clause]] = {}

    def _clauses(self, caption: str) -> list[Clause]:
        found = self._parsed.get(caption)
        if found is None:
            found = self._parsed[caption] = parse_caption(caption)
        return found

    def __call__(self, images: NDArray[np.int64], captions: NDArray[np.int64]) -> NDArray[np.bool_]:
        imgs = np.asarray(images, dtype=np.int64).reshape(-1)
        caps = np.asarray(captions, dtype=np.int64).reshape(-1)
        for name, a, n in (
            ("images", imgs, len(self.scenes)),
            ("captions", caps, len(self.captions)),
        ):
            if a.size and (a.min() < 0 or a.max() >= n):
                raise InvalidInputError(f"{name} must be indices in [0, {n})")
        out = imgs[:, None] == self.text_to_image[caps][None, :]
        # Each distinct caption once per distinct scene: batches repeat captions and images.
        columns: dict[str, list[int]] = {}
        for j, c in enumerate(caps.tolist()):
            columns.setdefault(self.captions[c], []).append(j)
        scenes = [self.scenes[i] for i in imgs.tolist()]
        for text, cols in columns.items():
            clauses = self._clauses(text)
            truth = np.fromiter((caption_is_true(clauses, sc) for sc in scenes), bool, len(scenes))
            out[:, cols] |= truth[:, None]
        return out


def scene_positives(
    scenes: Sequence[Scene], captions: Sequence[str], text_to_image: Any
) -> ScenePositives:
    """Positives of the shapes world: every caption checked against every scene of a batch.

    Parameters
    ----------
    scenes : sequence of Scene
        One per image (a shapes :class:`~vislang.data.CaptionDataset`'s ``annotations``).
    captions : sequence of str
        Flattened captions.
    text_to_image : array-like of int of shape (n_captions,)
        The image each caption was written for (always a positive).

    Returns
    -------
    ScenePositives
        ``positives(images, captions)`` -> bool array of shape (len(images), len(captions)).

    Examples
    --------
    >>> ds = make_shapes(4, 0, 0, 0, captions_per_image=2, seed=0)
    >>> t2i, caps = ds.pairs()
    >>> pos = scene_positives(ds.annotations, caps, t2i)
    >>> m = pos(np.arange(4), np.arange(len(caps)))
    >>> m.shape, bool(m[t2i, np.arange(len(caps))].all())
    ((4, 8), True)
    """
    return ScenePositives(scenes, captions, text_to_image)


# ---------------------------------------------------------------------- the world
@dataclass(frozen=True)
class ShapesWorld:
    """Configuration and primitives of the shapes world: sample scenes, draw them, caption them.

    Parameters
    ----------
    image_size : int, default=64
        Height and width of the RGB images.
    max_objects : int, default=3
        Objects per scene are drawn from 1..max_objects (1: 20%, the rest evenly).
    colours : sequence of str
        Colour names used (keys of :data:`COLOURS`).
    shapes : sequence of str
        Shapes used (from :data:`SHAPES`).
    heldout_pairs : sequence of (colour, shape)
        Pairs kept out of train/val/test scenes; every ``"heldout"`` scene shows at least one.

    Examples
    --------
    >>> import random
    >>> world = ShapesWorld()
    >>> scene = world.sample_scene(random.Random(0))
    >>> images = world.render([scene])
    >>> images.shape, images.dtype
    ((1, 64, 64, 3), dtype('uint8'))
    >>> all(caption_is_true(c, scene) for c in world.describe(scene, random.Random(1), 5))
    True
    """

    image_size: int = 64
    max_objects: int = 3
    colours: tuple[str, ...] = tuple(COLOURS)
    shapes: tuple[str, ...] = SHAPES
    heldout_pairs: tuple[tuple[str, str], ...] = DEFAULT_HELDOUT_PAIRS
    _pairs: tuple[tuple[str, str], ...] = field(init=False, repr=False, compare=False)
    _seen_pairs: tuple[tuple[str, str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.image_size < 16:
            raise InvalidInputError(f"image_size must be >= 16, got {self.image_size}")
        if not 1 <= self.max_objects <= 3:
            raise InvalidInputError(f"max_objects must be in 1..3, got {self.max_objects}")
        for c in self.colours:
            if c not in COLOURS:
                raise InvalidInputError(f"unknown colour {c!r}; known: {list(COLOURS)}")
        for s in self.shapes:
            if s not in SHAPES:
                raise InvalidInputError(f"unknown shape {s!r}; known: {list(SHAPES)}")
        pairs = tuple((c, s) for c in self.colours for s in self.shapes)
        held = tuple((str(c), str(s)) for c, s in self.heldout_pairs)
        for p in held:
            if p not in pairs:
                raise InvalidInputError(f"heldout pair {p} is not a (colour, shape) of this world")
        seen = tuple(p for p in pairs if p not in held)
        if len(seen) < self.max_objects:
            raise InvalidInputError("too many held-out pairs: fewer seen pairs than max_objects")
        object.__setattr__(self, "heldout_pairs", held)
        object.__setattr__(self, "_pairs", pairs)
        object.__setattr__(self, "_seen_pairs", seen)

    @property
    def vocabulary(self) -> list[str]:
        """Every word the captions can use, sorted."""
        words = {"a", "an", "the", "is", "and", "there", "image", "shows", "picture", "of"}
        words |= set(self.colours) | set(self.shapes) | set(_SIZE_OF_WORD)
        for phrases in _REL_PHRASES.values():
            for p in phrases:
                words |= set(p.split())
        words |= {"in", "on", "at", "center", "top", "bottom", "left", "right"}
        return sorted(words)

    # ------------------------------------------------------------------ scenes
    def sample_scene(self, rng: random.Random, heldout: bool = False) -> Scene:
        """Draw one scene; with ``heldout`` it shows at least one held-out pair, else none."""
        s = float(self.image_size)
        u = rng.random()
        n = (
            1
            if (u < 0.2 or self.max_objects == 1)
            else 2 + int((u - 0.2) / 0.8 * (self.max_objects - 1))
        )
        n = min(n, self.max_objects)
        if heldout:
            if not self.heldout_pairs:
                raise InvalidInputError("this world has no held-out pairs")
            first = self.heldout_pairs[int(rng.random() * len(self.heldout_pairs))]
            rest = [p for p in self._pairs if p != first]
            chosen = [first, *_sample(rng, rest, n - 1)]
        else:
            chosen = _sample(rng, list(self._seen_pairs), n)
        objects: list[ShapeObject] = []
        for colour, shape in chosen:
            size = SIZES[int(rng.random() * len(SIZES))]
            lo, hi = SIZE_RANGES[size]
            r = (lo + (hi - lo) * rng.random()) * s
            for _ in range(60):
                x = r + 1 + (s - 2 * r - 2) * rng.random()
                y = r + 1 + (s - 2 * r - 2) * rng.random()
                if all(
                    abs(x - o.x) >= r + o.radius + _GAP or abs(y - o.y) >= r + o.radius + _GAP
                    for o in objects
                ):
                    objects.append(ShapeObject(colour, shape, size, x, y, r))
                    break
        return Scene(tuple(objects), self.image_size)

    def sample_scenes(self, n: int, rng: random.Random, heldout: bool = False) -> list[Scene]:
        """``n`` scenes from ``rng`` (see :meth:`sample_scene`)."""
        return [self.sample_scene(rng, heldout) for _ in range(n)]

    # ------------------------------------------------------------------ drawing
    def render(
        self, scenes: Sequence[Scene], *, noise: float = 0.0, seed: int = 0
    ) -> NDArray[np.uint8]:
        """Draw scenes into a uint8 array of shape (n_scenes, image_size, image_size, 3).

        Each object is rasterised on a small patch around its centre; all patches of a chunk are
        computed with one set of NumPy operations and scattered into the images. ``noise`` adds
        Gaussian pixel noise of that standard deviation (seeded by ``seed``).
        """
        size = self.image_size
        out = np.empty((len(scenes), size, size, 3), dtype=np.uint8)
        out[:] = np.asarray(BACKGROUND, dtype=np.uint8)
        flat = [(i, o) for i, sc in enumerate(scenes) for o in sc.objects]
        if flat:
            shape_id = {s: k for k, s in enumerate(SHAPES)}
            img = np.fromiter((i for i, _ in flat), dtype=np.int64, count=len(flat))
            geo = np.array([(o.x, o.y, o.radius) for _, o in flat], dtype=np.float32)
            sid = np.fromiter((shape_id[o.shape] for _, o in flat), dtype=np.int64, count=len(flat))
            rgb = np.array([COLOURS[o.colour] for _, o in flat], dtype=np.uint8)
            # Objects of similar radius share a patch size, which keeps the patches tight.
            bucket = np.ceil(geo[:, 2]).astype(np.int64)
            for b in np.unique(bucket):
                rows = np.flatnonzero(bucket == b)
                for start in range(0, len(rows), 8192):
                    sl = rows[start : start + 8192]
                    _draw(out, img[sl], geo[sl], sid[sl], rgb[sl])
        if noise > 0:
            gen = np.random.default_rng(seed)
            for start in range(0, len(out), 1024):
                block = out[start : start + 1024].astype(np.float32)
                block += gen.normal(0.0, noise, block.shape).astype(np.float32)
                out[start : start + 1024] = np.clip(np.rint(block), 0, 255).astype(np.uint8)
        return out

    # ------------------------------------------------------------------ captions
    def _np(self, o: ShapeObject, rng: random.Random, determiner: bool) -> str:
        words = []
        if rng.random() < 0.5:
            options = _SIZE_WORDS[o.size]
            words.append(options[int(rng.random() * len(options))])
        words += [o.colour, o.shape]
        if determiner:
            words.insert(0, "an" if words[0][0] in "aeiou" else "a")
        return " ".join(words)

    def _relation_phrase(self, a: ShapeObject, b: ShapeObject, rng: random.Random) -> str:
        s = self.image_size
        dx, dy = abs(a.x - b.x), abs(a.y - b.y)
        # Only say what is clearly visible: the displacement must dominate the other axis.
        rels = [
            r
            for r in RELATIONS
            if relation_holds(r, a, b, s)
            and (dx >= 0.5 * dy if r in ("left", "right") else dy >= 0.5 * dx)
        ]
        rel = rels[int(rng.random() * len(rels))]
        phrases = _REL_PHRASES[rel]
        return phrases[int(rng.random() * len(phrases))]

    def caption(self, scene: Scene, rng: random.Random) -> str:
        """One random caption of ``scene`` from the grammar."""
        objs = list(scene.objects)
        prefix = _PREFIXES[int(rng.random() * len(_PREFIXES))]
        if len(objs) == 1:
            (o,) = objs
            text = self._np(o, rng, True)
            if rng.random() < 0.6:
                text += " " + _region_phrase(*region_of(o, scene.image_size))
            return prefix + text
        order = _sample(rng, objs, len(objs))
        a, b = order[0], order[1]
        u = rng.random()
        if u < 0.1:
            return f"{prefix}{self._np(a, rng, True)} and {self._np(b, rng, True)}"
        rel = self._relation_phrase(a, b, rng)
        if u < 0.35:
            return f"the {self._np(a, rng, False)} is {rel} the {self._np(b, rng, False)}"
        text = f"{prefix}{self._np(a, rng, True)} {rel} {self._np(b, rng, True)}"
        if len(order) == 3 and u > 0.75:
            text += f" and {self._np(order[2], rng, True)}"
        return text

    def describe(self, scene: Scene, rng: random.Random, n: int = 5) -> list[str]:
        """``n`` captions of ``scene``, distinct when the grammar allows."""
        out: list[str] = []
        for _ in range(20 * n):
            c = self.caption(scene, rng)
            if c not in out:
                out.append(c)
                if len(out) == n:
                    return out
        while len(out) < n:  # a scene with little to say: repeat its captions
            out.append(out[len(out) % len(out)] if len(out) > 1 else out[0])
        return out


def _sample(rng: random.Random, items: Sequence[_T], k: int) -> list[_T]:
    """``k`` distinct items in random order (partial Fisher-Yates on ``rng.random()`` only)."""
    pool = list(items)
    for i in range(min(k, len(pool))):
        j = i + int(rng.random() * (len(pool) - i))
        pool[i], pool[j] = pool[j], pool[i]
    return pool[:k]


def _draw(
    out: NDArray[np.uint8],
    img: NDArray[np.int64],
    geo: NDArray[np.float32],
    sid: NDArray[np.int64],
    rgb: NDArray[np.uint8],
) -> None:
    """Rasterise objects (centre x, y, radius in ``geo``) into ``out`` in place."""
    size = out.shape[1]
    rmax = float(geo[:, 2].max())
    p = 2 * math.ceil(rmax) + 3
    offs = np.arange(p, dtype=np.int64) - p // 2
    px = np.floor(geo[:, 0]).astype(np.int64)[:, None] + offs  # (M, P) pixel columns
    py = np.floor(geo[:, 1]).astype(np.int64)[:, None] + offs  # (M, P) pixel rows
    dx = (px + 0.5 - geo[:, :1])[:, None, :]  # (M, 1, P), from the pixel centre
    dy = (py + 0.5 - geo[:, 1:2])[:, :, None]  # (M, P, 1)
    r = geo[:, 2, None, None]  # (M, 1, 1)
    adx, ady = np.abs(dx), np.abs(dy)
    mask = np.zeros((len(geo), p, p), dtype=bool)
    for k, shape in enumerate(SHAPES):
        rows = np.flatnonzero(sid == k)
        if rows.size == 0:
            continue
        x_, y_, ax, ay, rr = dx[rows], dy[rows], adx[rows], ady[rows], r[rows]
        if shape == "circle":
            m = x_ * x_ + y_ * y_ <= rr * rr
        elif shape == "square":
            m = np.maximum(ax, ay) <= 0.85 * rr
        elif shape == "diamond":
            m = ax + ay <= rr
        else:  # triangle, apex up: width grows linearly from the apex to the base
            m = (y_ >= -rr) & (y_ <= rr) & (ax <= (y_ + rr) * 0.5)
        mask[rows] = m
    inside = (py >= 0) & (py < size)
    mask &= inside[:, :, None] & ((px >= 0) & (px < size))[:, None, :]
    obj, i, j = np.nonzero(mask)
    out[img[obj], py[obj, i], px[obj, j]] = rgb[obj]


# ---------------------------------------------------------------------- datasets
def make_shapes(
    n_train: int = 2000,
    n_val: int = 200,
    n_test: int = 200,
    n_heldout: int = 200,
    *,
    image_size: int = 64,
    max_objects: int = 3,
    captions_per_image: int = 5,
    heldout_pairs: Sequence[tuple[str, str]] = DEFAULT_HELDOUT_PAIRS,
    noise: float = 0.0,
    seed: int = 0,
) -> CaptionDataset:
    """Generate the shapes world as a :class:`~vislang.data.CaptionDataset`.

    Splits ``"train"``, ``"val"``, ``"test"`` never show a held-out colour+shape pair; every
    image of ``"heldout"`` shows at least one (its other objects may be any pair). Each split
    has its own random stream, so changing ``n_train`` leaves the other splits unchanged.

    Parameters
    ----------
    n_train, n_val, n_test, n_heldout : int
        Images per split.
    image_size : int, default=64
    max_objects : int, default=3
    captions_per_image : int, default=5
    heldout_pairs : sequence of (colour, shape), default=:data:`DEFAULT_HELDOUT_PAIRS`
    noise : float, default=0.0
        Standard deviation of Gaussian pixel noise.
    seed : int, default=0
        The same seed gives the same images and captions.

    Returns
    -------
    CaptionDataset
        Images in memory, of shape (n_images, image_size, image_size, 3); ``annotations[i]``
        is the :class:`Scene` of image ``i``; ids are ``"shapes-<split>-<index>"``.

    Examples
    --------
    >>> ds = make_shapes(20, 5, 5, 5, seed=0)
    >>> ds.split_counts()
    {'train': 20, 'val': 5, 'test': 5, 'heldout': 5}
    >>> ds.select("train").images.shape
    (20, 64, 64, 3)
    """
    world = ShapesWorld(
        image_size=image_size, max_objects=max_objects, heldout_pairs=tuple(heldout_pairs)
    )
    counts = dict(zip(SPLITS, (n_train, n_val, n_test, n_heldout), strict=True))
    for split, n in counts.items():
        if n < 0:
            raise InvalidInputError(f"n_{split} must be >= 0, got {n}")
    if captions_per_image < 1:
        raise InvalidInputError(f"captions_per_image must be >= 1, got {captions_per_image}")
    scenes: list[Scene] = []
    captions: list[list[str]] = []
    splits: list[str] = []
    ids: list[str] = []
    for split, n in counts.items():
        scene_rng = random.Random(f"vislang.shapes:{seed}:{split}:scenes")
        text_rng = random.Random(f"vislang.shapes:{seed}:{split}:captions")
        sc = world.sample_scenes(n, scene_rng, heldout=split == "heldout")
        scenes += sc
        captions += [world.describe(s, text_rng, captions_per_image) for s in sc]
        splits += [split] * n
        ids += [f"shapes-{split}-{i:05d}" for i in range(n)]
    images = world.render(scenes, noise=noise, seed=seed)
    return CaptionDataset(
        images, captions, ids=ids, splits=splits, annotations=scenes, name="shapes"
    )
