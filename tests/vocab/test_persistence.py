"""``VisualVocabulary.save`` / ``load``: round trips and broken files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import save_file

from vislang import CheckpointError, VisualVocabulary

SUFFIXES = [".safetensors", ".npz"]


def assert_same_vocabulary(a: VisualVocabulary, b: VisualVocabulary, X: np.ndarray) -> None:
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    assert a.cluster_centers_.dtype == b.cluster_centers_.dtype
    assert a.n_features_in_ == b.n_features_in_
    assert a.inertia_ == b.inertia_
    assert a.n_iter_ == b.n_iter_
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    assert a.score(X) == b.score(X)


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip(tmp_path: Path, suffix: str, dtype: Any, blobs_factory) -> None:
    X = blobs_factory(200, 5, 4, dtype=dtype)
    vocab = VisualVocabulary(
        4, n_init=2, max_iter=50, tol=1e-3, algorithm="lloyd", random_state=7, n_jobs=1
    ).fit(X)
    path = tmp_path / f"vocab{suffix}"
    vocab.save(path)
    loaded = VisualVocabulary.load(path)
    assert loaded.get_params() == vocab.get_params()
    assert_same_vocabulary(vocab, loaded, X)
    # str paths work too
    assert_same_vocabulary(vocab, VisualVocabulary.load(str(path)), X)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_round_trip_minibatch_keeps_counts(tmp_path: Path, suffix: str, blobs64) -> None:
    vocab = VisualVocabulary(3, batch_size=32, max_iter=2, random_state=1).fit(blobs64)
    vocab.save(tmp_path / f"v{suffix}")
    loaded = VisualVocabulary.load(tmp_path / f"v{suffix}")
    assert loaded.get_params() == vocab.get_params()
    assert_same_vocabulary(vocab, loaded, blobs64)
    # Training continues exactly where it stopped.
    batch = blobs64[:50]
    vocab.partial_fit(batch)
    loaded.partial_fit(batch)
    np.testing.assert_array_equal(vocab.cluster_centers_, loaded.cluster_centers_)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_round_trip_array_init_and_generator_seed(tmp_path: Path, suffix: str, blobs64) -> None:
    init = np.ascontiguousarray(blobs64[:3])
    vocab = VisualVocabulary(3, init=init, random_state=np.random.default_rng(0)).fit(blobs64)
    vocab.save(tmp_path / f"v{suffix}")
    loaded = VisualVocabulary.load(tmp_path / f"v{suffix}")
    assert_same_vocabulary(vocab, loaded, blobs64)
    # Unsaveable settings are replaced: the seed by None, the init array by the centres.
    assert loaded.random_state is None
    np.testing.assert_array_equal(loaded.init, vocab.cluster_centers_)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.safetensors"
    with pytest.raises(CheckpointError, match=r"^vocabulary file not found: .*nope\.safetensors$"):
        VisualVocabulary.load(path)
    with pytest.raises(OSError, match=r"vocabulary file not found"):
        VisualVocabulary.load(tmp_path)  # a directory


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_garbage_and_truncated_files(tmp_path: Path, suffix: str, blobs64) -> None:
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(b"\x00not a vocabulary at all" * 10)
    with pytest.raises(CheckpointError, match=r"^cannot read vocabulary file .*bad"):
        VisualVocabulary.load(path)
    good = tmp_path / f"good{suffix}"
    VisualVocabulary(3, random_state=0).fit(blobs64).save(good)
    data = good.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"^cannot read vocabulary file"):
        VisualVocabulary.load(path)


def test_not_a_vislang_file(tmp_path: Path) -> None:
    path = tmp_path / "other.safetensors"
    save_file({"weight": np.zeros((2, 2), np.float32)}, str(path))
    with pytest.raises(
        CheckpointError, match=r"other\.safetensors is not a vislang vocabulary file$"
    ):
        VisualVocabulary.load(path)
    path = tmp_path / "other.npz"
    np.savez(path, weight=np.zeros(3))
    with pytest.raises(CheckpointError, match=r"other\.npz is not a vislang vocabulary file$"):
        VisualVocabulary.load(path)
    path = tmp_path / "wrong-format.safetensors"
    save_file(
        {"cluster_centers": np.zeros((2, 2))},
        str(path),
        metadata={"vislang": json.dumps({"format": "something/9"})},
    )
    with pytest.raises(CheckpointError, match=r"is not a vislang vocabulary file$"):
        VisualVocabulary.load(path)


def _resave(src: Path, dst: Path, *, meta_edit: Any = None, tensors_edit: Any = None) -> Path:
    from safetensors import safe_open

    with safe_open(str(src), framework="numpy") as f:
        meta = json.loads(f.metadata()["vislang"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    if meta_edit:
        meta_edit(meta)
    if tensors_edit:
        tensors_edit(tensors)
    save_file(tensors, str(dst), metadata={"vislang": json.dumps(meta)})
    return dst


def test_inconsistent_contents(tmp_path: Path, blobs64) -> None:
    good = tmp_path / "good.safetensors"
    VisualVocabulary(3, random_state=0).fit(blobs64).save(good)

    def edit(**kw: Any) -> Path:
        return _resave(good, tmp_path / "edited.safetensors", **kw)

    with pytest.raises(CheckpointError, match=r"corrupt vocabulary metadata: KeyError\('params'\)"):
        VisualVocabulary.load(edit(meta_edit=lambda m: m.pop("params")))
    with pytest.raises(CheckpointError, match=r"corrupt vocabulary metadata: TypeError"):
        VisualVocabulary.load(edit(meta_edit=lambda m: m["params"].update(colour="red")))
    with pytest.raises(CheckpointError, match=r"has no 2-D 'cluster_centers' tensor$"):
        VisualVocabulary.load(edit(tensors_edit=lambda t: t.pop("cluster_centers")))
    with pytest.raises(
        CheckpointError, match=r"cluster_centers must be finite .* got float64 \(2, 8\)"
    ):
        VisualVocabulary.load(
            edit(tensors_edit=lambda t: t.update(cluster_centers=t["cluster_centers"][:2].copy()))
        )

    def poison(t: dict[str, np.ndarray]) -> None:
        t["cluster_centers"] = t["cluster_centers"].copy()
        t["cluster_centers"][1, 1] = np.nan

    with pytest.raises(CheckpointError, match=r"cluster_centers must be finite"):
        VisualVocabulary.load(edit(tensors_edit=poison))
    with pytest.raises(CheckpointError, match=r"counts must be 3 finite values >= 0$"):
        VisualVocabulary.load(edit(tensors_edit=lambda t: t.update(counts=-np.ones(3))))


def test_save_requires_a_fitted_vocabulary(tmp_path: Path) -> None:
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        VisualVocabulary(2).save(tmp_path / "v.safetensors")
    assert not (tmp_path / "v.safetensors").exists()
