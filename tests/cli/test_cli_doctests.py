"""Docstring examples of the CLI helpers and the report builder, and the text table output."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("name", ["vislang.cli._train", "vislang.report"])
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def test_table_flattens_nested_results() -> None:
    from vislang.cli._common import format_table

    table = format_table({"r1": 12.3456789, "loss": {"train": 0.5, "val": 0.25}, "ks": [1, 5]})
    assert table.splitlines() == ["r1          12.35", "loss.train  0.5", "loss.val    0.25",
                                  "ks          1, 5"]  # fmt: skip
