"""Readers for the dataset formats people have: Flickr8k, Karpathy JSON, COCO, folders, tag files.

Every reader returns a :class:`~vislang.data.CaptionDataset` or :class:`~vislang.data.TaggedImages`
holding image *paths*; the images are decoded lazily. ``split`` selects before the image files are
checked, so a split list naming 6,000 images works on a folder that holds only some of them with
``on_error="skip"`` (the dropped names are in ``dataset.skipped``).
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from vislang.data.base import (
    CaptionDataset,
    DatasetFormatError,
    OnError,
    TaggedImages,
    canonical_split,
)
from vislang.exceptions import DatasetNotFoundError, InvalidInputError

__all__ = [
    "IMAGE_EXTENSIONS",
    "read_caption_csv",
    "read_coco_captions",
    "read_flickr8k",
    "read_image_folder",
    "read_karpathy_json",
    "read_tag_file",
]

PathLike = str | os.PathLike[str]
SplitArg = str | Sequence[str] | None

#: File extensions :func:`read_image_folder` picks up (compared case-insensitively).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm")

_FLICKR8K_CAPTIONS = ("Flickr8k.token.txt", "captions.csv", "captions.txt")
_FLICKR8K_IMAGE_DIRS = (
    "images",
    "Images",
    "Flicker8k_Dataset",  # sic: the name inside the official zip
    "Flickr8k_Dataset",
    "Flickr8k_Dataset/Flicker8k_Dataset",
    "Flickr8k_Dataset/Flickr8k_Dataset",
)
_FLICKR8K_SPLIT_FILES = {
    "train": ("Flickr_8k.trainImages.txt", "all-train-images.txt"),
    "val": ("Flickr_8k.devImages.txt", "all-dev-images.txt", "all-val-images.txt"),
    "test": ("Flickr_8k.testImages.txt", "all-test-images.txt"),
}
_SPLIT_DIRS = ("train", "val", "valid", "validation", "dev", "test")


# ---------------------------------------------------------------------- helpers
def _wanted(split: SplitArg) -> set[str] | None:
    if split is None:
        return None
    if isinstance(split, str):
        return {canonical_split(split)}
    return {canonical_split(s) for s in split}


def _keep_split(splits: Sequence[str], split: SplitArg, source: Path) -> list[int]:
    """Indices whose split is wanted; an error listing the available ones when none is."""
    wanted = _wanted(split)
    if wanted is None:
        return list(range(len(splits)))
    keep = [i for i, s in enumerate(splits) if s in wanted]
    if not keep:
        raise InvalidInputError(
            f"no images in split {sorted(wanted)} of {source}; available: {sorted(set(splits))}"
        )
    return keep


def _open(path: Path, **kwargs: Any) -> Any:
    """``open(path)`` that names a missing file with a vislang error (also a FileNotFoundError)."""
    try:
        return open(path, **kwargs)  # the caller's `with` closes it
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise DatasetNotFoundError(f"dataset file not found: {path}") from None


def _read_lines(path: Path) -> list[str]:
    with _open(path, encoding="utf-8-sig") as f:
        return f.read().splitlines()


def _first_existing(base: Path, names: Iterable[str]) -> Path | None:
    for name in names:
        p = base / name
        if p.exists():
            return p
    return None


def _guess_images_dir(bases: Sequence[Path], names: Sequence[str], probe: str | None) -> Path:
    """The first candidate folder holding ``probe`` (else the first that exists, else bases[0])."""
    candidates = [b / n for b in bases for n in names] + list(bases)
    existing = [c for c in candidates if c.is_dir()]
    if probe is not None:
        for c in existing:
            if (c / probe).exists():
                return c
    return existing[0] if existing else bases[0]


# ---------------------------------------------------------------------- Flickr8k
def _parse_token_file(path: Path) -> tuple[list[str], list[list[str]]]:
    """``IMAGE.jpg#N<TAB>caption`` lines -> image names (first-seen order) and captions by N."""
    by_image: dict[str, list[tuple[int, str]]] = {}
    for lineno, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue
        head, sep, caption = line.partition("\t")
        if not sep:  # some copies use a space instead of the tab
            head, _, caption = line.strip().partition(" ")
        name, hash_, num = head.strip().rpartition("#")
        if not hash_ or not name or not num.isdigit() or not caption.strip():
            raise DatasetFormatError(
                f"{path}:{lineno}: expected 'IMAGE#N<TAB>caption', got {line[:80]!r}"
            )
        by_image.setdefault(name, []).append((int(num), caption.strip()))
    names = list(by_image)
    return names, [[c for _, c in sorted(by_image[n], key=lambda t: t[0])] for n in names]


