"""The binary wheel works outside the source tree (``make test-wheel``; ``.ci/run`` runs it).

Builds the manylinux2014 abi3 wheel with maturin's ``--zig`` (maturin's auditwheel check then
refuses glibc symbols newer than 2.17), installs it into a fresh virtual environment with only
the runtime dependencies, and runs ``tests/wheel_smoke.py core`` from a temporary folder, with
the default and the scalar ISA level. The vision part runs the same wheel in a second fresh
environment that sees the dev environment's PyTorch/OpenCV (installing the 3 GB ``[vision]``
extra from scratch on every CI run would not fit its time).
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "tests" / "wheel_smoke.py"
pytestmark = pytest.mark.wheel


def _run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)  # type: ignore[call-overload]
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("VISLANG_WHEEL")
    if given:
        return Path(given)
    out = tmp_path_factory.mktemp("wheels")
    maturin = Path(sys.executable).with_name("maturin")
    _run(
        [str(maturin), "build", "--release", "--zig", "--compatibility", "manylinux2014",
         "-o", str(out)],
        cwd=ROOT,
    )  # fmt: skip
    (whl,) = out.glob("*.whl")
    return whl


def _fresh_env(path: Path) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    return path / "bin" / "python"


def test_wheel_is_manylinux2014_abi3(wheel: Path) -> None:
    assert "abi3" in wheel.name and "manylinux_2_17" in wheel.name, wheel.name
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("vislang/_core") and n.endswith(".so") for n in names)
    assert "vislang/py.typed" in names and "vislang/_core.pyi" in names
    assert not any(n.startswith(("tests/", "benches/", "rust/")) for n in names)


def test_core_install_without_torch(wheel: Path, tmp_path: Path) -> None:
    py = _fresh_env(tmp_path / "env")
    _run([str(py), "-m", "pip", "install", "-q", str(wheel)])
    freeze = _run([str(py), "-m", "pip", "freeze"]).stdout.lower()
    assert "torch" not in freeze and "opencv" not in freeze, freeze
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    for isa in (None, "scalar"):
        run_env = dict(env, **({"VISLANG_ISA": isa} if isa else {}))
        out = _run([str(py), str(SMOKE), "core"], cwd=tmp_path, env=run_env).stdout
        assert "encode ok" in out and "names the extra" in out, out


def test_vision_extra(wheel: Path, tmp_path: Path) -> None:
    py = _fresh_env(tmp_path / "env")
    _run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)])
    site = Path(sysconfig.get_paths()["purelib"])  # the dev env: torch, cv2, numpy, ...
    (next((tmp_path / "env").glob("lib/python*/site-packages")) / "zz_dev.pth").write_text(
        f"{site}\n"  # a plain path line: the dev env's own .pth files (its vislang) stay off
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    out = _run([str(py), str(SMOKE), "vision"], cwd=tmp_path, env=env).stdout
    assert "tiny VSE ok" in out, out
