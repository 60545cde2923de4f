"""A self-contained HTML report: sections of text, metric tables and embedded PNG figures.

Used by ``vislang demo``. Figures are matplotlib :class:`~matplotlib.figure.Figure` objects
(Agg, no pyplot state) rendered to PNG and embedded as base64, so the single ``report.html``
opens offline. Only the standard library is imported here; matplotlib is imported by the code
that draws the figures.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["Report", "figure_png", "format_value", "html_table"]

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
h1 { margin-bottom: 0; } .sub { color: #666; margin-top: .2em; }
table { border-collapse: collapse; margin: .6em 0 1.2em; font-size: 14px; }
td, th { border: 1px solid #ccc; padding: 3px 10px; text-align: left; }
th { background: #f3f3f3; } img { max-width: 100%; }
.note { background: #fff6d6; border-left: 4px solid #e0b000; padding: .5em 1em; }
"""


def format_value(value: Any) -> str:
    """A short human form of a metric: floats with 4 significant digits, lists joined."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {format_value(v)}" for k, v in value.items())
    return str(value)


def html_table(rows: Iterable[Iterable[Any]], header: Iterable[str] | None = None) -> str:
    """An HTML table; the first cell of each row is a header cell. Every cell is escaped."""
    parts = ["<table>"]
    if header is not None:
        parts.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>")
    for row in rows:
        cells = [format_value(c) for c in row]
        if not cells:
            continue
        first, rest = cells[0], cells[1:]
        parts.append(
            f"<tr><th>{html.escape(first)}</th>"
            + "".join(f"<td>{html.escape(c)}</td>" for c in rest)
            + "</tr>"
        )
    parts.append("</table>")
    return "".join(parts)


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """Render a matplotlib figure to PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


@dataclass
class Report:
    """An HTML report built section by section.

    Examples
    --------
    >>> r = Report("demo", subtitle="quick mode")
    >>> r.section("1. Numbers")
    >>> r.table([("accuracy", 0.91234567)])
    >>> r.note("a <b>marked</b> note")
    >>> page = r.html()
    >>> "<td>0.9123</td>" in page and "&lt;b&gt;" in page
    True
    """

    title: str
    subtitle: str = ""
    _parts: list[str] = field(default_factory=list)
    n_figures: int = 0

    def section(self, title: str) -> None:
        """Start a section with a heading."""
        self._parts.append(f"<h2>{html.escape(title)}</h2>")

    def text(self, text: str) -> None:
        """A paragraph of plain text (escaped)."""
        self._parts.append(f"<p>{html.escape(text)}</p>")

    def raw(self, markup: str) -> None:
        """Trusted HTML markup, inserted as is."""
        self._parts.append(markup)

    def note(self, text: str) -> None:
        """A highlighted note (e.g. a section that is not available in this build)."""
        self._parts.append(f"<p class='note'>{html.escape(text)}</p>")

    def table(self, rows: Iterable[Iterable[Any]], header: Iterable[str] | None = None) -> None:
        """A metrics table: see :func:`html_table`."""
        self._parts.append(html_table(rows, header))

    def image(self, png: bytes, alt: str) -> None:
        """Embed PNG bytes."""
        b64 = base64.b64encode(png).decode("ascii")
        self._parts.append(f'<p><img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}">')
        self.n_figures += 1

    def figure(self, fig: Figure, alt: str) -> None:
        """Embed a matplotlib figure."""
        self.image(figure_png(fig), alt)

    def html(self) -> str:
        """The whole page."""
        head = [
            "<!doctype html><html><head><meta charset='utf-8'>",
            f"<title>{html.escape(self.title)}</title><style>{_CSS}</style></head><body>",
            f"<h1>{html.escape(self.title)}</h1>",
        ]
        if self.subtitle:
            head.append(f"<p class='sub'>{html.escape(self.subtitle)}</p>")
        return "\n".join([*head, *self._parts, "</body></html>"]) + "\n"

    def write(self, path: str | Path) -> Path:
        """Write the page (UTF-8) and return its path."""
        path = Path(path)
        path.write_text(self.html(), encoding="utf-8")
        return path