def _parse_caption_csv(
    path: Path, image_column: str, caption_column: str, split_column: str | None
) -> tuple[list[str], list[list[str]], list[str] | None]:
    by_image: dict[str, list[str]] = {}
    split_of: dict[str, str] = {}
    with _open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames or []
        needed = [image_column, caption_column] + ([split_column] if split_column else [])
        missing = [c for c in needed if c not in fields]
        if missing:
            raise DatasetFormatError(
                f"{path}:1: header must name the columns {needed}, got {fields} (missing {missing})"
            )
        for row in reader:
            name = (row.get(image_column) or "").strip()
            caption = (row.get(caption_column) or "").strip()
            if not name:
                raise DatasetFormatError(f"{path}:{reader.line_num}: empty {image_column!r} field")
            if not caption:
                continue
            by_image.setdefault(name, []).append(caption)
            if split_column:
                split_of[name] = (row.get(split_column) or "unassigned").strip()
    names = list(by_image)
    splits = [split_of[n] for n in names] if split_column else None
    return names, [by_image[n] for n in names], splits


def read_caption_csv(
    path: PathLike,
    images_dir: PathLike | None = None,
    *,
    split: SplitArg = None,
    image_column: str = "image",
    caption_column: str = "caption",
    split_column: str | None = None,
    on_error: OnError = "raise",
    cache_size: int = 256,
) -> CaptionDataset:
    """Read an ``image,caption`` CSV (one row per caption, with a header row).

    Parameters
    ----------
    path : path
        The CSV file; fields may be quoted (captions often hold commas).
    images_dir : path, optional
        Folder of the images; default ``images/`` or ``Images/`` next to the file, else its folder.
    split : str or sequence of str, optional
        Keep only these splits (needs ``split_column``).
    image_column, caption_column : str
        Header names of the image and caption columns.
    split_column : str, optional
        A column holding each row's split.
    on_error, cache_size
        See :class:`~vislang.data.CaptionDataset`.

    Raises
    ------
    DatasetFormatError
        A missing column (naming the header) or an empty image field (naming the line).
    ImageLoadError
        A missing image with ``on_error="raise"``.
    """
    path = Path(path)
    names, captions, splits = _parse_caption_csv(path, image_column, caption_column, split_column)
    root = (
        Path(images_dir)
        if images_dir is not None
        else _guess_images_dir([path.parent], ("images", "Images"), names[0] if names else None)
    )
    split_list = splits or ["unassigned"] * len(names)
    keep = _keep_split(split_list, split, path)
    return CaptionDataset(
        [root / names[i] for i in keep],
        [captions[i] for i in keep],
        ids=[names[i] for i in keep],
        splits=[split_list[i] for i in keep],
        on_error=on_error,
        cache_size=cache_size,
        name=path.stem,
    )


