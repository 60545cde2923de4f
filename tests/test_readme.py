"""Every ```python block of README.md runs as written, each in a fresh namespace and folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), re.M | re.S)
#: Blocks that take longer than about 30 s on 2 cores (VSE++'s 3 epochs on 2,000 images).
SLOW = ('runner("vse++")',)


def test_readme_has_the_quick_start_blocks() -> None:
    assert len(BLOCKS) == 3
    assert any("gallery_images =" in b for b in BLOCKS)
    assert any("visual_vectors =" in b and "corpus.txt" in b for b in BLOCKS)


@pytest.mark.parametrize(
    "code",
    [
        pytest.param(b, marks=[pytest.mark.slow] if any(s in b for s in SLOW) else [])
        for b in BLOCKS
    ],
    ids=[f"block{i}" for i in range(len(BLOCKS))],
)
def test_readme_block_runs(
    code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__readme__"}
    exec(compile(code, f"{README}:python-block", "exec"), namespace)
    out = capsys.readouterr().out
    if "print(" in code:
        assert out.strip(), "the block prints its result"
    if "search(" in code:
        scores, idx = namespace["scores"], namespace["idx"]
        assert idx.shape == (1, 5) and scores.shape == (1, 5)  # type: ignore[attr-defined]
    if "most_similar" in code:
        assert len(namespace["sg"].wv.most_similar("red", topn=5)) == 5  # type: ignore[attr-defined]
