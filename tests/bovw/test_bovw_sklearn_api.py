"""scikit-learn's estimator checks that apply to ``BagOfVisualWords``.

``check_estimator`` runs only ``check_estimator_cloneable`` for an estimator whose input tag is
not a 2-D array and skips the rest: those checks feed random 2-D float matrices (``X`` of shape
(n_samples, n_features)), but the input here is a list of images and a 2-D matrix would be read
as one gray image. The parameter-handling checks do not touch data and are run below; fitting,
transforming, pickling, cloning after fit and pipeline use are tested on images in
``test_bovw_estimator.py``.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.utils import estimator_checks as ec

from vislang.bovw import BagOfVisualWords
from vislang.features import DenseSIFT

CHECKS = [
    ec.check_estimator_cloneable,
    ec.check_no_attributes_set_in_init,
    ec.check_get_params_invariance,
    ec.check_set_params,
    ec.check_parameters_default_constructible,
    ec.check_estimator_repr,
    ec.check_estimator_tags_renamed,
    ec.check_valid_tag_types,
    ec.check_mixin_order,
]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_parameter_checks(check: object) -> None:
    est = BagOfVisualWords(DenseSIFT(step=8, sizes=(4,)), n_words=3, random_state=0)
    check(type(est).__name__, est)  # type: ignore[operator]


def test_fitted_estimator_pickles() -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (4, 32, 32), dtype=np.uint8)
    est = BagOfVisualWords(DenseSIFT(step=8, sizes=(4,)), n_words=3, random_state=0).fit(images)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.transform(images), est.transform(images))
