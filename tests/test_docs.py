"""The tutorials of the documentation site run as written (every ```python block, in order)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
_spec = importlib.util.spec_from_file_location("run_tutorials", DOCS / "run_tutorials.py")
assert _spec is not None and _spec.loader is not None
run_tutorials = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_tutorials)

PAGES = run_tutorials.pages()


def test_every_family_has_a_tutorial() -> None:
    names = {p.stem for p in PAGES}
    assert {"bovw", "word-meaning", "retrieval", "captioning", "gan"} <= names


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_tutorial_runs(page: Path) -> None:
    assert run_tutorials.blocks(page), f"{page.name} has no python block"
    run_tutorials.run_page(page)


def test_a_raising_block_is_named(tmp_path: Path) -> None:
    page = tmp_path / "broken.md"
    page.write_text("```python\nx = 1\n```\n\n```python\nraise ValueError('boom')\n```\n")
    with pytest.raises(RuntimeError, match=r"block 2 raised"):
        run_tutorials.run_page(page)


@pytest.mark.slow
def test_site_builds_strict(tmp_path: Path) -> None:
    """``mkdocs build --strict``: broken references, missing pages and docstrings that
    numpydoc cannot parse fail the build."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
        cwd=DOCS.parent,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    cli = (tmp_path / "site" / "cli" / "index.html").read_text()
    assert "usage: vislang train" in cli
    api = (tmp_path / "site" / "api" / "vislang" / "index.html").read_text()
    assert "VisualVocabulary" in api
