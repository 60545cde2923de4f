"""What a new user's trial found in the CLI: skipped images, image names of saved descriptors,
the vocabulary's extractor, recall cut-offs beyond the gallery, flag names in errors, and the
training history."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

DENSE = ("--extractor", "dense-sift", "--step", "16", "--quiet")


@pytest.fixture
def folder_with_a_bad_image(shape_images: list[Path], tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for p in shape_images:
        shutil.copy(p, folder / p.name)
    (folder / "img2_bad.png").write_bytes(b"not a png at all")  # sorts between img2 and img3
    return folder


def test_skipped_images_are_dropped_from_codes_and_list_and_counted(
    vislang_cli: Callable[..., Any], folder_with_a_bad_image: Path, tmp_path: Path
) -> None:
    pytest.importorskip("cv2")
    vocab = tmp_path / "vocab.safetensors"
    r = vislang_cli(
        "vocab", folder_with_a_bad_image, *DENSE, "--on-error", "skip", "--n-words", 4,
        "--save-descriptors", tmp_path / "desc.safetensors", "--out", vocab, "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    assert r.json()["images"] == 6 and r.json()["skipped_images"] == 1
    warnings = [ln for ln in r.err.splitlines() if ln.startswith("vislang: warning: skipping")]
    assert len(warnings) == 1 and "img2_bad.png" in warnings[0]
    out = tmp_path / "codes.npy"
    r = vislang_cli(
        "encode", folder_with_a_bad_image, "--quiet", "--on-error", "skip", "--vocab", vocab,
        "--out", out, "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    assert r.json()["images"] == 6 and r.json()["skipped_images"] == 1
    codes = np.load(out)
    names = (tmp_path / "codes.images.txt").read_text().splitlines()
    assert codes.shape[0] == len(names) == 6
    assert not any("bad" in n for n in names)
    assert (np.abs(codes).sum(axis=1) > 0).all()  # no all-zero rows for unreadable images


def test_saved_descriptors_keep_the_image_names(
    vislang_cli: Callable[..., Any], shape_images: list[Path], tmp_path: Path
) -> None:
    pytest.importorskip("cv2")
    desc, vocab = tmp_path / "desc.safetensors", tmp_path / "vocab.safetensors"
    r = vislang_cli(
        "vocab", *shape_images, *DENSE, "--n-words", 4, "--save-descriptors", desc, "--out", vocab
    )
    assert r.code == 0, r.err
    out = tmp_path / "codes.npy"
    r = vislang_cli("encode", desc, "--quiet", "--vocab", vocab, "--out", out)
    assert r.code == 0, r.err
    names = (tmp_path / "codes.images.txt").read_text().splitlines()
    assert names == [str(p) for p in shape_images]


def test_encode_uses_and_checks_the_vocabulary_extractor(
    vislang_cli: Callable[..., Any], shape_images: list[Path], tmp_path: Path
) -> None:
    pytest.importorskip("cv2")
    vocab = tmp_path / "vocab.safetensors"
    assert vislang_cli("vocab", *shape_images, *DENSE, "--n-words", 4, "--out", vocab).code == 0
    explicit, default = tmp_path / "a.npy", tmp_path / "b.npy"
    r = vislang_cli("encode", *shape_images, *DENSE, "--vocab", vocab, "--out", explicit)
    assert r.code == 0, r.err
    r = vislang_cli("encode", *shape_images, "--quiet", "--vocab", vocab, "--out", default)
    assert r.code == 0, r.err  # dense-sift, step 16: read from the vocabulary
    np.testing.assert_array_equal(np.load(explicit), np.load(default))
    r = vislang_cli(
        "encode", *shape_images, "--extractor", "sift", "--quiet", "--vocab", vocab,
        "--out", tmp_path / "c.npy",
    )  # fmt: skip
    assert r.code == 2
    line = r.error_line()
    assert "--extractor sift" in line and "dense-sift" in line and str(vocab) in line
    r = vislang_cli(
        "encode", *shape_images, "--step", "8", "--quiet", "--vocab", vocab,
        "--out", tmp_path / "d.npy",
    )  # fmt: skip
    assert r.code == 0, r.err
    assert "vislang: warning: --step 8 differs from the vocabulary's step=16" in r.err


def test_npz_vocabulary_records_the_extractor_too(
    vislang_cli: Callable[..., Any], shape_images: list[Path], tmp_path: Path
) -> None:
    pytest.importorskip("cv2")
    from vislang import VisualVocabulary
    from vislang.cli._common import recorded_extractor

    vocab = tmp_path / "vocab.npz"
    assert vislang_cli("vocab", *shape_images, *DENSE, "--n-words", 4, "--out", vocab).code == 0
    assert recorded_extractor(vocab) == {"name": "dense-sift", "max_side": None, "step": 16}
    assert VisualVocabulary.load(vocab).cluster_centers_.shape == (4, 128)


def test_large_vlad_codes_warn_with_their_size(
    vislang_cli: Callable[..., Any],
    shape_images: list[Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("cv2")
    from vislang.cli import _commands

    vocab = tmp_path / "vocab.safetensors"
    assert vislang_cli("vocab", *shape_images, *DENSE, "--n-words", 4, "--out", vocab).code == 0
    monkeypatch.setattr(_commands, "_LARGE_CODES", 10_000)
    r = vislang_cli(
        "encode", *shape_images, "--quiet", "--vocab", vocab, "--encoding", "vlad",
        "--pyramid", "1,2", "--out", tmp_path / "v.npy",
    )  # fmt: skip
    assert r.code == 0, r.err
    assert "2,560 columns per image" in r.err  # 4 words x 128 dims x 5 cells


# ---------------------------------------------------------------------- eval retrieval
@pytest.fixture
def small_embeddings(tmp_path: Path) -> tuple[Path, Path, Path]:
    rng = np.random.default_rng(0)
    img = rng.normal(size=(20, 8)).astype(np.float32)
    t2i = np.repeat(np.arange(20), 2)
    txt = img[t2i] + 0.5 * rng.normal(size=(40, 8)).astype(np.float32)
    paths = tmp_path / "img.npy", tmp_path / "txt.npy", tmp_path / "t2i.npy"
    for p, a in zip(paths, (img, txt, t2i), strict=True):
        np.save(p, a)
    return paths


def test_ks_beyond_the_gallery_is_an_error(
    vislang_cli: Callable[..., Any], small_embeddings: tuple[Path, Path, Path]
) -> None:
    img, txt, t2i = small_embeddings
    args = ("eval", "retrieval", "--images", img, "--texts", txt, "--text-to-image", t2i)
    r = vislang_cli(*args, "--ks", "1,1000")
    assert r.code == 2
    assert "--ks 1000: larger than the 20 images" in r.error_line()
    r = vislang_cli(*args, "--ks", "1,15", "--folds", "2")
    assert r.code == 2 and "10 images per fold (--folds 2)" in r.error_line()
    assert vislang_cli(*args, "--ks", "1,20").code == 0


def test_retrieval_errors_name_the_flags(
    vislang_cli: Callable[..., Any], small_embeddings: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    img, txt, t2i = small_embeddings
    wide = tmp_path / "wide.npy"
    np.save(wide, np.zeros((40, 3), np.float32))
    r = vislang_cli("eval", "retrieval", "--images", img, "--texts", wide, "--text-to-image", t2i)
    assert r.code == 1
    line = r.error_line()
    assert "--images and --texts must have the same dimension" in line
    assert "image_emb" not in line and "text_emb" not in line
    bad = tmp_path / "bad_t2i.npy"
    np.save(bad, np.full(40, 99))
    r = vislang_cli("eval", "retrieval", "--images", img, "--texts", txt, "--text-to-image", bad)
    assert "--text-to-image[0]=99 is not an image index" in r.error_line()


# ---------------------------------------------------------------------- train
def test_train_prints_the_history_as_a_table(
    vislang_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    history = [
        {"epoch": 1.0, "loss": 0.5, "val_rsum": 120.25},
        {"epoch": 2.0, "loss": 0.25, "val_rsum": 150.5},
    ]
    from vislang.train import registry

    real = registry.runner("vse")
    fake = dataclasses.replace(real, run=lambda config, **kw: {"rsum": 151.0, "history": history})
    monkeypatch.setitem(registry._RUNNERS, "vse", fake)
    r = vislang_cli("train", "vse", "--device", "cpu", "--quiet")
    assert r.code == 0, r.err
    assert "{" not in r.out and "'epoch'" not in r.out
    lines = r.out.splitlines()
    header = lines.index("history") + 1
    assert lines[header].split() == ["epoch", "loss", "val_rsum"]
    assert lines[header + 1].split() == ["1", "0.5", "120.2"]
    assert lines[header + 2].split() == ["2", "0.25", "150.5"]
    r = vislang_cli("train", "vse", "--device", "cpu", "--quiet", "--json")
    assert r.json()["history"] == history
