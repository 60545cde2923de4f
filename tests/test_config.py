"""``vislang.show_config()`` / ``_core.cpu_features()``: the instruction-set level in use."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

import vislang
from vislang import _core

LEVELS = ("scalar", "avx2", "avx512")
FEATURES = (
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512dq",
    "avx512vl",
    "avx512bf16",
    "avx512vnni",
)


def test_show_config_prints_and_returns_the_configuration() -> None:
    buf = io.StringIO()
    cfg = vislang.show_config(file=buf)
    text = buf.getvalue()
    assert cfg["version"] == vislang.__version__
    assert text.startswith(f"vislang {vislang.__version__}")
    assert cfg["isa"] in LEVELS and cfg["isa_detected"] in LEVELS
    assert LEVELS.index(cfg["isa"]) <= LEVELS.index(cfg["isa_detected"])
    assert f"ISA level in use:   {cfg['isa']}" in text
    assert tuple(cfg["features"]) == FEATURES
    assert all(isinstance(v, bool) for v in cfg["features"].values())
    assert cfg["threads"] >= 1
    f = cfg["features"]
    # The AVX-512 level needs F, BW, DQ and VL (and AVX2 + FMA), never F alone.
    full512 = all(f[n] for n in ("avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl"))
    want = "avx512" if full512 else "avx2" if f["avx2"] and f["fma"] else "scalar"
    assert cfg["isa_detected"] == want
    if cfg["bf16_kernels"]:
        assert cfg["isa"] == "avx512" and f["avx512bf16"]
    assert "show_config" in vislang.__all__


def _config_in_subprocess(isa: str) -> tuple[dict[str, object], str]:
    env = {**os.environ, "VISLANG_ISA": isa}
    code = "import io, json, vislang; print(json.dumps(vislang.show_config(file=io.StringIO())))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(out.stdout), out.stderr


def test_vislang_isa_lowers_the_level_in_a_fresh_process() -> None:
    cfg, err = _config_in_subprocess("scalar")
    assert cfg["isa"] == "scalar"
    assert cfg["isa_requested"] == "scalar"
    assert cfg["isa_warning"] is None
    assert cfg["bf16_kernels"] is False
    assert err == ""


@pytest.mark.parametrize("isa", LEVELS)
def test_vislang_isa_never_exceeds_the_cpu(isa: str) -> None:
    cfg, _ = _config_in_subprocess(isa)
    detected = str(cfg["isa_detected"])
    want = LEVELS[min(LEVELS.index(isa), LEVELS.index(detected))]
    assert cfg["isa"] == want
    assert (cfg["isa_warning"] is not None) == (LEVELS.index(isa) > LEVELS.index(detected))


def test_unknown_vislang_isa_warns_and_uses_the_cpu_level() -> None:
    cfg, err = _config_in_subprocess("sse9")
    assert cfg["isa"] == cfg["isa_detected"]
    assert "VISLANG_ISA=sse9 is not one of auto, scalar, avx2, avx512" in str(cfg["isa_warning"])
    assert "vislang: VISLANG_ISA=sse9" in err


def test_cpu_features_matches_the_process_environment() -> None:
    native = _core.cpu_features()
    assert native["isa_requested"] == os.environ.get("VISLANG_ISA")
    assert native["forked"] is False
