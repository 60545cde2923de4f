"""SkipGram / MultimodalSkipGram as scikit-learn estimators.

``parametrize_with_checks`` feeds numeric matrices, which a text estimator does not take: with
``input_tags.two_d_array=False`` it yields nothing, so the checks that do not need data are run
here by name, and the data-dependent ones (fit returns self, fit leaves parameters alone,
not-fitted errors, clone) are tested on a token corpus.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils import estimator_checks as ec

from vislang.exceptions import InvalidInputError
from vislang.semantics import MultimodalSkipGram, SkipGram, WordVectors
from vislang.semantics.skipgram import NotFittedError

CORPUS = [["cat", "purrs", "meow", "the"], ["dog", "barks", "woof", "the"]] * 60
SMALL: dict[str, Any] = {"vector_size": 4, "min_count": 1, "epochs": 1, "n_jobs": 1}
VISUAL = (np.eye(4, dtype=np.float32)[:3] + 0.1, ["cat", "dog", "woof"])

ESTIMATORS = [SkipGram(**SMALL), MultimodalSkipGram(variant="B", **SMALL)]
# The API checks of scikit-learn that need no numeric X.
DATA_FREE_CHECKS = [
    ec.check_estimator_cloneable,
    ec.check_estimator_tags_renamed,
    ec.check_valid_tag_types,
    ec.check_estimator_repr,
    ec.check_no_attributes_set_in_init,
    ec.check_do_not_raise_errors_in_init_or_set_params,
    ec.check_mixin_order,
    ec.check_parameters_default_constructible,
    ec.check_get_params_invariance,
    ec.check_set_params,
]


def _ids(x: Any) -> str:
    return type(x).__name__ if not callable(x) or isinstance(x, SkipGram) else x.__name__


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_ids)
@pytest.mark.parametrize("check", DATA_FREE_CHECKS, ids=_ids)
def test_sklearn_api_checks(estimator: SkipGram, check: Any) -> None:
    check(type(estimator).__name__, clone(estimator))


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_ids)
def test_parametrize_with_checks_skips_text_estimators_explicitly(estimator: SkipGram) -> None:
    # Documents why the list above exists: sklearn's generator refuses non-matrix input.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        checks = list(ec._yield_all_checks(estimator, legacy=True))
    assert checks == []
    assert any("Can't test estimator" in str(w.message) for w in caught)


def _fit(est: SkipGram) -> SkipGram:
    if isinstance(est, MultimodalSkipGram):
        return est.fit(CORPUS, visual=VISUAL)
    return est.fit(CORPUS)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_ids)
def test_fit_returns_self_and_leaves_parameters_alone(estimator: SkipGram) -> None:
    est = clone(estimator)
    before = est.get_params(deep=True)
    assert _fit(est) is est
    after = est.get_params(deep=True)
    assert before.keys() == after.keys()
    for k, v in before.items():
        assert after[k] is v, k
    learned = {k for k in vars(est) if k.endswith("_") and not k.startswith("_")}
    assert {"wv_", "counts_", "syn1neg_", "words_trained_", "train_seconds_"} <= learned
    assert est.wv is est.wv_  # the alias
    assert isinstance(est.wv_, WordVectors)


def test_multimodal_fit_visual_does_not_become_a_parameter() -> None:
    est = MultimodalSkipGram(variant="B", **SMALL).fit(CORPUS, visual=VISUAL)
    assert est.visual is None
    assert est.visual_words_ == ("cat", "dog", "woof")
    assert est.mapping_ is not None and est.mapping_.shape == (4, 4)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_ids)
def test_not_fitted_errors(estimator: SkipGram, tmp_path: Path) -> None:
    est = clone(estimator)
    with pytest.raises(NotFittedError, match="is not fitted yet; call fit"):
        _ = est.wv
    with pytest.raises(InvalidInputError, match="not fitted"):
        est.save(tmp_path / "x.npz")
    # Like scikit-learn's NotFittedError: a ValueError and an AttributeError.
    assert not hasattr(est, "wv")
    with pytest.raises(ValueError, match="not fitted"):
        est.save(tmp_path / "x.npz")


def test_get_params_deep_set_params_and_clone() -> None:
    est = MultimodalSkipGram(variant="B", margin=0.3, window=2, random_state=7, **SMALL)
    shallow, deep = est.get_params(deep=False), est.get_params(deep=True)
    assert shallow == deep  # no nested estimators
    assert shallow["margin"] == 0.3 and shallow["window"] == 2
    assert shallow["random_state"] == 7 and shallow["verbose"] is False
    assert shallow["seed"] is None and shallow["progress"] is None
    assert est.set_params(window=4, margin=0.1) is est
    assert (est.window, est.margin) == (4, 0.1)
    with pytest.raises(ValueError, match="Invalid parameter 'nope'"):
        est.set_params(nope=1)
    twin = clone(est)
    assert twin is not est and twin.get_params() == est.get_params()
    _fit(est)
    assert not any(k.endswith("_") and not k.startswith("_") for k in vars(clone(est)))


def test_seed_and_progress_are_aliases() -> None:
    a = SkipGram(**SMALL, random_state=5).fit(CORPUS).wv_.vectors
    b = SkipGram(**SMALL, seed=5).fit(CORPUS).wv_.vectors
    c = SkipGram(**SMALL, random_state=6).fit(CORPUS).wv_.vectors
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # The alias wins over the canonical name when both are given.
    d = SkipGram(**SMALL, random_state=6, seed=5).fit(CORPUS).wv_.vectors
    np.testing.assert_array_equal(a, d)
    assert SkipGram(progress=True)._effective_verbose() is True
    assert SkipGram(verbose=True, progress=False)._effective_verbose() is False


def test_random_state_accepts_generators_and_none() -> None:
    a = SkipGram(**SMALL, random_state=np.random.RandomState(0)).fit(CORPUS).wv_.vectors
    b = SkipGram(**SMALL, random_state=np.random.RandomState(0)).fit(CORPUS).wv_.vectors
    np.testing.assert_array_equal(a, b)
    assert SkipGram(**SMALL, random_state=None).fit(CORPUS).wv_.vectors.shape == a.shape


def test_saved_files_round_trip_the_aliases(tmp_path: Path) -> None:
    est = SkipGram(**SMALL, seed=9, progress=False).fit(CORPUS)
    est.save(tmp_path / "m.npz")
    back = SkipGram.load(tmp_path / "m.npz")
    assert back.random_state == 9 and back.seed is None
    assert back.verbose is False and back.progress is None
    np.testing.assert_array_equal(back.wv_.vectors, est.wv_.vectors)
