"""``vislang.show_config()``: which native code path runs here (as ``numpy.show_config``)."""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

import vislang._core as _core


def show_config(*, file: TextIO | None = None) -> dict[str, Any]:
    """Print the version, the CPU features detected and the instruction-set level in use.

    The Rust kernels are compiled for three levels: ``scalar`` (portable), ``avx2`` (AVX2 + FMA)
    and ``avx512`` (AVX-512 F/BW/DQ/VL). The widest level the CPU runs is used unless the
    environment variable ``VISLANG_ISA`` (``scalar``, ``avx2``, ``avx512``), read once when the
    first kernel runs, asks for a lower one; a level above the CPU's is never used, and an
    unknown value is ignored with a warning (``isa_warning``).

    Parameters
    ----------
    file : text stream, optional
        Where to print (default ``sys.stdout``).

    Returns
    -------
    config : dict
        ``version``, ``isa`` (level in use), ``isa_detected`` (widest level of the CPU),
        ``isa_requested`` (``VISLANG_ISA`` or None), ``isa_warning``, ``bf16_kernels`` (whether
        the bfloat16 candidate kernel of the nearest-centre search runs), ``features``
        (feature name -> bool), ``threads`` (default native thread count, honours
        ``RAYON_NUM_THREADS``), ``cpu_count``.

    Examples
    --------
    >>> import io
    >>> cfg = show_config(file=io.StringIO())
    >>> cfg["isa"] in ("scalar", "avx2", "avx512")
    True
    """
    native = _core.cpu_features()
    config: dict[str, Any] = {
        "version": _core.__version__,
        "isa": native["isa"],
        "isa_detected": native["isa_detected"],
        "isa_requested": native["isa_requested"],
        "isa_warning": native["isa_warning"],
        "bf16_kernels": native["bf16_kernels"],
        "features": dict(native["features"]),
        "threads": native["threads"],
        "cpu_count": os.cpu_count(),
    }
    out = sys.stdout if file is None else file
    present = [name for name, ok in config["features"].items() if ok]
    missing = [name for name, ok in config["features"].items() if not ok]
    requested = config["isa_requested"]
    lines = [
        f"vislang {config['version']}",
        "native core:",
        f"  ISA level in use:   {config['isa']}"
        + (f" (VISLANG_ISA={requested})" if requested is not None else ""),
        f"  widest CPU level:   {config['isa_detected']}",
        f"  bfloat16 kernels:   {'yes' if config['bf16_kernels'] else 'no'}",
        f"  CPU features found: {' '.join(present) or '(none)'}",
        f"  CPU features absent: {' '.join(missing) or '(none)'}",
        f"  threads:            {config['threads']} (logical CPUs: {config['cpu_count']})",
    ]
    if config["isa_warning"]:
        lines.append(f"  warning:            {config['isa_warning']}")
    print("\n".join(lines), file=out)
    return config
