"""``vislang vocab`` / ``vislang encode`` on 2 ranks: one shard per rank plus an index, read
back in the original order; an interrupted run resumes per shard."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
cv2 = pytest.importorskip("cv2")

from vislang.cli import main  # noqa: E402
from vislang.distributed import launch  # noqa: E402
from vislang.distributed.shards import read_shards, shard_paths, shard_range  # noqa: E402
from vislang.exceptions import InvalidInputError  # noqa: E402

DENSE = ("--extractor", "dense-sift", "--step", "16", "--quiet")


def _images(folder: Path, n: int = 5) -> list[Path]:
    from vislang.data import make_shapes

    ds = make_shapes(n, 0, 0, 0, seed=3)
    paths = []
    for i in range(n):
        p = folder / f"img{i}.png"
        rgb = np.ascontiguousarray(ds.load_image(i))
        assert cv2.imwrite(str(p), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        paths.append(p)
    return paths


def _cli(rank: int, argv: list[str]) -> int:
    return main(argv)


def test_shard_range_covers_every_item_once() -> None:
    for n in (0, 1, 5, 7):
        blocks = [shard_range(n, r, 3) for r in range(3)]
        assert [i for a, b in blocks for i in range(a, b)] == list(range(n))
        assert max(b - a for a, b in blocks) - min(b - a for a, b in blocks) <= 1


def test_sharded_encode_matches_one_process_and_resumes(tmp_path: Path) -> None:
    images = _images(tmp_path)
    vocab = tmp_path / "v.safetensors"
    args = ["vocab", str(tmp_path), *DENSE, "--n-words", "4", "--seed", "0", "--out", str(vocab)]
    assert main(args) == 0
    single = tmp_path / "one.npy"
    assert (
        main(["encode", str(tmp_path), "--vocab", str(vocab), "--quiet", "--out", str(single)]) == 0
    )
    one = np.load(single)
    one_names = single.with_name("one.images.txt").read_text().splitlines()
    assert one_names == [str(p) for p in images]

    out = tmp_path / "sharded" / "codes.npy"
    encode = ["encode", str(tmp_path), "--vocab", str(vocab), "--quiet", "--out", str(out)]
    assert launch(_cli, 2, encode, timeout=60.0, start_method="fork") == [0, 0]
    codes, names = read_shards(out)
    np.testing.assert_array_equal(codes, one)
    assert names == one_names
    assert json.loads(out.with_name("codes.shards.json").read_text())["world_size"] == 2

    # An interrupted run: rank 1's shard never finished. The rerun keeps rank 0's shard.
    kept, _ = shard_paths(out, 0, 2)
    lost, _ = shard_paths(out, 1, 2)
    lost.with_suffix(".done").unlink()
    before = kept.stat().st_mtime_ns
    assert launch(_cli, 2, encode, timeout=60.0, start_method="fork") == [0, 0]
    assert kept.stat().st_mtime_ns == before
    codes, names = read_shards(out.with_name("codes.shards.json"))
    np.testing.assert_array_equal(codes, one)
    assert names == one_names


def test_sharded_tfidf_matches_one_process_and_resumes(tmp_path: Path) -> None:
    """tf-idf over shards: the document counts are added over the ranks, so every rank
    weights its rows with the idf of the whole collection (not of its own shard)."""
    _images(tmp_path, n=7)
    vocab = tmp_path / "v.safetensors"
    args = ["vocab", str(tmp_path), *DENSE, "--n-words", "6", "--seed", "0", "--out", str(vocab)]
    assert main(args) == 0
    common = ["--vocab", str(vocab), "--quiet", "--weighting", "tfidf", "--norm", "l1"]
    single = tmp_path / "one.npy"
    assert main(["encode", str(tmp_path), *common, "--out", str(single)]) == 0
    one = np.load(single)
    out = tmp_path / "sharded" / "codes.npy"
    encode = ["encode", str(tmp_path), *common, "--out", str(out)]
    assert launch(_cli, 2, encode, timeout=60.0, start_method="fork") == [0, 0]
    codes, names = read_shards(out)
    np.testing.assert_allclose(codes, one, rtol=1e-6, atol=1e-7)
    assert names == single.with_name("one.images.txt").read_text().splitlines()
    idf = np.load(out.with_name("codes.idf.npy"))
    # the idf of the whole collection, not of a shard: rank 0's counts weighted by their own
    # document counts give other codes
    from vislang.bovw.encoding import idf_from_counts, weight_codes

    raw0 = np.load(shard_paths(out.with_name("codes.counts.npy"), 0, 2)[0])
    own = weight_codes(raw0, idf_from_counts((raw0 > 0).sum(0), len(raw0)), "l1")
    np.testing.assert_allclose(weight_codes(raw0, idf, "l1"), codes[: len(raw0)], rtol=1e-6)
    assert not np.allclose(own, codes[: len(raw0)], rtol=1e-3)

    # rank 1's weighted shard was lost: the rerun keeps rank 0's (same idf) and both counts
    kept, _ = shard_paths(out, 0, 2)
    lost, _ = shard_paths(out, 1, 2)
    counts1, _ = shard_paths(out.with_name("codes.counts.npy"), 1, 2)
    lost.with_suffix(".done").unlink()
    before = (kept.stat().st_mtime_ns, counts1.stat().st_mtime_ns)
    assert launch(_cli, 2, encode, timeout=60.0, start_method="fork") == [0, 0]
    assert (kept.stat().st_mtime_ns, counts1.stat().st_mtime_ns) == before
    np.testing.assert_array_equal(read_shards(out)[0], codes)


def test_idf_from_counts_matches_the_learned_idf() -> None:
    from vislang.bovw.encoding import encode_with_state, idf_from_counts, weight_codes

    rng = np.random.default_rng(0)
    sets = [rng.normal(size=(int(n), 3)).astype(np.float32) for n in (5, 0, 9, 2)]
    centers = rng.normal(size=(6, 3)).astype(np.float32)
    from vislang import encode

    raw = encode(sets, centers, norm=None)
    want, _, idf = encode_with_state(sets, centers, weighting="tfidf", norm="l2")
    got_idf = idf_from_counts((raw > 0).sum(0), len(raw))
    np.testing.assert_allclose(got_idf, idf, rtol=1e-15)
    np.testing.assert_allclose(weight_codes(raw, got_idf, "l2"), want, rtol=1e-6)
    with pytest.raises(InvalidInputError, match="n_images"):
        idf_from_counts([1, 2], 0)
    with pytest.raises(InvalidInputError, match="idf must have shape"):
        weight_codes(raw, got_idf[:2])


def test_sharded_vocab_fits_over_the_ranks(tmp_path: Path) -> None:
    from vislang import VisualVocabulary

    _images(tmp_path)
    out = tmp_path / "v2.safetensors"
    argv = ["vocab", str(tmp_path), *DENSE, "--n-words", "4", "--seed", "0", "--out", str(out)]
    assert launch(_cli, 2, argv, timeout=60.0, start_method="fork") == [0, 0]
    v = VisualVocabulary.load(out)
    assert v.cluster_centers_.shape == (4, 128)


def test_read_shards_refuses_an_unfinished_shard(tmp_path: Path) -> None:
    from vislang.distributed.shards import inputs_digest, write_index, write_shard
    from vislang.exceptions import CheckpointError

    out = tmp_path / "codes.npy"
    for r, rows in enumerate((2, 1)):
        codes, names = shard_paths(out, r, 2)
        labels = [f"img{r}-{i}" for i in range(rows)]
        write_shard(codes, names, np.full((rows, 3), r, np.float32), labels, inputs_digest(labels))
    write_index(out, 2, [2, 1])
    codes, names = read_shards(out)
    assert codes[:, 0].tolist() == [0, 0, 1] and names == ["img0-0", "img0-1", "img1-0"]
    np.save(shard_paths(out, 1, 2)[0], np.zeros((0, 3), np.float32))  # cut short
    with pytest.raises(CheckpointError, match="the index says 1"):
        read_shards(out)
    with pytest.raises(CheckpointError, match="cannot read the shard index"):
        read_shards(tmp_path / "other.npy")


def _cli_no_extraction(rank: int, argv: list[str]) -> int:
    """A rank whose extractor must not run: every shard has to come from its cache."""
    from vislang.cli import _commands

    def refuse(args: object) -> None:
        raise AssertionError(f"rank {rank} extracted descriptors again")

    _commands.descriptors_from_inputs = refuse  # type: ignore[assignment]
    return main(argv)


def test_sharded_vocab_resumes_from_cached_descriptor_shards(tmp_path: Path) -> None:
    from vislang import VisualVocabulary
    from vislang.distributed.shards import descriptor_cache_path

    (tmp_path / "imgs").mkdir()
    _images(tmp_path / "imgs")
    out = tmp_path / "v.safetensors"
    argv = ["vocab", str(tmp_path / "imgs"), *DENSE, "--n-words", "4", "--seed", "0"]
    argv += ["--out", str(out)]
    assert launch(_cli, 2, argv, timeout=60.0, start_method="fork") == [0, 0]
    first = VisualVocabulary.load(out).cluster_centers_
    caches = [descriptor_cache_path(out, r, 2) for r in range(2)]
    assert all(c.is_file() and c.with_suffix(".done").is_file() for c in caches)
    mtimes = [c.stat().st_mtime_ns for c in caches]

    # The rerun loads both shards (an extraction would fail the rank) and fits the same words.
    out.unlink()
    assert launch(_cli_no_extraction, 2, argv, timeout=60.0, start_method="fork") == [0, 0]
    np.testing.assert_array_equal(VisualVocabulary.load(out).cluster_centers_, first)
    assert [c.stat().st_mtime_ns for c in caches] == mtimes

    # An interrupted run: rank 1's cache has no marker. Only rank 1 extracts again.
    caches[1].with_suffix(".done").unlink()
    with pytest.raises(Exception, match="rank 1 extracted descriptors again"):
        launch(_cli_no_extraction, 2, argv, timeout=60.0, start_method="fork")
    assert launch(_cli, 2, argv, timeout=60.0, start_method="fork") == [0, 0]
    assert caches[0].stat().st_mtime_ns == mtimes[0]
    assert caches[1].with_suffix(".done").is_file()
    np.testing.assert_array_equal(VisualVocabulary.load(out).cluster_centers_, first)

    # Other extractor settings: the caches are not reused but extracted again.
    other = [a if a != "16" else "24" for a in argv]
    with pytest.raises(Exception, match="extracted descriptors again"):
        launch(_cli_no_extraction, 2, other, timeout=60.0, start_method="fork")
    assert launch(_cli, 2, other, timeout=60.0, start_method="fork") == [0, 0]
    assert caches[0].stat().st_mtime_ns != mtimes[0]
    assert not np.array_equal(VisualVocabulary.load(out).cluster_centers_, first)
