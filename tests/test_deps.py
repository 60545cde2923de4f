"""A missing optional dependency is named with the extra that installs it."""

from __future__ import annotations

import importlib.util

import pytest

from vislang import _deps
from vislang.exceptions import MissingDependencyError, VislangError


@pytest.mark.parametrize("module", sorted(_deps.OPTIONAL))
def test_missing_module_names_the_extra(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == module else real(name, *a)
    )
    extra = _deps.OPTIONAL[module][2]
    with pytest.raises(MissingDependencyError, match=rf'pip install "vislang\[{extra}\]"') as info:
        _deps.require(module, "vislang.something")
    assert isinstance(info.value, ImportError) and isinstance(info.value, VislangError)
    assert info.value.name == module
    assert "vislang.something needs" in str(info.value)


def test_installed_module_passes() -> None:
    _deps.require("torch", "vislang.losses")  # the dev environment has every extra
