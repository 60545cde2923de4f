"""Grounded sentence encoders (Kiela et al. 2018): BiLSTM-max encoding, the three objectives'
batches and losses, GloVe initialisation, the text-only vectors and GroundSent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vislang.exceptions import InvalidInputError
from vislang.models import (
    CaptionPairs,
    GroundedSentenceModel,
    GroundSent,
    MeanWordVectors,
    SentenceEncoder,
    SentenceEncoderConfig,
    TrainConfig,
    Trainer,
    Vocabulary,
    create_model,
    list_models,
    load_model,
    save_checkpoint,
)

CAPS = ["a red circle", "a blue square", "two green triangles", "a small red circle"]


def _encoder(kind: str = "lstm") -> SentenceEncoder:
    torch.manual_seed(0)
    return SentenceEncoder(Vocabulary.build(CAPS), SentenceEncoderConfig(kind, 5, 4))


def test_registered_as_the_sentence_family() -> None:
    assert set(list_models("sentence")) >= {"cap2img", "cap2cap", "cap2both"}


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_encoding_is_the_max_over_time_and_ignores_padding(kind: str) -> None:
    enc = _encoder(kind)
    both = enc.encode(["a red circle", "two green triangles a small red circle"])
    alone = enc.encode(["a red circle"])
    assert both.dtype == np.float32 and both.shape == (2, 8)
    np.testing.assert_allclose(both[0], alone[0], rtol=1e-5, atol=1e-6)
    # the same max-pool by hand: run the RNN on the unpadded sentence
    ids, _ = enc.vocab.encode(["two green triangles a small red circle"])
    with torch.no_grad():
        states, _ = enc.rnn(enc.embed(torch.from_numpy(ids)))
    np.testing.assert_allclose(both[1], states[0].amax(0).numpy(), rtol=1e-5, atol=1e-6)
    # batching does not change the vectors
    np.testing.assert_allclose(enc.encode(CAPS, batch_size=1), enc.encode(CAPS), atol=1e-6)


def test_encode_rejects_bad_sentences() -> None:
    enc = _encoder()
    with pytest.raises(InvalidInputError, match=r"sentences\[1\] has no word"):
        enc.encode(["a red circle", "  ...  "])
    with pytest.raises(InvalidInputError, match="one string"):
        enc.encode("a red circle")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="empty list"):
        enc.encode([])
    # only unknown words: encoded from <unk>, the same vector for any such sentence
    unk = enc.encode(["zebra", "giraffe"])
    np.testing.assert_array_equal(unk[0], unk[1])


def test_glove_initialisation_copies_the_vectors() -> None:
    vocab = Vocabulary.build(CAPS)
    words = ["red", "circle", "unused"]
    vectors = np.arange(9, dtype=np.float32).reshape(3, 3)
    enc = SentenceEncoder(
        vocab, SentenceEncoderConfig("lstm", 50, 2), word_vectors=(vectors, words)
    )
    assert enc.config.word_dim == 3
    w = enc.embed.weight.detach().numpy()
    np.testing.assert_array_equal(w[vocab.index["red"]], vectors[0])
    np.testing.assert_array_equal(w[vocab.index["circle"]], vectors[1])
    assert not w[0].any()  # <pad>


def _pairs() -> CaptionPairs:
    feats = np.eye(3, 7, dtype=np.float32)
    caps = ["a red one", "red thing", "a blue one", "blue thing", "a green one", "lonely"]
    return CaptionPairs(feats, caps, np.array([0, 0, 1, 1, 2, 2]))


def test_cap2cap_targets_are_other_captions_of_the_image() -> None:
    pairs = _pairs()
    for target in ("other", "self"):
        model = create_model("cap2cap", captions=pairs.captions, word_dim=4, hidden_dim=3,
                             target=target)  # fmt: skip
        batch = next(model.batches(pairs, 6, torch.Generator().manual_seed(1)))
        ids, _ = model.vocab.encode(pairs.captions)
        rows = {tuple(r[r > 0]): j for j, r in enumerate(ids)}
        src = [rows[tuple(r[r > 0].tolist())] for r in batch["ids"].numpy()]
        tgt = [rows[tuple(r[r > 0].tolist())] for r in batch["target_ids"].numpy()]
        for s, t in zip(src, tgt, strict=True):
            if target == "self":
                assert s == t
            else:
                assert s != t and pairs.text_to_image[s] == pairs.text_to_image[t]
        assert "images" not in batch


def test_cap2img_batches_mark_the_positive_images() -> None:
    pairs = _pairs()
    model = create_model("cap2img", captions=pairs.captions, word_dim=4, hidden_dim=3,
                         feature_dim=7)  # fmt: skip
    batch = next(model.batches(pairs, 4, torch.Generator().manual_seed(0)))
    pos = batch["positives"].numpy()
    assert pos.shape == (batch["images"].shape[0], 4) and (pos.sum(0) == 1).all()
    assert "target_ids" not in batch
    with pytest.raises(InvalidInputError, match="does not predict images"):
        create_model("cap2cap", captions=pairs.captions).predict_image_features(["a"])


def test_cap2both_weights_the_caption_loss() -> None:
    pairs = _pairs()
    dev = torch.device("cpu")
    losses = []
    for w in (0.0, 1.0):
        torch.manual_seed(0)
        model = create_model("cap2both", captions=pairs.captions, word_dim=4, hidden_dim=3,
                             feature_dim=7, cap_weight=w)  # fmt: skip
        batch = next(model.batches(pairs, 6, torch.Generator().manual_seed(0)))
        losses.append(float(model.training_loss(batch, dev).detach()))
        stats = model.batch_stats
    assert losses[0] == pytest.approx(stats["img_loss"], rel=1e-5)
    assert losses[1] == pytest.approx(stats["img_loss"] + stats["cap_loss"], rel=1e-5)


def test_cap2img_learns_to_rank_images(tmp_path: Path) -> None:
    """Colour words -> one-hot colour features: after training, each caption retrieves its
    own image and the checkpoint encodes the same vectors."""
    rng = np.random.default_rng(0)
    colours = ["red", "blue", "green", "yellow", "purple", "orange"]
    shapes_ = ["circle", "square", "star"]
    feats, caps, t2i = [], [], []
    for i, c in enumerate(colours * 2):
        f = np.zeros(12, np.float32)
        f[colours.index(c)] = 1.0
        f[6 + rng.integers(6)] += 0.3
        feats.append(f)
        for _ in range(2):
            caps.append(f"a {c} {shapes_[rng.integers(3)]}")
            t2i.append(i)
    pairs = CaptionPairs(np.stack(feats), caps, np.array(t2i))
    torch.manual_seed(0)
    model = create_model("cap2img", captions=caps, word_dim=8, hidden_dim=8, feature_dim=12)
    before = model.evaluate(pairs)
    Trainer(model, pairs, None, TrainConfig(epochs=25, batch_size=8, lr=1e-2), device="cpu",
            progress=False).fit()  # fmt: skip
    after = model.evaluate(pairs)
    # two images share each colour: R@2 (here R@5) is what can reach 100
    assert before["t2i_r5"] < 80.0 and after["t2i_r5"] == 100.0
    assert after["rsum"] > before["rsum"]
    save_checkpoint(tmp_path / "m", model)
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded, GroundedSentenceModel)
    np.testing.assert_allclose(loaded.encode(caps), model.encode(caps), atol=1e-6)


def test_mean_word_vectors() -> None:
    words = ["red", "circle", "blue"]
    vectors = np.array([[1, 0], [0, 1], [2, 2]], dtype=np.float32)
    mean = MeanWordVectors((vectors, words))
    np.testing.assert_allclose(mean.encode(["a red circle", "blue"]), [[0.5, 0.5], [2, 2]])
    with pytest.raises(InvalidInputError, match=r"sentences\[1\] has only unknown words"):
        mean.encode(["red", "zebra giraffe"])
    with pytest.raises(InvalidInputError, match=r"sentences\[0\] has no word"):
        mean.encode([""])
    zero = MeanWordVectors((vectors, words), missing="zero").encode(["zebra"])
    assert zero.shape == (1, 2) and not zero.any()
    # restricted to a vocabulary: 'blue' is not in it
    restricted = MeanWordVectors((vectors, words), vocab=Vocabulary.build(["red circle"]))
    with pytest.raises(InvalidInputError, match="only unknown words"):
        restricted.encode(["blue"])


def test_groundsent_concatenates_normalised_parts() -> None:
    enc = _encoder()
    mean = MeanWordVectors((np.eye(3, dtype=np.float32), ["red", "blue", "circle"]))
    gs = GroundSent(enc, mean)
    out = gs.encode(["a red circle", "blue"])
    assert out.shape == (2, 8 + 3)
    np.testing.assert_allclose(np.linalg.norm(out[:, :8], axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(out[:, 8:], mean.encode(["a red circle", "blue"]) /
                               np.linalg.norm(mean.encode(["a red circle", "blue"]), axis=1,
                                              keepdims=True), rtol=1e-6)  # fmt: skip
    raw = GroundSent(enc, lambda s: np.ones((len(s), 2)), normalize=False)
    np.testing.assert_allclose(raw.encode(["red"])[:, :8], enc.encode(["red"]), atol=1e-6)
    bad = GroundSent(enc, lambda s: np.ones((len(s) + 1, 2)))
    with pytest.raises(InvalidInputError, match="returned shape"):
        bad.encode(["red"])
