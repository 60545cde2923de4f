"""The package's layers (ARCHITECTURE.md): imports only point down, and no module needs another
to be imported first (no import cycles).

``make lint`` checks the same layers with import-linter (``[tool.importlinter]`` in
pyproject.toml); this test keeps them checked where import-linter is not installed.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "python" / "vislang"

#: Lowest first. Inside a tuple the packages are siblings (they may import each other), except
#: layer 5 whose order is strict (cli runs demo and train; demo runs train).
LAYERS: list[tuple[str, ...]] = [
    (
        "_core",
        "exceptions",
        "_validation",
        "_scale",
        "_config",
        "_deps",
        "_deprecation",
        "_dist",
        "options",
        "report",
    ),
    ("vocab", "features", "data", "semantics"),
    ("bovw", "eval", "distributed"),
    ("losses",),
    ("models",),
    ("train",),
    ("demo",),
    ("cli",),
]

#: Deprecated aliases of moved names (module ``__getattr__`` and two shim modules), the only
#: upward imports.
ALLOWED_UPWARD = {
    ("vislang.models", "vislang.train"),
    ("vislang.models.config", "vislang.train.crossmodal"),
    ("vislang.semantics", "vislang.train"),
    ("vislang.semantics.skipgram_config", "vislang.train.skipgram"),
    ("vislang.semantics", "vislang.models.visual_vectors"),
}


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) < 2:
        return None  # the root package (re-exports, lazily)
    for i, names in enumerate(LAYERS):
        if parts[1] in names:
            return i
    return None


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.append((".".join(parts), path))
    return out


def _imports(module: str, path: Path) -> list[tuple[str, int]]:
    """Every ``vislang`` module imported anywhere in the file (top level, inside functions and
    under ``TYPE_CHECKING``), with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.startswith("vislang")]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            if base.startswith("vislang"):
                found += [(f"{base}.{a.name}", node.lineno) for a in node.names]
    return found


def test_layers_cover_every_subpackage() -> None:
    known = {name for names in LAYERS for name in names}
    subpackages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__")}
    assert subpackages | modules <= known | {"_core"}, (subpackages | modules) - known


def test_imports_only_point_down() -> None:
    upward = []
    for module, path in _modules():
        here = _layer(module)
        if here is None:
            continue
        for target, line in _imports(module, path):
            there = _layer(target)
            if there is None or there <= here:
                continue
            if any(module == a and target.startswith(b) for a, b in ALLOWED_UPWARD):
                continue
            upward.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {module} -> {target}")
    assert not upward, "imports that point up a layer:\n" + "\n".join(upward)


def test_every_module_imports_alone() -> None:
    """Each module imported first, in a process with no vislang module loaded: an import cycle
    fails here. One interpreter loads the third-party packages once, then forks a child per
    module (a fresh interpreter each would import PyTorch ~70 times)."""
    skip = {"vislang.__main__", "vislang.demo.__main__"}  # they run the CLI
    deprecated = {"vislang.models.config", "vislang.semantics.skipgram_config"}  # they warn
    names = [m for m, _ in _modules() if m not in skip | deprecated]
    code = (
        "import importlib, os, sys, warnings\n"
        "for heavy in ('numpy', 'scipy', 'sklearn', 'torch', 'torchvision', 'cv2', 'PIL'):\n"
        "    try:\n"
        "        importlib.import_module(heavy)\n"
        "    except ImportError:\n"
        "        pass\n"
        "assert not [m for m in sys.modules if m.startswith('vislang')]\n"
        "bad = []\n"
        "for name in sys.argv[1:]:\n"
        "    r, w = os.pipe()\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        os.close(r)\n"
        "        try:\n"
        "            warnings.simplefilter('error', DeprecationWarning)\n"
        "            importlib.import_module(name)\n"
        "        except BaseException as e:\n"
        "            os.write(w, f'{type(e).__name__}: {e}'.encode())\n"
        "            os._exit(1)\n"
        "        os._exit(0)\n"
        "    os.close(w)\n"
        "    with os.fdopen(r) as f:\n"
        "        message = f.read()\n"
        "    _, status = os.waitpid(pid, 0)\n"
        "    if status:\n"
        "        bad.append(f'{name}: {message}')\n"
        "print('\\n'.join(bad))\n"
    )
    r = subprocess.run([sys.executable, "-c", code, *names], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", "modules that fail when imported first:\n" + r.stdout


@pytest.mark.parametrize(
    ("module", "heavy"),
    [
        ("vislang", ("torch", "cv2")),
        ("vislang.train", ("torch", "cv2")),
        ("vislang.cli", ("torch",)),
    ],
)
def test_light_imports(module: str, heavy: tuple[str, ...]) -> None:
    code = f"import sys, {module}; print(' '.join(m for m in {heavy!r} if m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", f"import {module} loads {r.stdout.strip()}"


@pytest.mark.parametrize(
    ("old", "new"),
    [("vislang.models.config", "vislang.train.crossmodal"),
     ("vislang.semantics.skipgram_config", "vislang.train.skipgram")],
)  # fmt: skip
def test_old_runner_modules_still_import(old: str, new: str) -> None:
    import importlib

    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f"{old} is deprecated; use {new}"):
        module = importlib.import_module(old)
    target = importlib.import_module(new)
    assert module.run_config is target.run_config and module.config_help is target.config_help
