"""The one ending of every figure function in :mod:`vislang.eval`: return the figure, or write
it (creating the folder) and close it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def finish_figure(fig: Any, path: str | os.PathLike[str] | None, *, dpi: int = 100) -> Any:
    """``fig`` itself when ``path`` is None, else the written PNG's :class:`~pathlib.Path`."""
    if path is None:
        return fig
    import matplotlib.pyplot as plt

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out