def read_flickr8k(
    root: PathLike,
    *,
    split: SplitArg = None,
    images_dir: PathLike | None = None,
    captions_file: PathLike | None = None,
    split_files: dict[str, PathLike] | None = None,
    on_error: OnError = "raise",
    cache_size: int = 256,
) -> CaptionDataset:
    """Read Flickr8k: ``Flickr8k.token.txt`` (or the ``image,caption`` CSV) and the split lists.

    Parameters
    ----------
    root : path
        The dataset folder (or the caption file itself). The caption file is the first of
        ``Flickr8k.token.txt``, ``captions.csv``, ``captions.txt`` found in ``root`` or
        ``root/Flickr8k_text``; images are looked up in ``images/``, ``Images/``,
        ``Flicker8k_Dataset/`` (the official name) or ``Flickr8k_Dataset/``.
    split : str or sequence of str, optional
        ``"train"``, ``"val"`` (alias ``"dev"``), ``"test"``, ``"unassigned"`` (in no list).
    images_dir, captions_file : path, optional
        Override the guesses above.
    split_files : dict of str to path, optional
        Split lists (one image name a line). Default ``Flickr_8k.{train,dev,test}Images.txt`` or
        ``all-{train,dev,test}-images.txt`` next to the caption file.
    on_error, cache_size
        See :class:`~vislang.data.CaptionDataset`. The token file covers all 8,091 images: use
        ``on_error="skip"`` on a folder holding only some of them.

    Raises
    ------
    DatasetNotFoundError
        No caption file found (also a FileNotFoundError) (the message lists where it looked).
    DatasetFormatError
        A malformed line (naming file and line number).
    ImageLoadError
        A missing image with ``on_error="raise"`` (naming the file).

    Examples
    --------
    >>> ds = read_flickr8k("data/flickr8k", split="train", on_error="skip")  # doctest: +SKIP
    """
    root = Path(root)
    if captions_file is not None:
        cap_path = Path(captions_file)
    elif root.is_file():
        cap_path, root = root, root.parent
    else:
        found = _first_existing(root, _FLICKR8K_CAPTIONS) or _first_existing(
            root / "Flickr8k_text", _FLICKR8K_CAPTIONS
        )
        if found is None:
            raise DatasetNotFoundError(
                f"no Flickr8k caption file ({', '.join(_FLICKR8K_CAPTIONS)}) in {root} "
                f"or {root / 'Flickr8k_text'}"
            )
        cap_path = found
    if cap_path.suffix == ".csv" or _looks_like_csv(cap_path):
        names, captions, _ = _parse_caption_csv(cap_path, "image", "caption", None)
    else:
        names, captions = _parse_token_file(cap_path)

    split_of: dict[str, str] = {}
    if split_files is None:
        found_files: dict[str, PathLike] = {}
        for name, candidates in _FLICKR8K_SPLIT_FILES.items():
            for base in dict.fromkeys([cap_path.parent, root]):
                p = _first_existing(base, candidates)
                if p is not None:
                    found_files[name] = p
                    break
        split_files = found_files
    for split_name, list_path in split_files.items():
        for line in _read_lines(Path(list_path)):
            if line.strip():
                split_of[line.strip()] = canonical_split(split_name)
    splits = [split_of.get(n, "unassigned") for n in names]

    img_root = (
        Path(images_dir)
        if images_dir is not None
        else _guess_images_dir(
            list(dict.fromkeys([root, cap_path.parent])),
            _FLICKR8K_IMAGE_DIRS,
            names[0] if names else None,
        )
    )
    keep = _keep_split(splits, split, cap_path)
    return CaptionDataset(
        [img_root / names[i] for i in keep],
        [captions[i] for i in keep],
        ids=[names[i] for i in keep],
        splits=[splits[i] for i in keep],
        on_error=on_error,
        cache_size=cache_size,
        name="flickr8k",
    )


def _looks_like_csv(path: Path) -> bool:
    """True for the Kaggle ``captions.txt``, which is a CSV with an ``image,caption`` header."""
    with _open(path, encoding="utf-8-sig") as f:
        first = f.readline().strip().lower()
    return first.replace(" ", "") == "image,caption"


# ---------------------------------------------------------------------- Karpathy JSON
def read_karpathy_json(
    path: PathLike,
    images_dir: PathLike | None = None,
    *,
    split: SplitArg = None,
    on_error: OnError = "raise",
    cache_size: int = 256,
) -> CaptionDataset:
    """Read a Karpathy split file ``dataset_{flickr8k,flickr30k,coco}.json``.

    Each entry of ``images`` has ``filename``, optionally ``filepath`` (COCO: ``train2014`` /
    ``val2014``), ``split`` (``train``/``val``/``test``/``restval``) and ``sentences`` with
    ``raw`` text and ``tokens``. The tokens are kept in ``dataset.tokens``.

    Parameters
    ----------
    path : path
        The JSON file.
    images_dir : path, optional
        Folder the image paths (``filepath/filename``) are relative to. Default: the first of
        ``images/``, ``flickr30k-images/``, ``Flicker8k_Dataset/``, ``Images/`` next to the file
        that holds the first image, else the file's folder.
    split : str or sequence of str, optional
        E.g. ``"test"`` or ``["train", "restval"]`` (the usual training set for COCO).
    on_error, cache_size
        See :class:`~vislang.data.CaptionDataset`.

    Raises
    ------
    DatasetFormatError
        No ``images`` list, or an entry without ``filename``/``sentences`` (naming its index).
    """
    path = Path(path)
    with _open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise DatasetFormatError(f"{path}: expected a JSON object with an 'images' list")
    rel: list[str] = []
    captions: list[list[str]] = []
    tokens: list[list[list[str]]] = []
    splits: list[str] = []
    for k, entry in enumerate(data["images"]):
        if not isinstance(entry, dict) or "filename" not in entry or "sentences" not in entry:
            raise DatasetFormatError(
                f"{path}: images[{k}] needs 'filename' and 'sentences', got {str(entry)[:80]}"
            )
        sents = entry["sentences"]
        raws = [str(s.get("raw", " ".join(s.get("tokens", [])))).strip() for s in sents]
        toks = [list(s.get("tokens", [])) for s in sents]
        if not any(raws):
            continue
        fp = entry.get("filepath")
        rel.append(f"{fp}/{entry['filename']}" if fp else str(entry["filename"]))
        captions.append(raws)
        tokens.append(toks)
        splits.append(str(entry.get("split", "unassigned")))
    root = (
        Path(images_dir)
        if images_dir is not None
        else _guess_images_dir(
            [path.parent],
            ("images", "flickr30k-images", "Flicker8k_Dataset", "Images"),
            rel[0] if rel else None,
        )
    )
    keep = _keep_split(splits, split, path)
    return CaptionDataset(
        [root / rel[i] for i in keep],
        [captions[i] for i in keep],
        ids=[rel[i] for i in keep],
        splits=[splits[i] for i in keep],
        tokens=[tokens[i] for i in keep],
        on_error=on_error,
        cache_size=cache_size,
        name=str(data.get("dataset", path.stem)),
    )


