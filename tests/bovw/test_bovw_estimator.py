"""``BagOfVisualWords`` in scikit-learn pipelines, and ``draw_visual_words``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

import vislang
from vislang.bovw import BagOfVisualWords, draw_visual_words
from vislang.features import DenseSIFT


def stripes(n: int, seed: int = 0) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """32 x 32 images: class 0 horizontal stripes, class 1 vertical, random period and phase."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    yy, xx = np.mgrid[:32, :32]
    images = np.empty((n, 32, 32), np.uint8)
    for i in range(n):
        period = rng.uniform(4, 8)
        coord = yy if y[i] == 0 else xx
        img = 127 + 100 * np.sin(2 * np.pi * coord / period + rng.uniform(0, 2 * np.pi))
        images[i] = np.clip(img + rng.normal(0, 10, img.shape), 0, 255).astype(np.uint8)
    return images, y


def _bovw(**kw: Any) -> BagOfVisualWords:
    return BagOfVisualWords(
        DenseSIFT(step=8, sizes=(4, 6), n_jobs=1), n_words=12, random_state=0, n_jobs=1, **kw
    )


def test_pipeline_with_linear_svc_classifies_stripes() -> None:
    X, y = stripes(40)
    Xt, yt = stripes(20, seed=1)
    pipe = Pipeline([("bovw", _bovw()), ("svm", LinearSVC(C=10.0))]).fit(X, y)
    assert pipe.score(Xt, yt) >= 0.9


def test_grid_search_over_encodings() -> None:
    X, y = stripes(24)
    pipe = Pipeline([("bovw", _bovw()), ("svm", LinearSVC())])
    grid = {"bovw__encoding": ["hard", "soft"], "bovw__pyramid": [(1,), (1, 2)]}
    search = GridSearchCV(pipe, grid, cv=2).fit(X, y)
    assert search.best_score_ >= 0.8
    assert set(search.cv_results_["param_bovw__encoding"]) == {"hard", "soft"}


@pytest.mark.parametrize(
    ("kw", "width"),
    [
        ({}, 12),
        ({"encoding": "soft", "k": 3, "pyramid": (1, 2)}, 60),
        ({"encoding": "vlad", "norm": "power"}, 12 * 128),
        ({"weighting": "tfidf", "norm": "l1"}, 12),
    ],
)
def test_fit_transform_matches_fit_then_transform(kw: dict[str, Any], width: int) -> None:
    X, _ = stripes(8)
    a = _bovw(**kw)
    Xa = a.fit_transform(X)
    b = clone(a).fit(X)
    np.testing.assert_array_equal(Xa, b.transform(X))
    assert Xa.shape == (8, width) == (8, a.n_features_out_) and Xa.dtype == np.float32
    assert a.cluster_centers_.shape == (12, 128)
    if kw.get("encoding") == "soft":
        assert a.sigma_ is not None and a.sigma_ > 0
    if kw.get("weighting") == "tfidf":
        assert a.idf_ is not None and a.idf_.shape == (12,)
    assert a.get_feature_names_out().shape == (width,)


def test_learned_state_is_reused_at_transform() -> None:
    X, _ = stripes(10)
    est = _bovw(encoding="soft", weighting="tfidf").fit(X)
    ds = est.extractor.transform(X[:3])
    want = vislang.encode(
        ds, est.vocabulary_, encoding="soft", sigma=est.sigma_, weighting="tfidf", idf=est.idf_
    )
    np.testing.assert_array_equal(est.transform(X[:3]), want)
    # A DescriptorSet input skips extraction.
    np.testing.assert_array_equal(est.transform(ds), want)


def test_given_vocabulary_and_sampling() -> None:
    X, _ = stripes(6)
    ds = DenseSIFT(step=8, sizes=(4,)).transform(X)
    vocab = vislang.VisualVocabulary(5, random_state=0).fit(ds.descriptors)
    est = BagOfVisualWords(vocabulary=vocab).fit(ds)
    assert est.vocabulary_ is vocab
    est2 = BagOfVisualWords(vocabulary=vocab.cluster_centers_).fit(ds)
    np.testing.assert_array_equal(est.transform(ds), est2.transform(ds))
    # An unfitted vocabulary is cloned and fitted on a sample of the descriptors.
    template = vislang.VisualVocabulary(4, random_state=0)
    est3 = BagOfVisualWords(vocabulary=template, sample_descriptors=50, random_state=0).fit(ds)
    assert est3.vocabulary_ is not template and est3.cluster_centers_.shape == (4, 128)
    assert not hasattr(template, "cluster_centers_")


def test_default_extractor_is_dense_sift() -> None:
    X, _ = stripes(4)
    est = BagOfVisualWords(n_words=4, random_state=0).fit(X)
    assert est.transform(X).shape == (4, 4)


def test_draw_visual_words_returns_a_figure() -> None:
    pytest.importorskip("matplotlib")
    X, _ = stripes(6)
    ext = DenseSIFT(step=8, sizes=(4,))
    est = BagOfVisualWords(ext, n_words=6, random_state=0).fit(X)
    fig = draw_visual_words(list(X), est.vocabulary_, words=[0, 3], n_patches=5, extractor=ext)
    assert len(fig.axes) == 10
    from vislang.bovw import word_patches

    words, patches = word_patches(list(X), est.vocabulary_, n_patches=4, extractor=ext)
    assert patches.shape == (len(words), 4, 32, 32, 3) and patches.dtype == np.uint8
    with pytest.raises(vislang.InvalidInputError, match=r"words must be indices in \[0, "):
        draw_visual_words(list(X), est.vocabulary_, words=[6], extractor=ext)


def test_verbose_reaches_the_vocabulary() -> None:
    import numpy as np

    from vislang import BagOfVisualWords
    from vislang.features import DescriptorSet

    rng = np.random.default_rng(0)
    ds = DescriptorSet.from_list([rng.normal(size=(20, 4)).astype(np.float32) for _ in range(3)])
    quiet = BagOfVisualWords(n_words=3, random_state=0).fit(ds)
    loud = BagOfVisualWords(n_words=3, random_state=0, verbose=True).fit(ds)
    assert quiet.vocabulary_.verbose is False and loud.vocabulary_.verbose is True
    np.testing.assert_array_equal(quiet.transform(ds), loud.transform(ds))
