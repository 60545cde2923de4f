"""mkdocs hook: the command-line page is generated from the commands' own ``--help``."""

from __future__ import annotations

import argparse
import contextlib
import io
from typing import Any

MARKER = "<!-- vislang-cli-help -->"


def _help(parser: argparse.ArgumentParser) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        parser.print_help()
    return buf.getvalue()


def _walk(parser: argparse.ArgumentParser, prefix: str) -> list[tuple[str, str]]:
    out = [(prefix, _help(parser))]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out.extend(_walk(sub, f"{prefix} {name}"))
    return out


def cli_reference() -> str:
    from vislang.cli import build_parser

    parts = []
    for command, text in _walk(build_parser(), "vislang"):
        level = "#" * min(2 + command.count(" "), 4)
        parts.append(f"{level} `{command}`\n\n```text\n{text.rstrip()}\n```\n")
    return "\n".join(parts)


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    if MARKER in markdown:
        return markdown.replace(MARKER, cli_reference())
    return markdown
