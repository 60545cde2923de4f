"""Run the docstring examples of vislang.semantics and vislang.eval.word_similarity."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "vislang.semantics.word_vectors",
    "vislang.semantics.visual",
    "vislang.semantics.fusion",
    "vislang.eval.word_similarity",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def test_import_is_light() -> None:
    """vislang.semantics and vislang.eval pull in no heavy dependency (torch, cv2, plotting)."""
    import subprocess
    import sys

    code = (
        "import sys, vislang.semantics, vislang.eval; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'torchvision', 'cv2', 'matplotlib', 'faiss')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
