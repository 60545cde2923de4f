"""VSE batches carry the dataset's positives; training logs the similarity spread; VSE++'s
sum-to-max blend."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import torch

from vislang.data import caption_is_true
from vislang.exceptions import InvalidInputError
from vislang.losses import VSELoss
from vislang.losses.functional import contrastive_ranking
from vislang.models import CaptionPairs, TrainConfig, Trainer, Vocabulary, VSEConfig
from vislang.models.vse import VSE, similarity_spread


def _pairs(shapes: Any, pixel_features: Any, **kw: Any) -> tuple[Any, CaptionPairs]:
    train = shapes.select("train")
    return train, CaptionPairs.from_dataset(train, pixel_features(train.images), **kw)


def _model(pairs: CaptionPairs, **cfg: Any) -> VSE:
    vocab = Vocabulary.build(pairs.captions)
    feat = int(np.asarray(pairs.images).shape[1])
    return VSE(vocab, VSEConfig(feature_dim=feat, word_dim=8, embed_dim=16, **cfg))


def test_batches_mark_captions_true_of_other_images(shapes: Any, pixel_features: Any) -> None:
    train, pairs = _pairs(shapes, pixel_features, positives=True)
    assert pairs.positives is not None
    model = _model(pairs)
    gen = torch.Generator().manual_seed(0)
    order = torch.randperm(len(pairs.captions), generator=gen).numpy()[:64]
    batch = next(model.batches(pairs, 64, torch.Generator().manual_seed(0)))
    mask = batch["positives"].numpy()
    uniq = np.unique(pairs.text_to_image[order])
    want = np.array(
        [[caption_is_true(pairs.captions[j], train.annotations[i]) for j in order] for i in uniq]
    )
    np.testing.assert_array_equal(mask, want)
    same = uniq[:, None] == pairs.text_to_image[order][None, :]
    assert (mask & ~same).any(), "the shapes world has captions true of several images"
    # Without the dataset's positives: the same-image mask only.
    plain = next(
        model.batches(replace(pairs, positives=None), 64, torch.Generator().manual_seed(0))
    )
    np.testing.assert_array_equal(plain["positives"].numpy(), same)
    _, off = _pairs(shapes, pixel_features)  # opt-in
    assert off.positives is None


def test_batches_check_the_positives_shape(shapes: Any, pixel_features: Any) -> None:
    _, pairs = _pairs(shapes, pixel_features, positives=True)
    bad = replace(pairs, positives=lambda i, j: np.zeros((len(i), len(j) + 1), dtype=bool))
    with pytest.raises(InvalidInputError, match=r"positives\(images, captions\) must have shape"):
        next(_model(pairs).batches(bad, 16, torch.Generator().manual_seed(0)))


def test_similarity_spread_of_collapsed_and_separated_spaces() -> None:
    same = torch.nn.functional.normalize(torch.ones(4, 3), dim=1)
    collapsed = similarity_spread(same, same, torch.eye(4, dtype=torch.bool))
    assert collapsed["sim_std"] == pytest.approx(0.0, abs=1e-6)
    assert collapsed["gap_mean"] == pytest.approx(0.0, abs=1e-6)
    eye = torch.eye(4)
    apart = similarity_spread(eye, eye, torch.eye(4, dtype=torch.bool))
    assert apart["gap_mean"] == pytest.approx(1.0) and apart["gap_std"] == pytest.approx(0.0)
    assert apart["pos_sim"] == pytest.approx(1.0) and apart["neg_sim"] == pytest.approx(0.0)
    # A negative closer than the positive gives a negative gap.
    txt = torch.tensor([[0.0, 1.0, 0, 0], [1.0, 0, 0, 0], [0, 0, 1.0, 0], [0, 0, 0, 1.0]])
    swapped = similarity_spread(eye, txt, torch.eye(4, dtype=torch.bool))
    assert swapped["gap_mean"] == pytest.approx((-1 - 1 + 1 + 1) / 4)


def test_training_history_logs_the_spread(shapes: Any, pixel_features: Any) -> None:
    _, pairs = _pairs(shapes, pixel_features)
    torch.manual_seed(0)
    model = _model(pairs, loss="vse++")
    cfg = TrainConfig(epochs=2, batch_size=32, max_steps_per_epoch=3)
    history = Trainer(model, pairs, None, cfg, device="cpu", progress=False).fit()
    for rec in history:
        for key in ("train_sim_std", "train_pos_sim", "train_neg_sim", "train_gap_mean"):
            assert np.isfinite(rec[key]), key
        assert -2.0 <= rec["train_gap_mean"] <= 2.0
        assert rec["train_sim_std"] > 0


def _scores(n: int = 6) -> torch.Tensor:
    return torch.randn(n, n, generator=torch.Generator().manual_seed(3), dtype=torch.float64)


def test_blend_weights_and_value() -> None:
    loss = VSELoss(0.2, max_violation=True, warmup_steps=2, blend_steps=3)
    s = _scores()
    n_neg = 5.0  # 6 x 6 with the diagonal: 30 negatives for 6 positives
    weights = []
    for _ in range(7):
        a = loss.hard_weight
        weights.append(a)
        got = loss.forward_scores(s)
        total = contrastive_ranking(s, margin=0.2)
        hard = contrastive_ranking(s, margin=0.2, max_violation=True)
        want = total if a == 0 else (1 - a) * total / n_neg + a * hard
        torch.testing.assert_close(got, want)
    assert weights == [0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    assert int(loss.num_steps) == 7


def test_blend_uses_the_positives_mask_count() -> None:
    loss = VSELoss(0.2, max_violation=True, blend_steps=1)  # a = 0.5 at the first step
    img = torch.nn.functional.normalize(
        torch.randn(3, 4, generator=torch.Generator().manual_seed(1))
    )
    txt = torch.nn.functional.normalize(
        torch.randn(5, 4, generator=torch.Generator().manual_seed(2))
    )
    pos = torch.tensor([[1, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 1]], dtype=torch.bool)
    got = loss(img, txt, pos)
    s = img @ txt.t()
    total = contrastive_ranking(s, pos, 0.2)
    hard = contrastive_ranking(s, pos, 0.2, max_violation=True)
    torch.testing.assert_close(got, 0.5 * total / (10 / 5) + 0.5 * hard)


def test_blend_to_keeps_a_share_of_the_sum() -> None:
    loss = VSELoss(0.2, max_violation=True, blend_steps=1, blend_to=0.5)
    loss.forward_scores(_scores())  # the one blend step
    assert loss.hard_weight == 0.5  # reached after blend_steps, and stays
    s = _scores()
    got = loss.forward_scores(s)
    total = contrastive_ranking(s, margin=0.2)
    hard = contrastive_ranking(s, margin=0.2, max_violation=True)
    torch.testing.assert_close(got, 0.5 * total / 5.0 + 0.5 * hard)
    # A collapsed space costs the margin per query in both terms: the loss is 2 * B * margin.
    flat = torch.zeros(6, 6, dtype=torch.float64)
    torch.testing.assert_close(loss.forward_scores(flat), torch.tensor(2 * 6 * 0.2).double())


def test_blend_option_errors() -> None:
    with pytest.raises(InvalidInputError, match=r"blend_to: must be in \(0, 1\], got 0"):
        VSELoss(max_violation=True, blend_to=0)
    with pytest.raises(InvalidInputError, match="blend_steps: must be >= 0, got -1"):
        VSELoss(max_violation=True, blend_steps=-1)
    with pytest.raises(InvalidInputError, match="blend_steps: needs max_violation=True"):
        VSELoss(blend_steps=3)


def test_vsepp_default_keeps_half_the_sum_and_old_checkpoints_keep_pure_max() -> None:
    vocab = Vocabulary.build(["a red circle", "a blue square"])
    model = VSE(vocab, VSEConfig(feature_dim=4, word_dim=4, embed_dim=6))
    assert isinstance(model.criterion, VSELoss)
    assert model.criterion.max_violation and model.criterion.blend_to == 0.5
    old = model.config_dict()
    del old["model"]["blend_to"]  # as written before the option existed
    assert VSE.from_config_dict(old).criterion.blend_to == 1.0
    assert VSE.from_config_dict(model.config_dict()).criterion.blend_to == 0.5
