"""``import vislang`` stays light: NumPy and the extension, no torch, no OpenCV."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ["torch", "torchvision", "cv2", "matplotlib", "faiss"]


def _imported_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "code",
    [
        "import vislang",
        "import vislang.vocab",
        "from vislang import VisualVocabulary, assign, kmeans, kmeans_plusplus",
    ],
)
def test_import_does_not_load_heavy_modules(code: str) -> None:
    loaded = _imported_after(code)
    assert "vislang._core" in loaded
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
    assert heavy == [], heavy


def test_public_names() -> None:
    import vislang

    for name in vislang.__all__:
        assert hasattr(vislang, name), name
    assert isinstance(vislang.__version__, str) and vislang.__version__
    assert vislang.VisualVocabulary.__module__ == "vislang.vocab.kmeans"
