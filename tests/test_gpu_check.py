"""benches/gpu_check.py (the prepared CUDA script) runs end to end on the CPU with the torch-ops
backend standing in for CUDA, so a lent GPU never finds the script itself broken."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benches" / "gpu_check.py"


@pytest.mark.slow
def test_gpu_check_simulated_on_cpu(tmp_path: Path) -> None:
    out = tmp_path / "gpu.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--simulate-on-cpu", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    result = json.loads(out.read_text())
    failed = {k: v.get("error") for k, v in result["checks"].items() if not v["ok"]}
    assert not failed, f"{failed}\n{proc.stdout}\n{proc.stderr}"
    assert proc.returncode == 0
    names = set(result["checks"])
    assert any(n.startswith("contrastive_ranking vse++") for n in names)
    assert "warp (every draw violates: deterministic rank)" in names
    from vislang.models import list_models

    assert {f"AMP training step: {m}" for m in list_models()} <= names
