"""The bag-of-words names are reachable from ``vislang`` without loading heavy modules."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ["torch", "torchvision", "cv2", "matplotlib", "faiss"]


def test_lazy_names_do_not_load_heavy_modules() -> None:
    code = (
        "import vislang, sys, json\n"
        "names = [vislang.encode, vislang.BagOfVisualWords, vislang.DescriptorSet,\n"
        "         vislang.features, vislang.bovw, vislang.draw_visual_words]\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert sorted(m for m in loaded if m.split(".")[0] in HEAVY) == []


def test_lazy_names() -> None:
    import vislang
    from vislang.bovw import BagOfVisualWords, encode

    assert vislang.encode is encode
    assert vislang.BagOfVisualWords is BagOfVisualWords
    assert "encode" in dir(vislang)
    try:
        vislang.no_such_name  # noqa: B018
    except AttributeError as e:
        assert "no_such_name" in str(e)
    else:
        raise AssertionError("expected AttributeError")
