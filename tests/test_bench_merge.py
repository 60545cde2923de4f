"""benches/merge.py: groups from an extra run replace or extend the main run's."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

BENCHES = Path(__file__).resolve().parents[1] / "benches"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCHES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _bench(group: str, name: str, best: float) -> dict[str, Any]:
    return {"group": group, "name": name, "extra_info": {}, "stats": {"min": best}}


def _run(scale: str, benches: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "datetime": f"2026-01-01T00:00:00 {scale}",
        "commit_info": {"id": f"{scale}-commit"},
        "vislang": {"scale": scale, "command": f"run {scale}", "load_avg_at_end": [1.0, 0.5]},
        "benchmarks": benches,
    }


def test_extra_groups_replace_and_extend(tmp_path: Path) -> None:
    merge = _load("merge")
    main = _run(
        "default", [_bench("a", "a-x", 1.0), _bench("a", "a-y", 2.0), _bench("b", "b-x", 3.0)]
    )
    extra = _run("full", [_bench("a", "a-x", 10.0), _bench("c", "c-x", 30.0)])
    main_path, extra_path = tmp_path / "main.json", tmp_path / "full.json"
    main_path.write_text(json.dumps(main))
    extra_path.write_text(json.dumps(extra))

    assert merge.main(["merge.py", str(main_path), str(extra_path)]) == 0
    out = json.loads(main_path.read_text())
    by_name = {b["name"]: b for b in out["benchmarks"]}
    # Group "a" is replaced as a whole (a-y is gone), "b" is kept, "c" is added.
    assert sorted(by_name) == ["a-x", "b-x", "c-x"]
    assert by_name["a-x"]["stats"]["min"] == 10.0 and by_name["b-x"]["stats"]["min"] == 3.0
    assert by_name["c-x"]["extra_info"] == {"scale": "full", "merged_from": "full.json"}
    merged = out["vislang"]["merged"]
    assert sorted(merged) == ["a", "c"]
    assert merged["a"]["command"] == "run full" and merged["a"]["commit"] == "full-commit"
    assert out["vislang"]["scale"] == "default"  # the main run's own metadata is kept

    report = _load("report")
    note = report.scale_note("a", [by_name["a-x"]], out["vislang"])
    assert "`run full`" in note[0] and "full-commit" in note[0] and "1.00, 0.50" in note[0]
    assert report.scale_note("b", [by_name["b-x"]], out["vislang"]) == []


def test_usage_without_extra_files(capsys: Any) -> None:
    assert _load("merge").main(["merge.py", "only-main.json"]) == 2
    assert "Usage" in capsys.readouterr().err


def test_report_folds_in_real_data_files_in_order(tmp_path: Path) -> None:
    report = _load("report")
    (tmp_path / "results").mkdir()
    (tmp_path / "real_data.md").write_text("## Real data\n\nfirst\n")
    (tmp_path / "results" / "b.md").write_text("### b\n\nthird\n")
    (tmp_path / "results" / "a.md").write_text("### a\n\nsecond\n")
    (tmp_path / "results" / "notes.txt").write_text("not markdown\n")
    text = "\n".join(report.real_data_sections(tmp_path))
    assert text.index("first") < text.index("second") < text.index("third")
    assert "not markdown" not in text
    assert report.real_data_sections(tmp_path / "missing") == []
