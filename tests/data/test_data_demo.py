"""A shortened ``python -m vislang.demo`` end to end: exit status and the files it writes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest


@pytest.mark.slow
def test_quick_demo_writes_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for module in ("cv2", "skimage", "matplotlib", "sklearn"):
        pytest.importorskip(module)
    from vislang import demo

    out = tmp_path / "demo-out"
    assert demo.main(["--quick", "--out", str(out)]) == 0

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["quick"] is True
    shapes, vocab = metrics["shapes"], metrics["vocabulary"]
    assert shapes["n_images"] == sum(shapes["splits"].values()) > 0
    assert set(shapes["splits"]) == {"train", "val", "test", "heldout"}
    assert shapes["heldout_pairs"]  # pairs that only the heldout split shows
    assert vocab["n_descriptors"] >= vocab["n_clusters"] > 0 and vocab["descriptor_dim"] == 128
    for impl in ("vislang", "sklearn"):
        assert vocab[impl]["fit_seconds"] > 0 and vocab[impl]["inertia"] > 0
    # same data, same settings: the two k-means reach a similar optimum
    assert 0.9 < vocab["inertia_ratio_vislang_over_sklearn"] < 1.1

    report = (out / "report.html").read_text()
    pngs = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', report)
    assert len(pngs) == 3 and all(len(p) > 1000 for p in pngs)
    assert "http://" not in report and "https://" not in report  # self-contained
    printed = capsys.readouterr().out
    assert str((out / "report.html").resolve()) in printed
    assert str((out / "metrics.json").resolve()) in printed
