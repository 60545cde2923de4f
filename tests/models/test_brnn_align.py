"""BRNN word-region alignment (Karpathy & Fei-Fei 2015): the score formulas, the alignment map
(and its defined result when no region scores above 0), the fragment objective, score-matrix
retrieval metrics, and alignment correctness above chance on the shapes world."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from vislang.eval import retrieval_metrics
from vislang.eval.alignment import alignment_correctness, plot_alignment, score_retrieval_metrics
from vislang.exceptions import InvalidInputError
from vislang.models import CaptionPairs, TrainConfig, Trainer, create_model
from vislang.models.brnn_align import pixel_grid

CAPTIONS = ["a red circle", "a blue square left of a green circle", "the yellow diamond"]


def _model(**kw: Any) -> Any:
    torch.manual_seed(0)
    config = {"feature_dim": 5, "embed_dim": 6, "word_dim": 4, "hidden_dim": 7, **kw}
    return create_model("brnn-align", captions=CAPTIONS, **config)


@pytest.mark.parametrize("score", ["max", "max_relu", "sum_relu"])
def test_scores_follow_the_formulas(score: str) -> None:
    model = _model(score=score).eval()
    grids = torch.randn(2, 4, 5)
    got = model.scores(grids, CAPTIONS)
    with torch.no_grad():
        v = model.encode_regions(grids).numpy()  # (2, 5, D): 4 cells + whole image
        assert v.shape == (2, 5, 6)
        np.testing.assert_allclose(v[:, 4], model.region_fc(grids.mean(1)).numpy(), rtol=1e-5)
        want = np.zeros((2, 3))
        for j, c in enumerate(CAPTIONS):
            s, _ = model.encode_words([c])
            s = s[0].numpy()  # (T, D)
            for i in range(2):
                dots = s @ v[i].T  # (T, R)
                if score == "max":
                    want[i, j] = dots.max(1).sum()
                elif score == "max_relu":
                    want[i, j] = np.maximum(dots.max(1), 0).sum()
                else:
                    want[i, j] = np.maximum(dots, 0).sum()
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-5)


def test_align_without_a_positive_region_is_defined() -> None:
    model = _model(score="max_relu")
    with torch.no_grad():  # every region vector is -1: words (ReLU, >= 0) score <= 0
        model.region_fc.weight.zero_()
        model.region_fc.bias.fill_(-1.0)
    grid = torch.randn(9, 5)
    al = model.align(grid, "a red circle")
    assert al.words == ["a", "red", "circle"] and al.scores.shape == (3, 10)
    assert al.grid == (3, 3)
    assert (al.scores <= 0).all() and (al.best == -1).all()
    assert float(model.scores(grid[None], ["a red circle"])[0, 0]) == 0.0
    path = plot_alignment(np.zeros((12, 12, 3), np.uint8), al.words, al.scores, al.grid)
    assert path is not None  # a figure, every word drawn as "no region"


def test_fragment_objective_trains() -> None:
    model = _model(objective="fragment")
    grids = np.random.default_rng(0).normal(size=(3, 4, 5)).astype(np.float32)
    pairs = CaptionPairs(grids, CAPTIONS, np.arange(3))
    batch = next(model.batches(pairs, 3, torch.Generator().manual_seed(0)))
    loss = model.training_loss(batch, torch.device("cpu"))
    loss.backward()
    assert torch.isfinite(loss.detach()) and float(model.region_fc.weight.grad.abs().sum()) > 0
    with pytest.raises(InvalidInputError, match="objective"):
        _model(objective="triplet")


def test_score_metrics_match_embedding_metrics() -> None:
    rng = np.random.default_rng(0)
    img, txt = rng.normal(size=(6, 4)), rng.normal(size=(13, 4))
    t2i = rng.integers(0, 6, size=13)
    t2i[:6] = np.arange(6)
    want = retrieval_metrics(img, txt, t2i)
    got = score_retrieval_metrics(img @ txt.T, t2i)
    for key, value in want.items():
        assert got[key] == pytest.approx(value), key
    with pytest.raises(InvalidInputError, match="scores must have shape"):
        score_retrieval_metrics(np.zeros((3, 2)), t2i)


def test_alignment_beats_chance_on_the_shapes_world(tmp_path: Path) -> None:
    """After a few epochs on 200 shapes images (8 x 8 pixel-cell regions), the top cell of
    each colour/shape word lies on the object it names far more often than chance."""
    from vislang.data import make_shapes

    ds = make_shapes(200, 20, 40, 0, max_objects=2, seed=0)
    data, scenes = {}, {}
    for split in ("train", "val", "test"):
        sub = ds.select(split)
        data[split] = CaptionPairs.from_dataset(sub, pixel_grid(sub.images))
        scenes[split] = sub.annotations
    torch.manual_seed(0)
    model = create_model(
        "brnn-align", captions=data["train"].captions, feature_dim=12, embed_dim=32,
        word_dim=16, hidden_dim=32,
    )  # fmt: skip
    cfg = TrainConfig(epochs=3, batch_size=50, lr=3e-3, seed=0)
    Trainer(model, data["train"], data["val"], cfg, progress=False).fit()
    test = data["test"]
    pairs = zip(test.captions, test.text_to_image, strict=True)
    al = [model.align(test.images[i], c) for c, i in pairs]
    result = alignment_correctness(
        [a.words for a in al],
        [a.scores for a in al],
        [scenes["test"][i] for i in test.text_to_image],
        (8, 8),
    )
    assert result.n_words > 100
    assert result.chance < 0.2
    assert result.hit_rate > 2 * result.chance, str(result)
    png = plot_alignment(ds.select("test").images[0], al[0].words, al[0].scores, (8, 8),
                         tmp_path / "a.png")  # fmt: skip
    assert Path(png).stat().st_size > 1000
