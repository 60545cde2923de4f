"""Merge the groups of extra benchmark runs into a main pytest-benchmark JSON.

Usage: ``python benches/merge.py MAIN.json EXTRA.json [EXTRA.json ...]``

Every group measured in an EXTRA file (typically a ``VISLANG_BENCH_SCALE=full`` run of a few
groups at the issues' sizes, ``make bench-full``) replaces the group of the same name in MAIN, or
is added to it. MAIN keeps, under ``vislang.merged`` (per group), the command, scale, date,
commit and load average of the run it came from, so ``report.py`` can say where it comes from.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def group_of(bench: dict[str, Any]) -> str:
    return str(bench["group"] or bench["name"])


def merge(main: dict[str, Any], extra: dict[str, Any], source: str) -> list[str]:
    """Replace ``main``'s groups by ``extra``'s; returns the merged group names."""
    groups = sorted({group_of(b) for b in extra["benchmarks"]})
    meta = extra.get("vislang", {})
    for b in extra["benchmarks"]:
        b["extra_info"].setdefault("scale", meta.get("scale"))
        b["extra_info"]["merged_from"] = source
    kept = [b for b in main["benchmarks"] if group_of(b) not in groups]
    main["benchmarks"] = kept + extra["benchmarks"]
    run = {
        "source": source,
        "command": meta.get("command"),
        "scale": meta.get("scale"),
        "datetime": extra.get("datetime"),
        "commit": (extra.get("commit_info") or {}).get("id"),
        "load_avg_at_end": meta.get("load_avg_at_end"),
    }
    merged = main.setdefault("vislang", {}).setdefault("merged", {})
    merged.update(dict.fromkeys(groups, run))
    return groups


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    main_path = Path(argv[1])
    data = json.loads(main_path.read_text())
    for path in argv[2:]:
        groups = merge(data, json.loads(Path(path).read_text()), Path(path).name)
        print(f"{path}: merged {len(groups)} group(s): {', '.join(groups)}")
    main_path.write_text(json.dumps(data, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
