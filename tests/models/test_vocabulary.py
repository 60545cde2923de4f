from __future__ import annotations

import pytest

from vislang.exceptions import InvalidInputError
from vislang.models import PAD, UNK, Vocabulary


def test_build_counts_and_special_tokens() -> None:
    v = Vocabulary.build(["a dog runs", "a dog sits", "a cat"], min_count=2)
    assert v.words[:2] == [PAD, UNK]
    assert v.words[2:] == ["a", "dog"]  # most frequent first; cat/runs/sits below min_count
    assert len(v) == 4 and "dog" in v and "cat" not in v


def test_built_from_training_captions_only(shapes) -> None:  # type: ignore[no-untyped-def]
    train = [c for caps in shapes.select("train").captions for c in caps]
    v = Vocabulary.build(train)
    test_words = {w for caps in shapes.select("test").captions for c in caps for w in c.split()}
    assert set(v.words[2:]) <= {w for c in train for w in c.split()}
    assert test_words  # the test split is not consulted: nothing to assert beyond the subset


def test_unknown_words_map_to_unk() -> None:
    v = Vocabulary.build(["a red circle"])
    ids, lengths = v.encode(["a purple circle", "zebra"])
    assert ids.tolist() == [[v.index["a"], 1, v.index["circle"]], [1, 0, 0]]
    assert lengths.tolist() == [3, 1]


def test_long_captions_truncated() -> None:
    v = Vocabulary.build(["one two three four five"], max_length=3)
    ids, lengths = v.encode(["one two three four five", "two"])
    assert ids.shape == (2, 3) and lengths.tolist() == [3, 1]
    assert ids[0].tolist() == v.lookup(["one", "two", "three"])


def test_empty_caption_is_one_unk_and_empty_batch_errors() -> None:
    v = Vocabulary.build(["a b"])
    ids, lengths = v.encode(["..."])
    assert ids.tolist() == [[1]] and lengths.tolist() == [1]
    with pytest.raises(InvalidInputError, match="empty batch"):
        v.encode([])
    with pytest.raises(InvalidInputError, match="one string"):
        v.encode("a b")  # type: ignore[arg-type]


def test_round_trip_and_bad_options() -> None:
    v = Vocabulary.build(["x y y z"], max_length=7)
    assert Vocabulary.from_dict(v.to_dict()) == v
    with pytest.raises(InvalidInputError, match="min_count"):
        Vocabulary.build(["x"], min_count=0)
    with pytest.raises(InvalidInputError, match="max_length"):
        Vocabulary(["x"], max_length=0)
    with pytest.raises(InvalidInputError, match="no words"):
        Vocabulary.build(["", "!!"])
