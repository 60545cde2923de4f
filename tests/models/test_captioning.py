"""Captioning models: beam search against exhaustive search, decoding edge cases, bad input,
training steps, checkpoints."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from vislang.exceptions import CheckpointError, InvalidInputError
from vislang.models import CaptionPairs, TrainConfig, Trainer, load_model, save_checkpoint
from vislang.models.captioning import (
    CaptionConfig,
    ShowAndTell,
    ShowAttendTell,
    beam_search,
    caption_vocabulary,
    greedy_search,
)
from vislang.models.registry import create_model, list_models

END = 3
EMITTABLE = (1, 4, 5)  # <unk>, w4, w5 (never <pad>=0 or <start>=2)


def markov_step(table: torch.Tensor):  # type: ignore[no-untyped-def]
    """A step function whose log-probabilities depend on (position, previous token)."""

    def step(tokens: torch.Tensor, state: dict[str, torch.Tensor]):  # type: ignore[no-untyped-def]
        pos = state["pos"]
        logp = table[pos.clamp(max=table.shape[0] - 1), tokens]
        return logp, {"pos": pos + 1}, None

    return step


def exhaustive(table: torch.Tensor, max_length: int, length_penalty: float) -> list[int]:
    best, best_seq = -math.inf, None
    for n in range(max_length + 1):
        for words in itertools.product(EMITTABLE, repeat=n):
            prev, lp = 2, 0.0
            for t, w in enumerate((*words, END)):
                lp += float(table[min(t, table.shape[0] - 1), prev, w])
                prev = w
            score = lp / (n + 1) ** length_penalty
            if score > best:
                best, best_seq = score, list(words)
    assert best_seq is not None
    return best_seq


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
def test_beam_search_equals_exhaustive_search_with_a_wide_beam(
    seed: int, length_penalty: float
) -> None:
    g = torch.Generator().manual_seed(seed)
    max_length = 3
    table = torch.log_softmax(torch.randn(max_length + 1, 6, 6, generator=g) * 2, dim=-1)
    state = {"pos": torch.zeros(2, dtype=torch.long)}
    # 3 emittable words: a beam of 27 keeps every live prefix, so the search is exact.
    ids, _ = beam_search(markov_step(table), state, 27, max_length, length_penalty)
    want = exhaustive(table, max_length, length_penalty)
    assert ids == [want, want]


def test_beam_of_one_is_greedy() -> None:
    g = torch.Generator().manual_seed(0)
    table = torch.log_softmax(torch.randn(6, 6, 6, generator=g), dim=-1)
    state = {"pos": torch.zeros(3, dtype=torch.long)}
    greedy, _ = greedy_search(markov_step(table), dict(state), 5)
    beam, _ = beam_search(markov_step(table), dict(state), 1, 5)
    assert greedy == beam


def test_a_beam_that_never_ends_returns_its_best_partial_caption() -> None:
    g = torch.Generator().manual_seed(1)
    table = torch.log_softmax(torch.randn(4, 6, 6, generator=g), dim=-1)
    table[:, :, END] = -math.inf
    ids, _ = beam_search(markov_step(table), {"pos": torch.zeros(1, dtype=torch.long)}, 3, 3)
    assert len(ids[0]) == 3
    # The best 3-word prefix under the same scores.
    best = max(
        itertools.product(EMITTABLE, repeat=3),
        key=lambda w: sum(
            float(table[t, p, x]) for t, (p, x) in enumerate(zip((2, *w), w, strict=False))
        ),
    )
    assert ids[0] == list(best)
    model = ShowAttendTell.example()
    with torch.no_grad():
        model.L_o.bias[END] = -1e9
    caps = model.caption(torch.randn(2, 4, 8), beam=3, max_length=4)
    assert [len(c.split()) for c in caps] == [4, 4]


@pytest.mark.parametrize("cls", [ShowAndTell, ShowAttendTell])
def test_bad_decoding_arguments(cls: type) -> None:
    model = cls.example()
    x = torch.randn(1, 4, 8) if cls is ShowAttendTell else torch.randn(1, 8)
    n_words = len(model.vocab) - 2
    with pytest.raises(InvalidInputError, match=r"beam must be >= 1, got 0"):
        model.caption(x, beam=0)
    with pytest.raises(
        InvalidInputError, match=rf"beam={n_words + 1} is larger than the {n_words}"
    ):
        model.caption(x, beam=n_words + 1)
    with pytest.raises(InvalidInputError, match=r"max_length must be >= 1, got 0"):
        model.caption(x, max_length=0)
    with pytest.raises(InvalidInputError, match=r"features must have shape"):
        model.caption(torch.randn(1, 5))


def test_captions_of_only_unknown_words_are_named() -> None:
    model = ShowAndTell.example()
    data = CaptionPairs(torch.randn(2, 8), ["a red circle", "zebra xylophone"], np.arange(2))
    with pytest.raises(InvalidInputError, match=r"caption 1 \('zebra xylophone'\) has no word"):
        next(iter(model.batches(data, 2, torch.Generator())))


@pytest.mark.parametrize("name", ["show-and-tell", "show-attend-tell"])
def test_registered_models_train_and_round_trip(name: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert name in list_models("captioning")
    vocab = caption_vocabulary(["a red circle", "a blue square"])
    model = create_model(
        name,
        vocab=vocab,
        config=CaptionConfig(feature_dim=8, word_dim=6, hidden_dim=10, attention_dim=5),
    )
    batch = type(model).example_batch(model)
    loss = model.training_loss(batch, torch.device("cpu"))
    loss.backward()
    assert torch.isfinite(loss)
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    save_checkpoint(tmp_path / "m", model)
    back = load_model(tmp_path / "m", expected_type=name)
    x = torch.randn(2, 4, 8) if name == "show-attend-tell" else torch.randn(2, 8)
    assert back.caption(x, beam=2) == model.caption(x, beam=2)
    other = "show-and-tell" if name == "show-attend-tell" else "show-attend-tell"
    with pytest.raises(CheckpointError, match=rf"holds a '{name}' model, expected '{other}'"):
        load_model(tmp_path / "m", expected_type=other)


def test_soft_attention_maps_are_distributions_and_regulariser_counts() -> None:
    model = ShowAttendTell.example(alpha_c=0.0)
    caps, alphas = model.caption(torch.randn(3, 4, 8), beam=2, return_attention=True)
    for c, a in zip(caps, alphas, strict=True):
        assert a.shape == (len(c.split()) + 1, 4)
        np.testing.assert_allclose(a.sum(1), 1.0, rtol=1e-5)
    batch = ShowAttendTell.example_batch(model)
    base = float(model.training_loss(batch, torch.device("cpu")).detach())
    model.config.alpha_c = 1.0
    assert float(model.training_loss(batch, torch.device("cpu")).detach()) > base


def test_hard_attention_trains_with_reinforce() -> None:
    torch.manual_seed(0)
    model = ShowAttendTell.example(attention="hard")
    batch = ShowAttendTell.example_batch(model)
    model.train()
    loss = model.training_loss(batch, torch.device("cpu"))
    loss.backward()
    assert model.att_score.weight.grad is not None
    assert float(model.baseline) != 0.0  # moving average moved towards log p(y|s)


def test_trainer_learns_to_caption_two_images() -> None:
    torch.manual_seed(0)
    feats = torch.eye(2, 8).unsqueeze(1).repeat(1, 4, 1)  # two distinct images, 4 locations
    caps = ["a red circle", "a blue square"]
    data = CaptionPairs(feats, caps * 4, np.array([0, 1] * 4))
    model = ShowAttendTell(
        caption_vocabulary(caps),
        CaptionConfig(feature_dim=8, word_dim=16, hidden_dim=32, attention_dim=16, dropout=0.0),
    )
    cfg = TrainConfig(epochs=40, batch_size=8, lr=1e-2, schedule="constant", seed=0)
    Trainer(model, data, data, cfg, device="cpu", progress=False).fit()
    assert model.caption(feats, beam=2) == caps
    metrics = model.evaluate(data)
    # 3-word captions have no 4-grams: BLEU-4 is (1e-15 / 1e-9) ** (1 / 4) by the smoothing.
    assert metrics["bleu3"] == pytest.approx(1.0, abs=1e-6)
    assert metrics["bleu4"] == pytest.approx(1e-6**0.25, rel=1e-6)
    assert metrics["rouge_l"] == pytest.approx(1.0)
    assert metrics["rsum"] == pytest.approx(100 * metrics["cider_d"])
