"""``import vislang.models`` makes PyTorch's OpenMP threads sleep instead of spin between
parallel regions (spinning threads made CPU training several times slower on a busy machine),
unless the user chose a policy or torch was loaded first."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = (
    "import os, sys\n"
    "if sys.argv[1] == 'torch-first':\n"
    "    import torch\n"
    "import vislang.models\n"
    "print(os.environ.get('OMP_WAIT_POLICY', '<unset>'))\n"
)


def _policy_after_import(order: str, preset: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if preset is not None:
        env["OMP_WAIT_POLICY"] = preset
    out = subprocess.run(
        [sys.executable, "-c", PROBE, order],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env=env,
    )
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("order", "preset", "expected"),
    [
        ("models-first", None, "PASSIVE"),
        ("models-first", "ACTIVE", "ACTIVE"),  # the user's choice wins
        ("torch-first", None, "<unset>"),  # too late to matter: not pretended
    ],
)
def test_openmp_wait_policy(order: str, preset: str | None, expected: str) -> None:
    assert _policy_after_import(order, preset) == expected
