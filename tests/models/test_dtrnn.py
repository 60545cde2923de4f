"""DT-RNN (Socher et al. 2014): the batched level-by-level evaluation equals the per-sentence
recursion, the tree tells structure-swapped captions apart where a bag of words cannot, and
trees come from the shapes grammar or from CoNLL-U."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
import torch

from vislang.data.shapes import COLOURS, SHAPES, ShapesWorld, relation_holds
from vislang.data.trees import DependencyTree, read_conllu, shapes_dependency_tree
from vislang.exceptions import InvalidInputError
from vislang.models import CaptionPairs, TrainConfig, Trainer, Vocabulary, create_model

CAPTIONS = [
    "a red square left of a blue circle",
    "the image shows a small green triangle in the top left",
    "there is a red circle above a big blue square and a green diamond",
    "the yellow diamond is to the right of the purple circle",
    "a picture of an orange square",
]


def _model(**kw: Any) -> Any:
    vocab = Vocabulary.build([*CAPTIONS, "a blue square left of a red circle"])
    torch.manual_seed(0)
    return create_model("dt-rnn", vocab=vocab, feature_dim=6, embed_dim=10, word_dim=7, **kw)


@pytest.mark.parametrize("composition", ["position", "relation", "bow"])
@pytest.mark.parametrize("weighting", ["subtree", "children"])
def test_batched_levels_equal_the_recursion(composition: str, weighting: str) -> None:
    model = _model(composition=composition, weighting=weighting, max_position=2)
    # a CoNLL-U tree with 4 left dependents (positions past max_position share a matrix)
    wide = DependencyTree(("a", "b", "c", "d", "e"), (5, 5, 5, 5, 0), text="wide")
    trees = [shapes_dependency_tree(c) for c in CAPTIONS] + [wide]
    batched = model.encode_trees(trees)
    loop = torch.stack([model.encode_tree_loop(t) for t in trees])
    torch.testing.assert_close(batched, loop, rtol=1e-5, atol=1e-6)
    # the gradient flows into every composition matrix used
    batched.sum().backward()
    if composition == "position":
        assert float(model.w_children.grad.abs().sum()) > 0


def test_position_matrices_follow_the_paper() -> None:
    model = _model(max_position=2)
    d = model.embed_dim
    assert model.w_children.shape == (d, 4 * d)  # l1, l2, r1, r2
    t = DependencyTree(("x", "y"), (2, 0))
    # one leaf child: h_root = tanh((W_v x_root + 1 * W_l1 tanh(W_v x_child)) / 2)
    base = model.w_v(model.embedding(torch.tensor(model.vocab.lookup(["x", "y"]))))
    leaf = torch.tanh(base[0])
    want = torch.tanh((base[1] + leaf @ model.w_children[:, :d]) / 2)
    torch.testing.assert_close(model.encode_trees([t])[0], want)


def test_tree_tells_swapped_colours_apart_bag_of_words_cannot() -> None:
    a, b = "a red square left of a blue circle", "a blue square left of a red circle"
    bow = _model(composition="bow")
    ea, eb = bow.embed_texts([a, b])
    torch.testing.assert_close(ea, eb)  # same bag of words: same vector
    tree = _model()
    ea, eb = tree.embed_texts([a, b])
    assert float((ea - eb).norm()) > 1e-3


def _left_of_world(n: int, seed: int) -> CaptionPairs:
    """Two-object shapes-world scenes whose first object is clearly left of the second,
    captioned "a C1 S1 left of a C2 S2"; image features are the scene's one-hot (colour,
    shape) of the left and of the right object (oracle features: the test is about the
    sentence side)."""
    world = ShapesWorld(max_objects=2)
    rng = random.Random(seed)
    cols, shapes = list(COLOURS), list(SHAPES)
    feats, caps = [], []
    while len(caps) < n:
        scene = world.sample_scene(rng)
        if len(scene.objects) != 2:
            continue
        a, b = sorted(scene.objects, key=lambda o: o.x)
        if not relation_holds("left", a, b, scene.image_size):
            continue
        f = np.zeros(20, np.float32)
        f[[cols.index(a.colour), 6 + shapes.index(a.shape)]] = 1
        f[[10 + cols.index(b.colour), 16 + shapes.index(b.shape)]] = 1
        feats.append(f)
        caps.append(f"a {a.colour} {a.shape} left of a {b.colour} {b.shape}")
    return CaptionPairs(np.stack(feats), caps, np.arange(n))


@pytest.mark.parametrize("composition", ["position", "bow"])
def test_trained_tree_prefers_the_true_caption_over_its_colour_swap(composition: str) -> None:
    """Trained on "a red square left of a blue circle" captions, the DT-RNN scores the true
    caption above the one with its two colours swapped ("a blue square left of a red
    circle"); a bag-of-words composition gives both the same vector and cannot."""
    train, val, test = (_left_of_world(n, s) for n, s in ((300, 0), (40, 1), (120, 2)))
    torch.manual_seed(0)
    model = create_model(
        "dt-rnn", captions=train.captions, feature_dim=20, embed_dim=32, word_dim=16,
        composition=composition,
    )  # fmt: skip
    cfg = TrainConfig(epochs=8, batch_size=32, lr=5e-3, seed=0)
    Trainer(model, train, val, cfg, progress=False).fit()
    img = model.embed_images(torch.from_numpy(test.images))
    wins = 0
    for j, c in enumerate(test.captions):
        w = c.split()
        s = list(w)
        s[1], s[6] = w[6], w[1]
        if s == w:
            continue
        e = model.embed_texts([c, " ".join(s)])
        sc = img[j] @ e.T
        wins += int(float(sc[0]) > float(sc[1]) + 1e-6)
    acc = wins / len(test.captions)
    if composition == "bow":
        assert acc == 0.0  # ties: the same bag of words
    else:
        assert acc > 0.75, acc  # a coin flip would give 0.5


def test_given_trees_from_conllu() -> None:
    text = "1\tred\t_\t_\t_\t_\t2\tamod\t_\t_\n2\tsquare\t_\t_\t_\t_\t0\troot\t_\t_\n\n"
    (tree,) = read_conllu(text)
    model = _model(parser="given")
    with pytest.raises(InvalidInputError, match="no dependency tree for 'red square'"):
        model.embed_texts(["red square"])
    model.add_trees([tree])
    torch.testing.assert_close(model.embed_texts(["red square"]), model.embed_texts([tree]))


def test_training_loss_and_retrieval_metrics() -> None:
    model = _model()
    rng = np.random.default_rng(0)
    pairs = CaptionPairs(
        rng.normal(size=(5, 6)).astype(np.float32), CAPTIONS, np.arange(5, dtype=np.int64)
    )
    batch = next(model.batches(pairs, 5, torch.Generator().manual_seed(0)))
    loss = model.training_loss(batch, torch.device("cpu"))
    assert loss.ndim == 0 and float(loss.detach()) > 0
    metrics = model.evaluate(pairs)
    assert {"i2t_r1", "t2i_r1", "rsum"} <= set(metrics)
    with pytest.raises(InvalidInputError, match="composition"):
        _model(composition="tree")
