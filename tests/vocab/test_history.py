"""`history_`: one record per iteration (or mini-batch step)."""

from __future__ import annotations

import numpy as np

import vislang


def test_history_records_every_iteration_with_non_increasing_inertia() -> None:
    X = np.random.default_rng(0).normal(size=(3000, 8))
    vocab = vislang.VisualVocabulary(16, n_init=2, random_state=0).fit(X)
    h = vocab.history_
    assert set(h) == {"run", "iteration", "inertia", "center_shift", "full_rows", "seconds"}
    assert set(h["run"].tolist()) == {0, 1}
    for run in (0, 1):
        inertia = h["inertia"][h["run"] == run]
        assert np.all(np.diff(inertia) <= 1e-9 * inertia[0])
        assert h["iteration"][h["run"] == run].tolist() == list(range(len(inertia)))
    assert np.all(np.diff(h["seconds"]) >= 0)
    assert np.all((h["full_rows"] >= 0) & (h["full_rows"] <= len(X)))


def test_minibatch_history_has_one_row_per_step() -> None:
    X = np.random.default_rng(1).normal(size=(4000, 4)).astype(np.float32)
    vocab = vislang.VisualVocabulary(8, batch_size=128, random_state=0).fit(X)
    assert len(vocab.history_["inertia"]) == vocab.n_steps_
