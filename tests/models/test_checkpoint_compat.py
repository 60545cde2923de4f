"""Checkpoints written by format 1 (vislang 0.1.0) keep loading and give the same outputs.

``tests/data/checkpoint_format1`` holds a tiny VSE++ checkpoint written by the 0.1.0 code and the
embeddings it produced then; a format change must keep reading it (CHANGELOG.md).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from vislang.models import load_model

DATA = Path(__file__).resolve().parents[1] / "data" / "checkpoint_format1"


def test_format1_checkpoint_loads_with_the_same_outputs() -> None:
    expected = json.loads((DATA / "expected.json").read_text())
    assert expected["format_version"] == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # old key names may be deprecated
        model = load_model(DATA / "vsepp")
    model.eval()
    texts = model.embed_texts(expected["texts"]).detach().numpy()
    images = model.embed_images(np.asarray(expected["images"], dtype=np.float32))
    np.testing.assert_allclose(texts, expected["text_embeddings"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        images.detach().numpy(), expected["image_embeddings"], rtol=1e-5, atol=1e-6
    )