# ---------------------------------------------------------------------- COCO captions
_COCO_NAME = re.compile(r"captions_([a-z]+?)(\d{4})?\.json$")


def _coco_one(
    path: Path, images_dir: PathLike | None
) -> tuple[list[Path], list[list[str]], list[str], str]:
    with _open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict) or "images" not in data or "annotations" not in data:
        raise DatasetFormatError(f"{path}: expected a JSON object with 'images' and 'annotations'")
    m = _COCO_NAME.search(path.name)
    split = canonical_split(m.group(1)) if m else "unassigned"
    folder = f"{m.group(1)}{m.group(2) or ''}" if m else "images"
    files: dict[Any, str] = {}
    for k, im in enumerate(data["images"]):
        if "id" not in im or "file_name" not in im:
            raise DatasetFormatError(f"{path}: images[{k}] needs 'id' and 'file_name'")
        files[im["id"]] = str(im["file_name"])
    caps: dict[Any, list[str]] = {i: [] for i in files}
    for k, ann in enumerate(data["annotations"]):
        image_id = ann.get("image_id")
        if image_id not in caps:
            raise DatasetFormatError(
                f"{path}: annotations[{k}] refers to image_id={image_id!r}, not in 'images'"
            )
        text = str(ann.get("caption", "")).strip()
        if text:
            caps[image_id].append(text)
    ids = [i for i in files if caps[i]]  # test files have images without captions
    if images_dir is not None:
        root = Path(images_dir)
    else:
        root = _guess_images_dir(
            [path.parent.parent, path.parent], (folder, "images"), files[ids[0]] if ids else None
        )
    return [root / files[i] for i in ids], [caps[i] for i in ids], [split] * len(ids), path.stem


def read_coco_captions(
    annotation_files: PathLike | Sequence[PathLike],
    images_dir: PathLike | None = None,
    *,
    split: SplitArg = None,
    on_error: OnError = "raise",
    cache_size: int = 256,
) -> CaptionDataset:
    """Read COCO caption annotations ``captions_{train,val}{2014,2017}.json``.

    The split comes from the file name (``captions_val2014.json`` -> ``"val"``); pass several
    files to get several splits in one dataset. Images without captions are left out.

    Parameters
    ----------
    annotation_files : path or sequence of paths
    images_dir : path, optional
        Folder of the images named by ``images[].file_name``. Default: ``train2017/`` (etc.,
        from the file name) next to the ``annotations/`` folder, else ``images/``.
    split, on_error, cache_size
        See :func:`read_karpathy_json`.

    Raises
    ------
    DatasetFormatError
        Missing keys, or an annotation whose ``image_id`` is not listed in ``images``.
    """
    files = (
        [Path(annotation_files)]
        if isinstance(annotation_files, (str, os.PathLike))
        else [Path(p) for p in annotation_files]
    )
    paths: list[Path] = []
    captions: list[list[str]] = []
    splits: list[str] = []
    for f in files:
        p, c, s, _ = _coco_one(f, images_dir)
        paths += p
        captions += c
        splits += s
    keep = _keep_split(splits, split, files[0])
    return CaptionDataset(
        [paths[i] for i in keep],
        [captions[i] for i in keep],
        ids=[paths[i].name for i in keep],
        splits=[splits[i] for i in keep],
        on_error=on_error,
        cache_size=cache_size,
        name="coco",
    )


