"""Dependency trees: the shapes grammar's exact trees, CoNLL-U, and clear errors for input that
is not a tree (naming the sentence)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from vislang.data.shapes import ShapesWorld
from vislang.data.trees import DependencyTree, read_conllu, shapes_dependency_tree, spacy_trees
from vislang.exceptions import DatasetFormatError, InvalidInputError, MissingDependencyError


def _arcs(t: DependencyTree) -> list[tuple[str, str, str]]:
    return [
        (w, t.words[h - 1] if h else "ROOT", r)
        for w, h, r in zip(t.words, t.heads, t.relations, strict=True)
    ]


def test_shapes_trees_cover_every_generated_caption() -> None:
    world = ShapesWorld()
    rng = random.Random(0)
    for scene in world.sample_scenes(300, rng):
        for caption in world.describe(scene, rng, 3):
            t = shapes_dependency_tree(caption)
            assert list(t.words) == caption.split()
            assert t.heads.count(0) == 1
            # every colour word modifies the shape word right after it
            for i, w in enumerate(t.words):
                if w in ("red", "green", "blue", "yellow", "purple", "orange"):
                    assert t.heads[i] == i + 2 and t.relations[i] == "amod"


def test_shapes_tree_binds_colours_to_their_nouns() -> None:
    t = shapes_dependency_tree("the red square is left of the blue circle")
    assert _arcs(t) == [
        ("the", "square", "det"),
        ("red", "square", "amod"),
        ("square", "is", "nsubj"),
        ("is", "ROOT", "root"),
        ("left", "circle", "case"),
        ("of", "left", "fixed"),
        ("the", "circle", "det"),
        ("blue", "circle", "amod"),
        ("circle", "is", "obl"),
    ]
    assert t.heights() == [0, 0, 1, 3, 1, 0, 0, 0, 2]
    assert t.subtree_sizes()[3] == 9
    # square is the first dependent left of "is", circle the first on its right
    assert t.positions()[2] == -1 and t.positions()[8] == 1
    swapped = shapes_dependency_tree("the blue square is left of the red circle")
    assert swapped.heads == t.heads and swapped.words != t.words


def test_shapes_tree_rejects_captions_outside_the_grammar() -> None:
    with pytest.raises(InvalidInputError, match=r"'a red dog'.*expected a shape"):
        shapes_dependency_tree("a red dog")


@pytest.mark.parametrize(
    ("heads", "match"),
    [
        ((2, 3, 1), "0 roots"),
        ((0, 1, 0), r"2 roots \(words \[1, 3\]\)"),
        ((0, 5, 1), "word 2 .* has head 5, out of range 0..3"),
        ((0, 2, 1), "word 2 .* is its own head"),
        ((0, 3, 2), "a cycle through word"),
    ],
)
def test_not_a_tree_names_the_sentence(heads: tuple[int, ...], match: str) -> None:
    with pytest.raises(InvalidInputError, match=f"'a red circle'.*{match}"):
        DependencyTree(("a", "red", "circle"), heads, text="a red circle")


def test_lengths_must_agree() -> None:
    with pytest.raises(InvalidInputError, match="3 words but 2 heads"):
        DependencyTree(("a", "b", "c"), (0, 1))
    with pytest.raises(InvalidInputError, match="no words"):
        DependencyTree((), ())


CONLLU = """# sent_id = s1
# text = A dog runs.
1\tA\ta\tDET\t_\t_\t2\tdet\t_\t_
2\tdog\tdog\tNOUN\t_\t_\t3\tnsubj\t_\t_
3\truns\trun\tVERB\t_\t_\t0\troot\t_\t_
4\t.\t.\tPUNCT\t_\t_\t3\tpunct\t_\t_

# sent_id = s2
1-2\tdon't\t_\t_\t_\t_\t_\t_\t_\t_
1\tdo\tdo\tAUX\t_\t_\t3\taux\t_\t_
2\tn't\tnot\tPART\t_\t_\t3\tadvmod\t_\t_
3\tgo\tgo\tVERB\t_\t_\t0\troot\t_\t_
"""


def test_read_conllu(tmp_path: Path) -> None:
    trees = read_conllu(CONLLU)
    assert [t.words for t in trees] == [("A", "dog", "runs", "."), ("do", "n't", "go")]
    assert trees[0].text == "A dog runs." and trees[0].heads == (2, 3, 0, 3)
    assert trees[1].relations == ("aux", "advmod", "root")
    path = tmp_path / "x.conllu"
    path.write_text("".join(t.to_conllu() + "\n" for t in trees))
    again = read_conllu(path)
    assert [(t.words, t.heads, t.relations) for t in again] == [
        (t.words, t.heads, t.relations) for t in trees
    ]


def test_conllu_errors_name_the_sentence(tmp_path: Path) -> None:
    short = "# sent_id = bad-7\n1\tA\ta\tDET\t_\t_\n"
    with pytest.raises(DatasetFormatError, match=r"line 2 .sentence bad-7.: 6 tab-separated"):
        read_conllu(short)
    cyc = "# sent_id = loop\n1\ta\t_\t_\t_\t_\t2\tx\t_\t_\n2\tb\t_\t_\t_\t_\t1\tx\t_\t_\n\n"
    with pytest.raises(InvalidInputError, match=r"sentence loop: .*0 roots"):
        read_conllu(cyc)
    head = "1\ta\t_\t_\t_\t_\tX\tx\t_\t_\n"
    with pytest.raises(DatasetFormatError, match="HEAD 'X' must be"):
        read_conllu(head)
    with pytest.raises(InvalidInputError, match="not found"):
        read_conllu(tmp_path / "missing.conllu")


def test_spacy_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "spacy", None)  # import spacy -> ImportError
    with pytest.raises(MissingDependencyError, match=r"vislang\[parse\]"):
        spacy_trees(["a dog runs"])
