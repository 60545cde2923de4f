"""Fixtures of the CLI tests: a few shapes images on disk, and a runner for ``vislang.cli.main``."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest


@dataclass
class Run:
    """The outcome of one in-process ``vislang`` call."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def error_line(self) -> str:
        """The error of a failed call: one ``vislang: error:`` line, last on stderr (after any
        progress messages), and no traceback."""
        lines = [ln for ln in self.err.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("vislang: error: ")]
        assert len(errors) == 1 and lines[-1] == errors[0], self.err
        assert "Traceback" not in self.err
        return errors[0]


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every CLI test in its own folder (default outputs such as runs/NAME land there)."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def vislang_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    """Call ``vislang.cli.main`` with string-converted arguments and capture its output."""
    from vislang.cli import main

    def run(*argv: Any) -> Run:
        capsys.readouterr()
        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


@pytest.fixture(scope="session")
def shape_images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Six 64x64 PNG images of the shapes world (plus one in a sub-folder)."""
    cv2 = pytest.importorskip("cv2")
    from vislang.data import make_shapes

    root = tmp_path_factory.mktemp("images")
    (root / "sub").mkdir()
    ds = make_shapes(6, 0, 0, 0, seed=3)
    paths = []
    for i in range(len(ds)):
        p = root / ("sub" if i == 5 else ".") / f"img{i}.png"
        rgb = np.ascontiguousarray(ds.load_image(i))
        assert cv2.imwrite(str(p), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        paths.append(p.resolve())
    (root / "notes.txt").write_text("not an image")
    return sorted(paths)
