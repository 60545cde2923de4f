"""``vislang vocab`` and ``vislang encode`` in-process on a few generated images."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("cv2")

DENSE = ("--extractor", "dense-sift", "--step", "16", "--quiet")


def test_vocab_from_a_folder_writes_a_loadable_vocabulary(
    vislang_cli: Callable[..., Any], shape_images: list[Path], tmp_path: Path
) -> None:
    from vislang import VisualVocabulary
    from vislang.features import DenseSIFT

    out = tmp_path / "vocab.safetensors"
    r = vislang_cli("vocab", shape_images[0].parent, *DENSE, "--n-words", 5, "--out", out, "--json")
    assert r.code == 0, r.err
    result = r.json()
    # 64x64 images, step 16: a 4x4 grid at 4 bin sizes -> 64 descriptors per image
    assert result["images"] == len(shape_images) == 6
    assert result["descriptors"] == result["descriptors_used"] == 6 * 64
    assert result["dim"] == 128 and result["n_words"] == 5
    vocab = VisualVocabulary.load(out)
    assert vocab.cluster_centers_.shape == (5, 128)
    # the same fit through the library (same descriptors, seed 0) gives the same centres
    ds = DenseSIFT(step=16).transform([str(p) for p in shape_images])
    ref = VisualVocabulary(n_clusters=5, random_state=0).fit(ds.descriptors)
    np.testing.assert_allclose(vocab.cluster_centers_, ref.cluster_centers_, rtol=1e-5)
    assert result["inertia"] == pytest.approx(ref.inertia_, rel=1e-5)


def test_vocab_sample_and_saved_descriptors(
    vislang_cli: Callable[..., Any], shape_images: list[Path], tmp_path: Path
) -> None:
    from vislang import VisualVocabulary
    from vislang.features import DescriptorSet

    desc = tmp_path / "desc.safetensors"
    r = vislang_cli(
        "vocab", *shape_images[:3], *DENSE, "--n-words", 3, "--sample", 50,
        "--save-descriptors", desc, "--out", tmp_path / "a.npz", "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    assert r.json()["descriptors_used"] == 50 and r.json()["descriptors"] == 3 * 64
    assert DescriptorSet.load(desc).n_images == 3
    # a saved descriptor set is an input too; the same seed draws the same sample
    r2 = vislang_cli(
        "vocab", desc, "--quiet", "--n-words", 3, "--sample", 50, "--out", tmp_path / "b.npz"
    )
    assert r2.code == 0, r2.err
    assert "descriptors_used" in r2.out  # table output without --json
    a, b = VisualVocabulary.load(tmp_path / "a.npz"), VisualVocabulary.load(tmp_path / "b.npz")
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)


@pytest.mark.parametrize(
    ("options", "width"),
    [
        ((), 4),
        (("--pyramid", "1,2", "--weighting", "tfidf"), 4 * 5),
        (("--encoding", "soft", "--soft-k", "2", "--norm", "l1"), 4),
        (("--encoding", "vlad", "--norm", "power"), 4 * 128),
    ],
)
def test_encode_matches_the_library(
    vislang_cli: Callable[..., Any],
    shape_images: list[Path],
    tmp_path: Path,
    options: tuple[str, ...],
    width: int,
) -> None:
    import vislang
    from vislang import VisualVocabulary
    from vislang.features import DenseSIFT

    vocab = tmp_path / "vocab.safetensors"
    assert vislang_cli("vocab", *shape_images, *DENSE, "--n-words", 4, "--out", vocab).code == 0
    out = tmp_path / "codes" / "codes.npy"  # the folder is created
    r = vislang_cli(
        "encode", shape_images[0].parent, *DENSE, "--vocab", vocab, *options, "--out", out, "--json"
    )
    assert r.code == 0, r.err
    codes = np.load(out)
    assert codes.shape == (6, width) and r.json()["shape"] == [6, width]
    names = (tmp_path / "codes" / "codes.images.txt").read_text().splitlines()
    assert [Path(n).name for n in names] == [p.name for p in shape_images]

    kw = dict(zip(options[::2], options[1::2], strict=True))
    ds = DenseSIFT(step=16).transform(names)
    expected = vislang.encode(
        ds,
        VisualVocabulary.load(vocab),
        encoding=kw.get("--encoding", "hard"),
        k=int(kw.get("--soft-k", 5)),
        pyramid=tuple(int(g) for g in kw.get("--pyramid", "1").split(",")),
        weighting=kw.get("--weighting"),
        norm=kw.get("--norm", "l2"),
    )
    np.testing.assert_allclose(codes, expected, rtol=1e-6)


def test_encode_with_a_vocabulary_of_another_descriptor_fails_in_one_line(
    vislang_cli: Callable[..., Any], shape_images: list[Path], tmp_path: Path
) -> None:
    vocab = tmp_path / "vocab.safetensors"
    assert vislang_cli("vocab", *shape_images, *DENSE, "--n-words", 4, "--out", vocab).code == 0
    r = vislang_cli(
        "encode", *shape_images, "--extractor", "orb", "--max-side", "256", "--quiet",
        "--vocab", vocab, "--out", tmp_path / "c.npy",
    )  # fmt: skip
    assert r.code == 2  # the vocabulary records its extractor
    assert "--extractor orb does not match" in r.error_line()
    # a vocabulary made from saved descriptors records none: the dimensions still disagree
    desc, plain = tmp_path / "desc.safetensors", tmp_path / "plain.safetensors"
    assert vislang_cli("vocab", *shape_images, *DENSE, "--n-words", 4, "--out", plain,
                       "--save-descriptors", desc).code == 0  # fmt: skip
    assert vislang_cli("vocab", desc, "--quiet", "--n-words", 4, "--out", vocab).code == 0
    r = vislang_cli(
        "encode", *shape_images, "--extractor", "orb", "--max-side", "256", "--quiet",
        "--vocab", vocab, "--out", tmp_path / "c.npy",
    )  # fmt: skip
    assert r.code == 1
    assert "dimensions" in r.error_line()  # ORB's 256 bits vs SIFT's 128
