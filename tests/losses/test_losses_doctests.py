"""Run the docstring examples of vislang.losses."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["vislang.losses.functional", "vislang.losses.vse"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