# ---------------------------------------------------------------------- folders and tags
def _image_files(folder: Path, extensions: Sequence[str]) -> list[Path]:
    exts = {e.lower() for e in extensions}
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in exts
    )


def _class_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def read_image_folder(
    root: PathLike,
    *,
    split: SplitArg = None,
    extensions: Sequence[str] = IMAGE_EXTENSIONS,
    on_error: OnError = "raise",
    cache_size: int = 256,
) -> TaggedImages:
    """Read ``root/CLASS/image.jpg`` (or ``root/SPLIT/CLASS/image.jpg``) as labelled images.

    Classes are the sorted sub-folder names; each image's tags are ``[class name]``. When
    ``root`` holds split folders (``train``, ``val``/``valid``/``dev``, ``test``) each with class
    folders, the split comes from them; otherwise every image is ``"unassigned"``. Files at the
    top level and hidden files are ignored.

    Raises
    ------
    DatasetFormatError
        ``root`` holds no class folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetNotFoundError(f"image folder not found: {root}")
    subdirs = _class_dirs(root)
    split_dirs = [d for d in subdirs if d.name.lower() in _SPLIT_DIRS and _class_dirs(d)]
    layout = (
        [(canonical_split(d.name), d) for d in split_dirs]
        if split_dirs and len(split_dirs) == len(subdirs)
        else [("unassigned", root)]
    )
    classes = sorted({c.name for _, base in layout for c in _class_dirs(base)})
    if not classes:
        raise DatasetFormatError(f"{root}: expected one sub-folder per class, found none")
    col = {c: i for i, c in enumerate(classes)}
    paths: list[Path] = []
    labels: list[int] = []
    splits: list[str] = []
    for split_name, base in layout:
        for cdir in _class_dirs(base):
            for p in _image_files(cdir, extensions):
                paths.append(p)
                labels.append(col[cdir.name])
                splits.append(split_name)
    keep = _keep_split(splits, split, root)
    return TaggedImages(
        [paths[i] for i in keep],
        [[classes[labels[i]]] for i in keep],
        labels=[labels[i] for i in keep],
        classes=classes,
        ids=[str(paths[i].relative_to(root)) for i in keep],
        splits=[splits[i] for i in keep],
        on_error=on_error,
        cache_size=cache_size,
        name=root.name,
    )


def read_tag_file(
    path: PathLike,
    images_dir: PathLike | None = None,
    *,
    lowercase: bool = False,
    on_error: OnError = "raise",
    cache_size: int = 256,
) -> TaggedImages:
    """Read a tag file: one image per line followed by its tags.

    ``image.jpg sky sea boat`` (whitespace), ``image.jpg<TAB>sky<TAB>sea`` or
    ``image.jpg, sky, sea`` (commas; then tags may hold spaces). Blank lines and lines starting
    with ``#`` are ignored; an image listed twice gets the union of its tags (first-seen order).

    Parameters
    ----------
    path : path
    images_dir : path, optional
        Default: the file's folder, or ``images/`` next to it when that holds the first image.
    lowercase : bool, default=False
        Lower-case the tags.
    on_error, cache_size
        See :class:`~vislang.data.CaptionDataset`.
    """
    path = Path(path)
    tags_of: dict[str, dict[str, None]] = {}
    for line in _read_lines(path):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if "," in text:
            fields = [t.strip() for t in text.split(",")]
        elif "\t" in text:
            fields = [t.strip() for t in text.split("\t")]
        else:
            fields = text.split()
        name, words = fields[0], [w.lower() if lowercase else w for w in fields[1:] if w]
        tags_of.setdefault(name, {}).update(dict.fromkeys(words))
    names = list(tags_of)
    if images_dir is not None:
        root = Path(images_dir)
    else:
        root = _guess_images_dir([path.parent], ("images", "Images"), names[0] if names else None)
    return TaggedImages(
        [root / n for n in names],
        [list(tags_of[n]) for n in names],
        ids=names,
        on_error=on_error,
        cache_size=cache_size,
        name=path.stem,
    )
