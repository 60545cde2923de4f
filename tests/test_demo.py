"""``vislang demo --quick`` end to end (the same code as ``make demo``), and its VSE++ slot."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

NEEDS = ("cv2", "skimage", "matplotlib", "sklearn")


@pytest.mark.slow
def test_quick_demo_writes_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for module in NEEDS:
        pytest.importorskip(module)
    from vislang.cli import main

    out = tmp_path / "demo-out"
    assert main(["demo", "--quick", "--out", str(out), "--quiet", "--device", "cpu"]) == 0

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["quick"] is True and metrics["device"] == "cpu"
    shapes, vocab = metrics["shapes"], metrics["vocabulary"]
    assert shapes["n_images"] == sum(shapes["splits"].values()) > 0
    assert set(shapes["splits"]) == {"train", "val", "test", "heldout"}
    assert shapes["heldout_pairs"]  # pairs that only the heldout split shows
    assert vocab["n_descriptors"] >= vocab["n_clusters"] > 0 and vocab["descriptor_dim"] == 128
    for impl in ("vislang", "sklearn"):
        assert vocab[impl]["fit_seconds"] > 0 and vocab[impl]["inertia"] > 0
    # same data, same settings: the two k-means reach a similar optimum
    assert 0.9 < vocab["inertia_ratio_vislang_over_sklearn"] < 1.1
    # dense SIFT of 2 crops of 128 x 128 (step 8, 4 sizes), timed for both backends
    dsift = vocab["dense_sift"]
    assert dsift["n_images"] == 2 and dsift["n_descriptors"] == 2 * 16 * 16 * 4
    assert dsift["rust_seconds"] > 0 and dsift["opencv_seconds"] > 0

    # 3. BoVW classification: a lone object's shape is learned; the relation task needs the
    # spatial pyramid (an orderless bag cannot tell left from right).
    tasks = metrics["bovw_classification"]["tasks"]
    assert list(tasks) == ["shape", "colour", "binding", "relation"]
    for t in tasks.values():
        assert all(0.0 <= a <= 1.0 for a in t["accuracy"].values())
        assert t["n_test"] > 0 and 0 < t["majority"] < 1
    bow, pyramid = "BoW (k=32)", "BoW + pyramid 1,2 (k=32)"
    assert tasks["shape"]["accuracy"][bow] > tasks["shape"]["majority"] + 0.2
    assert tasks["relation"]["accuracy"][pyramid] > tasks["relation"]["accuracy"][bow] + 0.1
    confusion = metrics["bovw_classification"]["confusion"]["shape"]
    assert sum(map(sum, confusion)) == tasks["shape"]["n_test"]

    # 4. word vectors: the visual space knows which colours look alike, the text space does not
    wv = metrics["word_vectors"]
    assert set(wv["words"]) == {
        "red", "green", "blue", "yellow", "purple", "orange",
        "circle", "square", "triangle", "diamond",
    }  # fmt: skip
    spaces = wv["spaces"]
    if "text" in spaces:  # the GloVe wheel is installed
        assert set(spaces) == {"text", "visual", "fused"}
        assert spaces["visual"]["colour_rho"] > spaces["text"]["colour_rho"] + 0.3
        assert spaces["text"]["nn_accuracy"] >= 0.9  # text separates colour and shape words

    # 5. VSE++ trained on the shapes world: test recall, a training curve and a retrieval grid
    vs = metrics["vsepp"]
    assert vs["available"] is True and vs["seconds"] > 0
    scores = vs["metrics"]
    recalls = ("i2t_r1", "i2t_r5", "i2t_r10", "t2i_r1", "t2i_r5", "t2i_r10")
    assert all(0.0 <= scores[k] <= 100.0 for k in recalls)
    assert scores["i2t_r1"] <= scores["i2t_r5"] <= scores["i2t_r10"]
    assert scores["rsum"] == pytest.approx(sum(scores[k] for k in recalls))
    assert scores["epochs"] == len(scores["history"]) >= 1
    plots = sorted(Path(p).name for p in scores["plots"])
    assert plots == ["retrieval_grid.png", "training_curve.png"]
    assert all((out / "vsepp" / p).is_file() for p in plots)

    # 6. captioning: the COCO metrics of the test captions, attention strips
    cap = metrics["captioning"]
    assert cap["available"] is True and cap["seconds"] > 0
    assert cap["examples"] and all(isinstance(e["caption"], str) for e in cap["examples"])
    assert "x100" in cap["table"]
    assert set(cap["metrics"]) == {"greedy", "beam 3"}
    assert all(0 <= m["bleu4"] <= 1 for m in cap["metrics"].values())
    # 7. text-to-image: a sample grid and an interpolation strip
    assert metrics["gan"]["available"] is True and metrics["gan"]["n_figures"] == 2
    # 8. grounded sentence vectors: every encoder scored on both transfer tasks
    gr = metrics["grounded"]
    assert gr["available"] is True and {"Cap2Img", "text-only autoencoder"} <= set(gr["rows"])
    assert all(0.0 <= v <= 100.0 for row in gr["rows"].values() for v in row.values())
    assert len(gr["neighbours"]["Cap2Img"]) == len(gr["queries"])
    # 9. word-region alignment: correctness against chance and one alignment map
    al = metrics["alignment"]
    assert al["available"] is True and al["n_words"] > 0
    assert 0 < al["alignment_correctness"]["chance"] < 0.5

    report = (out / "report.html").read_text()
    pngs = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', report)
    assert len(pngs) == 7 + 2 + 1 + 2 + 1 and all(len(p) > 1000 for p in pngs)
    for heading in (
        "1. The shapes world",
        "3. Bag-of-visual-words",
        "4. Multimodal word",
        "5. VSE++ cross-modal retrieval",
        "6. Image captioning",
        "7. Text-to-image synthesis",
        "8. Grounded sentence representations",
        "9. Word-region alignment",
    ):
        assert heading in report
    assert "not available in this build" not in report
    assert 'alt="retrieval_grid"' in report and 'alt="training_curve"' in report
    assert "i2t_r10" in report and "rsum" in report
    assert "http://" not in report and "https://" not in report  # self-contained
    printed = capsys.readouterr().out
    assert str((out / "report.html").resolve()) in printed
    assert str((out / "metrics.json").resolve()) in printed


def test_python_dash_m_vislang_demo_is_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    from vislang import demo

    assert demo.main(["--help"]) == 0
    assert "--quick" in capsys.readouterr().out


def test_vsepp_slot_runs_the_model_when_available(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vislang.demo import vsepp
    from vislang.train import registry

    calls: list[tuple[Any, dict[str, Any]]] = []

    def run(config: Any, **kwargs: Any) -> dict[str, float]:
        calls.append((config, kwargs))
        (kwargs["out"] / "retrieval_grid.png").write_bytes(b"\x89PNG fake")
        return {"i2t_r1": 50.0, "t2i_r1": 40.0}

    real = registry.runner("vse++")
    monkeypatch.setitem(registry._RUNNERS, "vse++", registry.Runner("vse++", real.schema, run, "x"))
    metrics, pngs = vsepp._vsepp_step(tmp_path, True, 3, "cpu", False)
    assert metrics["available"] is True and metrics["metrics"] == {"i2t_r1": 50.0, "t2i_r1": 40.0}
    assert [p.name for p in pngs] == ["retrieval_grid.png"]
    ((config, kwargs),) = calls
    assert config.name == "vse++" and config["train"]["seed"] == 3
    assert kwargs == {"device": "cpu", "out": tmp_path / "vsepp", "progress": False}

    monkeypatch.setitem(sys.modules, "vislang.models", None)
    metrics, pngs = vsepp._vsepp_step(tmp_path, True, 3, "cpu", False)
    assert metrics["available"] is False and "not available in this build" in metrics["note"]


def test_demo_sections_are_modules() -> None:
    """Adding a section is one module and one line: every section follows the protocol."""
    from vislang import demo

    assert [s.KEY for s in demo.SECTIONS] == [
        "shapes", "vocabulary", "bovw_classification", "word_vectors", "vsepp", "captioning",
        "gan", "grounded", "alignment",
    ]  # fmt: skip
    for section in demo.SECTIONS:
        assert callable(section.run) and callable(section.report)
        assert section.TITLE and section.HEADING
