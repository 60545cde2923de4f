"""Sharded outputs: one file per rank plus an index, read back in the original order.

``vislang encode`` under torchrun splits its image list into contiguous blocks, one per rank
(:func:`shard_range`); rank ``r`` of ``W`` writes ``codes.shard-r-of-W.npy`` and
``codes.shard-r-of-W.images.txt``, then a ``.done`` marker holding a digest of its inputs; rank
0 writes the index ``codes.shards.json`` once every rank is done. :func:`read_shards`
concatenates the shards in rank order, which is the order of the inputs. A rerun after an
interruption skips every shard whose marker matches its inputs (:func:`shard_done`).

``vislang vocab`` under torchrun caches each rank's extracted descriptors the same way
(:func:`descriptor_cache_path`, ``vocab.descriptors.shard-r-of-W.safetensors`` plus its
``.done`` marker): a rerun loads a finished shard instead of extracting again, and re-extracts
one whose marker records other images or extractor settings.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vislang.exceptions import CheckpointError, InvalidInputError

__all__ = [
    "INDEX_FORMAT",
    "descriptor_cache_path",
    "index_path",
    "inputs_digest",
    "mark_done",
    "read_marker",
    "read_shards",
    "shard_done",
    "shard_paths",
    "shard_range",
    "write_index",
    "write_shard",
]

INDEX_FORMAT = "vislang-shards/1"


def shard_range(n: int, rank: int, world_size: int) -> tuple[int, int]:
    """The contiguous block ``[start, stop)`` of ``n`` items for ``rank`` (sizes differ by <= 1)."""
    if world_size < 1 or not 0 <= rank < world_size:
        raise InvalidInputError(f"rank {rank} is not in [0, world_size={world_size})")
    base, extra = divmod(int(n), int(world_size))
    start = rank * base + min(rank, extra)
    return start, start + base + (rank < extra)


def index_path(out: str | os.PathLike[str]) -> Path:
    """``codes.npy`` -> ``codes.shards.json``."""
    p = Path(out)
    return p.with_name(p.stem + ".shards.json")


def shard_paths(out: str | os.PathLike[str], rank: int, world_size: int) -> tuple[Path, Path]:
    """The codes and image-list files of one shard of ``out`` (``codes.npy``)."""
    p = Path(out)
    stem = f"{p.stem}.shard-{rank:05d}-of-{world_size:05d}"
    return p.with_name(stem + ".npy"), p.with_name(stem + ".images.txt")


def _marker(codes: Path) -> Path:
    return codes.with_suffix(".done")


def inputs_digest(names: Sequence[str], settings: Any = None) -> str:
    """A digest of a shard's inputs and settings (what a finished shard is checked against)."""
    h = hashlib.sha256(json.dumps([list(names), settings], sort_keys=True).encode())
    return h.hexdigest()


def shard_done(codes: Path, digest: str) -> bool:
    """Whether this shard was completed from the same inputs (its marker matches)."""
    m = _marker(codes)
    if not (m.is_file() and codes.is_file()):
        return False
    try:
        return bool(json.loads(m.read_text(encoding="utf-8")).get("digest") == digest)
    except (OSError, ValueError):
        return False


def read_marker(path: Path) -> dict[str, Any]:
    """The ``.done`` marker of a finished shard file (``{}`` when missing or unreadable)."""
    try:
        info = json.loads(_marker(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def mark_done(path: Path, digest: str, **info: Any) -> None:
    """Write the ``.done`` marker of ``path`` (after ``path`` itself is complete)."""
    tmp = _marker(path).with_name(_marker(path).name + ".tmp")
    tmp.write_text(json.dumps({"digest": digest, **info}), encoding="utf-8")
    os.replace(tmp, _marker(path))


def descriptor_cache_path(out: str | os.PathLike[str], rank: int, world_size: int) -> Path:
    """The descriptor cache of one rank of a sharded ``vislang vocab --out vocab.safetensors``:
    ``vocab.descriptors.shard-r-of-W.safetensors``."""
    p = Path(out)
    return p.with_name(f"{p.stem}.descriptors.shard-{rank:05d}-of-{world_size:05d}.safetensors")


def write_shard(
    codes_path: Path, names_path: Path, codes: NDArray[Any], names: Sequence[str], digest: str
) -> None:
    """Write one shard atomically (temporary files renamed), then its ``.done`` marker."""
    tmp = codes_path.with_name(codes_path.name + ".tmp.npy")
    np.save(tmp, codes)
    os.replace(tmp, codes_path)
    tmp_names = names_path.with_name(names_path.name + ".tmp")
    tmp_names.write_text("".join(n + "\n" for n in names), encoding="utf-8")
    os.replace(tmp_names, names_path)
    info = {"digest": digest, "rows": len(codes), "images": len(names)}
    _marker(codes_path).write_text(json.dumps(info), encoding="utf-8")


def write_index(out: str | os.PathLike[str], world_size: int, rows: Sequence[int]) -> Path:
    """Write the index of ``world_size`` shards of ``out`` (rank 0, after every rank is done)."""
    shards = []
    for r in range(world_size):
        codes, names = shard_paths(out, r, world_size)
        shards.append({"codes": codes.name, "images": names.name, "rows": int(rows[r])})
    path = index_path(out)
    meta = {"format": INDEX_FORMAT, "world_size": world_size, "shards": shards}
    path.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return path


def read_shards(path: str | os.PathLike[str]) -> tuple[NDArray[Any], list[str]]:
    """The codes and image names of a sharded output, concatenated in the original order.

    ``path`` is the index (``codes.shards.json``) or the ``--out`` given to the sharded run
    (``codes.npy``).

    Raises
    ------
    CheckpointError
        Missing index or shard, or a shard whose rows differ from the index.
    """
    p = Path(path)
    index = p if p.name.endswith(".shards.json") else index_path(p)
    try:
        meta = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise CheckpointError(f"cannot read the shard index {index}: {e}") from e
    if not isinstance(meta, dict) or meta.get("format") != INDEX_FORMAT:
        raise CheckpointError(f"{index} is not a vislang shard index")
    parts, names = [], []
    for s in meta["shards"]:
        codes_path, names_path = index.with_name(s["codes"]), index.with_name(s["images"])
        try:
            codes = np.load(codes_path)
            lines = names_path.read_text(encoding="utf-8").splitlines()
        except OSError as e:
            raise CheckpointError(f"missing shard of {index}: {e}") from e
        if len(codes) != int(s["rows"]) or len(lines) != len(codes):
            raise CheckpointError(
                f"{codes_path}: {len(codes)} rows and {len(lines)} names, the index says "
                f"{s['rows']} (an unfinished run? rerun it to complete the shard)"
            )
        parts.append(codes)
        names.extend(lines)
    return np.concatenate(parts), names
