"""Run every ```python block of the tutorials (page by page, blocks in order, one namespace per
page, in a temporary folder); exit 1 naming the page and block that raised.

``make docs`` runs it before building the site; ``tests/test_docs.py`` runs it in the suite.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import tempfile
import traceback
from pathlib import Path

DOCS = Path(__file__).resolve().parent
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text(encoding="utf-8"))


def _name(page: Path) -> str:
    return str(page.relative_to(DOCS)) if page.is_relative_to(DOCS) else str(page)


def run_page(page: Path) -> None:
    """Run the blocks of ``page``; raises ``RuntimeError`` naming the block that failed."""
    namespace: dict[str, object] = {"__name__": "__tutorial__"}
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            for i, code in enumerate(blocks(page), 1):
                try:
                    with contextlib.redirect_stdout(io.StringIO()):
                        exec(compile(code, f"{page.name}[block {i}]", "exec"), namespace)
                except Exception as exc:
                    tb = traceback.format_exc(limit=-3)
                    raise RuntimeError(f"{_name(page)}: block {i} raised:\n{tb}") from exc
        finally:
            os.chdir(cwd)


def pages() -> list[Path]:
    return sorted((DOCS / "tutorials").glob("*.md"))


def main() -> int:
    failed = 0
    for page in pages():
        try:
            run_page(page)
            print(f"ok      {_name(page)} ({len(blocks(page))} blocks)")
        except RuntimeError as exc:
            failed += 1
            print(f"FAILED  {exc}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
