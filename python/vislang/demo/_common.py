"""What every demo section shares: the run context, progress bars and the section protocol.

A section is a module with

- ``KEY``: its entry in ``metrics.json``;
- ``TITLE``: the progress line printed while it runs;
- ``HEADING``: its report heading (numbered by the driver);
- ``run(ctx) -> dict``: compute (metrics; figures into ``ctx.figures``; values for later
  sections into ``ctx.shared``);
- ``report(r, metrics, ctx)``: write its part of the report from ``metrics[KEY]``.

Adding a section is one new module and one line in :data:`vislang.demo.SECTIONS`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from vislang.report import Report

__all__ = ["Context", "Section", "progress_bar", "timing_bars"]


@dataclass
class Context:
    """The demo's settings and what sections hand on to each other."""

    out: Path
    quick: bool = False
    seed: int = 0
    device: str = "cpu"
    n_jobs: int | None = None
    progress: bool = True
    echo: bool = True
    #: PNG figures by name (rendered into the report by the sections).
    figures: dict[str, bytes] = field(default_factory=dict)
    #: Values a section hands on to later ones (the shapes dataset, the BoVW features, ...).
    shared: dict[str, Any] = field(default_factory=dict)
    #: Notes for the report (e.g. why a part is missing).
    notes: dict[str, str] = field(default_factory=dict)


class Section(Protocol):
    """The module protocol of a demo section (see the module docstring)."""

    KEY: str
    TITLE: str
    HEADING: str

    def run(self, ctx: Context) -> dict[str, Any]: ...

    def report(self, r: Report, metrics: dict[str, Any], ctx: Context) -> None: ...


def progress_bar(items: Sequence[Any], enabled: bool, desc: str) -> Iterator[Any]:
    if not enabled:
        yield from items
        return
    from tqdm.auto import tqdm

    yield from tqdm(items, desc=desc, leave=False)


def timing_bars(timings: dict[str, float], title: str) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 0.55 * len(timings) + 1.2))
    ax = fig.add_subplot(1, 1, 1)
    names = list(timings)
    values = [timings[k] for k in names]
    bars = ax.barh(names, values, color=["#3b6fd8" if "vislang" in k else "#999999" for k in names])
    ax.bar_label(bars, labels=[f"{v:.2f} s" for v in values], fontsize=8, padding=3)
    ax.invert_yaxis()
    ax.set_xlabel("seconds (lower is better)")
    ax.set_title(title, fontsize=9)
    ax.set_xlim(0, max([*values, 1e-3]) * 1.25)
    fig.tight_layout()
    return fig
