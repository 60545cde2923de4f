"""Exit codes and one-line error messages of the command line, in process and as a program."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("vocab", "a.png", "--n-words", "0", "--out", "v.safetensors"), "--n-words: expected a"),
        (("vocab", "a.png", "--out", "v.safetensors"), "required: --n-words"),
        (("encode", "a.png", "--vocab", "v", "--out", "c.npy", "--encoding", "bow"), "'bow'"),
        (("encode", "a.png", "--vocab", "v", "--out", "c.npy", "--pyramid", "1,x"), "1,2"),
        (("encode", "a.png", "--vocab", "v", "--out", "c.txt"), "--out must end in .npy"),
        (
            (
                "encode",
                "a.png",
                "--vocab",
                "v",
                "--out",
                "c.npy",
                "--encoding",
                "vlad",
                "--weighting",
                "tfidf",
            ),
            "tfidf applies to the hard and soft encodings",
        ),
        (("frobnicate",), "invalid choice: 'frobnicate'"),
        (("vocab", "--threads", "-1", "a.png"), "--threads: expected a positive integer"),
    ],
)
def test_usage_errors_exit_2(
    vislang_cli: Callable[..., Any], argv: tuple[str, ...], message: str
) -> None:
    r = vislang_cli(*argv)
    assert r.code == 2
    line = r.error_line()
    assert message in line
    assert "--help" in line  # the line points to the help


def test_missing_inputs_are_named(vislang_cli: Callable[..., Any], tmp_path: Path) -> None:
    r = vislang_cli("vocab", "missing.png", "--n-words", 2, "--out", "v.safetensors")
    assert r.code == 1 and r.error_line() == "vislang: error: image file not found: missing.png"
    (tmp_path / "empty").mkdir()
    r = vislang_cli("vocab", "empty", "--n-words", 2, "--out", "v.safetensors")
    assert r.code == 1 and "no image files" in r.error_line() and "empty" in r.error_line()
    r = vislang_cli("vocab", "desc.safetensors", "--n-words", 2, "--out", "v.safetensors")
    assert r.code == 1 and "descriptor set file not found: desc.safetensors" in r.error_line()
    r = vislang_cli("encode", "x.png", "--vocab", "nope.safetensors", "--out", "c.npy")
    assert r.code == 1 and "vocabulary file not found: nope.safetensors" in r.error_line()
    r = vislang_cli("vocab", "a.png", "d.npz", "--n-words", 2, "--out", "v.safetensors")
    assert r.code == 2 and "not a mix" in r.error_line()


def test_library_errors_are_one_line(
    vislang_cli: Callable[..., Any], shape_images: list[Path], tmp_path: Path
) -> None:
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG not really")
    r = vislang_cli("vocab", corrupt, "--n-words", 2, "--out", "v.safetensors", "-q")
    assert r.code == 1 and str(corrupt) in r.error_line()
    # more words than descriptors: the library's InvalidInputError
    r = vislang_cli(
        "vocab", shape_images[0], "--extractor", "dense-sift", "--step", "32", "--n-words", 500,
        "--out", "v.safetensors", "-q",
    )  # fmt: skip
    assert r.code == 1 and "n_clusters=500" in r.error_line()
    # --debug shows the traceback
    r = vislang_cli("vocab", corrupt, "--n-words", 2, "--out", "v.safetensors", "-q", "--debug")
    assert (
        r.code == 1
        and "Traceback" in r.err
        and r.err.rstrip().splitlines()[-1].startswith("vislang: error: ")
    )


def test_help_and_version(vislang_cli: Callable[..., Any]) -> None:
    import vislang

    r = vislang_cli("--help")
    assert r.code == 0
    for command in ("vocab", "encode", "train", "eval", "demo"):
        assert command in r.out
    r = vislang_cli("--version")
    assert r.code == 0 and r.out.strip() == f"vislang {vislang.__version__}"
    r = vislang_cli("encode", "--help")
    assert r.code == 0 and "--pyramid" in r.out and "--seed" in r.out and "--json" in r.out
    r = vislang_cli()
    assert r.code == 2 and "COMMAND" in r.err


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=300, cwd=cwd
    )


def test_python_dash_m_vislang(tmp_path: Path) -> None:
    p = _run("-m", "vislang", "--help", cwd=tmp_path)
    assert p.returncode == 0 and "vislang" in p.stdout and "demo" in p.stdout
    p = _run(
        "-m", "vislang", "vocab", "missing.png", "--n-words", "2", "--out", "v.st", cwd=tmp_path
    )
    assert p.returncode == 1
    assert p.stderr.strip() == "vislang: error: image file not found: missing.png"


def test_cli_import_stays_light(tmp_path: Path) -> None:
    probe = "import json, sys, vislang.cli; print(json.dumps(sorted(sys.modules)))"
    p = _run("-c", probe, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    loaded = {m.split(".")[0] for m in json.loads(p.stdout)}
    assert not loaded & {"torch", "cv2", "matplotlib", "skimage", "tqdm"}
