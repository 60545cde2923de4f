"""Captioning inputs: GloVe-style word-vector initialisation of the decoder and precomputed
grids passed as memory-mapped arrays (training reads the rows of each batch only)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import vislang.models.captioning as captioning
from vislang.exceptions import InvalidInputError
from vislang.models import CaptionPairs, TrainConfig, Trainer
from vislang.models.captioning import (
    CaptionConfig,
    ShowAndTell,
    ShowAttendTell,
    caption_vocabulary,
)
from vislang.train.captioning import CaptionSplit, train_captioner

CAPS = ["a red circle", "a blue square", "the red square", "one green circle"]


def _vectors(dim: int = 6) -> tuple[np.ndarray, list[str]]:
    words = ["red", "blue", "square", "circle", "zebra"]
    vecs = np.arange(len(words) * dim, dtype=np.float32).reshape(len(words), dim) / 10
    return vecs, words


@pytest.mark.parametrize("cls", [ShowAndTell, ShowAttendTell])
def test_word_vectors_initialise_the_decoder_embeddings(cls: type) -> None:
    vocab = caption_vocabulary(CAPS)
    model = cls(vocab, CaptionConfig(feature_dim=8, word_dim=6, hidden_dim=8, attention_dim=4))
    vecs, words = _vectors()
    found = model.init_word_vectors((vecs, words))
    assert found == 4  # red, blue, square, circle (zebra is not in the vocabulary)
    emb = model.embed.weight.detach().numpy()
    for w, v in zip(words[:4], vecs[:4], strict=True):
        np.testing.assert_array_equal(emb[vocab.index[w]], v)
    assert not emb[0].any()  # <pad>
    with pytest.raises(InvalidInputError, match="dimension 6 but word_dim is 5"):
        cls(vocab, CaptionConfig(feature_dim=8, word_dim=5)).init_word_vectors((vecs, words))


def test_train_captioner_takes_word_vectors_and_their_dimension() -> None:
    feats = torch.randn(4, 3, 8, generator=torch.Generator().manual_seed(0))
    pairs = CaptionPairs(feats, CAPS, np.arange(4))
    split = CaptionSplit(pairs, None, [[c] for c in CAPS])
    vecs, words = _vectors(dim=7)
    model, _ = train_captioner(
        "show-attend-tell",
        split,
        config=CaptionConfig(word_dim=32, hidden_dim=8, attention_dim=4),
        train_config=TrainConfig(epochs=1, batch_size=4),
        device="cpu",
        progress=False,
        word_vectors=(vecs, words),
    )
    assert model.config.word_dim == 7
    assert model.embed.weight.shape == (len(model.vocab), 7)


def test_runner_word_vectors_option_names_a_missing_file(tmp_path: Any) -> None:
    from vislang.train.registry import runner

    r = runner("show-attend-tell")
    cfg = r.resolve({"model": {"word_vectors": str(tmp_path / "nope.txt")}, "data": {"n_train": 4}})
    with pytest.raises(InvalidInputError, match="not found"):
        r.run(cfg, device="cpu", progress=False)


@pytest.mark.parametrize("cls", [ShowAndTell, ShowAttendTell])
def test_memory_mapped_grids_train_reading_only_batch_rows(
    cls: type, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Grids saved with np.save and opened with mmap_mode="r" (float16, as the Flickr8k cache
    stores them): training batches read only their rows from the map, never a full copy."""
    rng = np.random.default_rng(0)
    shape = (40, 5, 8) if cls.uses_grid else (40, 8)
    np.save(tmp_path / "grids.npy", rng.normal(size=shape).astype(np.float16))
    grids = np.load(tmp_path / "grids.npy", mmap_mode="r")
    assert isinstance(grids, np.memmap)
    caps = [CAPS[i % 4] for i in range(80)]
    pairs = CaptionPairs(grids, caps, np.repeat(np.arange(40), 2))
    calls: list[tuple[bool, int]] = []
    rows = captioning._rows

    def spy(images: Any, idx: np.ndarray) -> torch.Tensor:
        calls.append((isinstance(images, np.memmap), len(idx)))
        return rows(images, idx)

    monkeypatch.setattr(captioning, "_rows", spy)
    model = cls(caption_vocabulary(CAPS), CaptionConfig(feature_dim=8, hidden_dim=8, word_dim=8))
    cfg = TrainConfig(epochs=1, batch_size=16, seed=0)
    history = Trainer(model, pairs, None, cfg, device="cpu", progress=False).fit()
    assert np.isfinite(history[0]["loss"])
    assert calls and all(mm for mm, _ in calls)  # the map itself, not a copied array
    assert max(n for _, n in calls) == 16 and sum(n for _, n in calls) == 80
    # A batch's rows equal the map's rows (float16 -> float32), no full conversion.
    got = rows(grids, np.array([3, 7]))
    np.testing.assert_array_equal(got.numpy(), np.asarray(grids[[3, 7]], dtype=np.float32))
    # Captioning a memory map works too.
    assert len(model.caption(grids[:3] if cls.uses_grid else np.asarray(grids[:3]), beam=2)) == 3
