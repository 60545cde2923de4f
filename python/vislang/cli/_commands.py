"""The subcommand handlers: ``handler(args, parser) -> exit status``."""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vislang.cli._common import (
    BUNDLED_GLOVE,
    BUNDLED_PAIRS,
    CLIError,
    UsageError,
    bundled_pairs_path,
    collect_images,
    descriptors_from_inputs,
    emit,
    existing_file,
    extractor_info,
    is_descriptor_file,
    limit_torch_threads,
    load_bundled_glove,
    log,
    record_extractor,
    recorded_extractor,
    resolve_device,
    resolve_extractor,
    warn,
)
from vislang.cli._train import train_command


def _output_file(path: str) -> Path:
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"--out must be a file name, got the folder {p}")
    p.parent.mkdir(parents=True, exist_ok=True)
    return p


# ---------------------------------------------------------------------- vocab
def vocab(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Descriptors -> k-means visual vocabulary file."""
    from vislang import VisualVocabulary

    out = _output_file(args.out)
    t0 = time.perf_counter()
    from_images = not all(is_descriptor_file(p) for p in args.images)
    resolve_extractor(args, None)
    sharded = _sharded()
    rank, world = 0, 1
    if sharded:
        # torchrun: each rank describes its block of the images (or its block of the rows
        # of saved descriptor sets) and k-means runs over the shards (distributed=True).
        from vislang import _dist
        from vislang.distributed.shards import shard_range

        _dist.init_process_group("gloo")
        rank, world = _dist.rank(), _dist.world_size()
        if from_images:
            files = [str(f) for f in collect_images(list(args.images))]
            start, stop = shard_range(len(files), rank, world)
            args = argparse.Namespace(**{**vars(args), "images": files[start:stop]})
    resumed = False
    if sharded and from_images and args.images:
        ds, names, skipped, resumed = _cached_shard_descriptors(args, out, rank, world)
        X = np.ascontiguousarray(ds.descriptors, dtype=np.float32)
    elif args.images:
        ds, names, skipped = descriptors_from_inputs(args)
        X = np.ascontiguousarray(ds.descriptors, dtype=np.float32)  # packed ORB bytes -> float
    else:  # more ranks than images: an empty shard, which every rank reports
        names, skipped, X = [], [], np.zeros((0, 0), dtype=np.float32)
    if args.save_descriptors and args.images:
        target = Path(args.save_descriptors)
        if sharded:
            target = target.with_name(
                f"{target.stem}.shard-{rank:05d}-of-{world:05d}{target.suffix}"
            )
        ds.save(_output_file(str(target)))
    if sharded and not from_images:
        from vislang.distributed.shards import shard_range

        start, stop = shard_range(len(X), rank, world)
        X = X[start:stop]
    if len(X) == 0 and not sharded:
        more = f" ({len(skipped)} more skipped as unreadable)" if skipped else ""
        raise CLIError(f"no descriptors in the {len(names)} input images{more}")
    sample = args.sample
    if sharded and sample is not None:
        from vislang.distributed.shards import shard_range

        lo, hi = shard_range(sample, rank, world)
        sample = hi - lo
    if sample is not None and len(X) > sample:
        rng = np.random.default_rng([args.seed or 0, rank])
        X = X[np.sort(rng.choice(len(X), size=sample, replace=False))]
    log(args, f"k-means: {len(X)} descriptors of dimension {X.shape[1]} -> {args.n_words} words")
    model = VisualVocabulary(
        n_clusters=args.n_words,
        max_iter=args.max_iter,
        batch_size=args.batch_size,
        random_state=args.seed,
        n_jobs=args.threads,
        verbose=not args.quiet and rank == 0,
        distributed=sharded,
    ).fit(X)
    if rank == 0:
        model.save(out)
        if from_images:
            record_extractor(out, extractor_info(args))
    if sharded:
        from vislang import _dist

        _dist.barrier("vislang vocab: vocabulary written")
    result: dict[str, Any] = {
        "images": len(names),
        "skipped_images": len(skipped),
        "descriptors": len(X) if sharded else ds.n_descriptors,
        "descriptors_used": len(X),
        "dim": int(X.shape[1]),
        "n_words": int(model.n_clusters),
        "inertia": float(model.inertia_),
        "n_iter": int(model.n_iter_),
        "seconds": round(time.perf_counter() - t0, 3),
        "out": str(out),
    }
    if args.save_descriptors:
        result["descriptors_file"] = str(args.save_descriptors)
    if sharded and from_images:
        result["resumed"] = resumed
    if rank == 0:  # under torchrun: rank 0's images and descriptors, the global inertia
        emit(args, {**result, "ranks": world} if sharded else result)
    return 0


def _cached_shard_descriptors(
    args: argparse.Namespace, out: Path, rank: int, world: int
) -> tuple[Any, list[str], list[str], bool]:
    """One rank's descriptors for a sharded ``vislang vocab``, cached per shard.

    The descriptors of this rank's images are saved to
    :func:`~vislang.distributed.shards.descriptor_cache_path` with a ``.done`` marker holding a
    digest of the image list and the extractor settings. A rerun loads a cache whose marker
    matches (no extraction); one made from other images or settings is extracted again and
    overwritten. Returns ``(descriptors, names, skipped, resumed)``.
    """
    from vislang.distributed import shards
    from vislang.features import DescriptorSet

    mine = [str(f) for f in args.images]
    settings = {"extractor": extractor_info(args), "on_error": getattr(args, "on_error", None)}
    digest = shards.inputs_digest(mine, settings)
    cache = shards.descriptor_cache_path(out, rank, world)
    if shards.shard_done(cache, digest):
        ds = DescriptorSet.load(cache)
        skipped = [str(n) for n in shards.read_marker(cache).get("skipped", [])]
        log(args, f"rank {rank}: descriptors of {len(mine)} images loaded from {cache.name}")
        return ds, list(ds.names or []), skipped, True
    if cache.with_suffix(".done").is_file():
        log(args, f"rank {rank}: {cache.name} was made from other images or settings, redone")
        cache.with_suffix(".done").unlink()
    ds, names, skipped = descriptors_from_inputs(args)
    tmp = cache.with_name(cache.stem + ".tmp.safetensors")
    ds.save(tmp)
    cache.unlink(missing_ok=True)
    tmp.replace(cache)
    shards.mark_done(cache, digest, images=len(names), skipped=list(skipped))
    return ds, names, skipped, False


# ---------------------------------------------------------------------- encode
#: Code matrices larger than this (bytes) get a warning before they are computed.
_LARGE_CODES = 1 << 30


def image_list_path(out: Path) -> Path:
    """Where ``vislang encode`` writes the image names: ``codes.npy`` -> ``codes.images.txt``."""
    return out.with_name(out.stem + ".images.txt")


def encode(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Images -> bag-of-visual-words / VLAD codes (``.npy``) + the image list."""
    from vislang import VisualVocabulary
    from vislang import encode as encode_images

    if args.encoding == "vlad" and args.weighting == "tfidf":
        raise UsageError("--weighting tfidf applies to the hard and soft encodings, not vlad")
    out = _output_file(args.out)
    if out.suffix != ".npy":
        raise UsageError(f"--out must end in .npy, got {out}")
    vocab_path = existing_file(args.vocab, "vocabulary file")
    model = VisualVocabulary.load(vocab_path)
    resolve_extractor(args, recorded_extractor(vocab_path), str(vocab_path))
    t0 = time.perf_counter()
    if _sharded():
        return _encode_sharded(args, model, vocab_path, out, t0)
    ds, names, skipped = descriptors_from_inputs(args)
    if not names:
        raise CLIError(f"no readable image among the inputs ({len(skipped)} skipped)")
    columns = int(model.n_clusters) * sum(g * g for g in args.pyramid)
    if args.encoding == "vlad":
        columns *= ds.n_dims
    if columns * 4 * len(names) > _LARGE_CODES:
        warn(
            f"{args.encoding} codes with pyramid {','.join(map(str, args.pyramid))} over "
            f"{model.n_clusters} words have {columns:,} columns per image: "
            f"{columns * 4 * len(names) / 1e6:,.0f} MB for {len(names)} images "
            "(fewer words, --pyramid 1 or --encoding hard make them smaller)"
        )
    log(args, f"encoding {len(names)} images ({args.encoding}, pyramid {args.pyramid}) ...")
    codes = encode_images(
        ds,
        model,
        encoding=args.encoding,
        k=args.soft_k,
        pyramid=args.pyramid,
        weighting=None if args.weighting == "none" else args.weighting,
        norm=None if args.norm == "none" else args.norm,
        n_jobs=args.threads,
    )
    np.save(out, codes)
    names_path = image_list_path(out)
    names_path.write_text("".join(n + "\n" for n in names), encoding="utf-8")
    emit(
        args,
        {
            "images": len(names),
            "skipped_images": len(skipped),
            "shape": list(codes.shape),
            "encoding": args.encoding,
            "pyramid": list(args.pyramid),
            "empty_images": int((np.abs(codes).sum(axis=1) == 0).sum()),
            "seconds": round(time.perf_counter() - t0, 3),
            "out": str(out),
            "image_list": str(names_path),
        },
    )
    return 0


def _sharded() -> bool:
    """Whether this process is one rank of several (torchrun, or a running process group)."""
    from vislang import _dist

    return _dist.launched_by_torchrun() or _dist.is_active()


def _encode_codes(args: argparse.Namespace, ds: Any, model: Any) -> Any:
    from vislang import encode as encode_images

    return encode_images(
        ds,
        model,
        encoding=args.encoding,
        k=args.soft_k,
        pyramid=args.pyramid,
        weighting=None if args.weighting == "none" else args.weighting,
        norm=None if args.norm == "none" else args.norm,
        n_jobs=args.threads,
    )


def _encode_sharded(
    args: argparse.Namespace, model: Any, vocab_path: Path, out: Path, t0: float
) -> int:
    """``vislang encode`` on one rank of ``W``: its block of the image list -> one shard.

    Writes ``OUT.shard-r-of-W.npy`` / ``.images.txt`` and, on rank 0 once every rank is done,
    the index ``OUT.shards.json`` (read with :func:`vislang.distributed.shards.read_shards`).
    A shard finished before from the same inputs and settings is kept (resume).
    """
    from vislang import _dist
    from vislang.distributed import shards

    if any(is_descriptor_file(p) for p in args.images):
        raise UsageError("a sharded encode (torchrun) takes image files or folders")
    _dist.init_process_group("gloo")
    rank, world = _dist.rank(), _dist.world_size()
    files = [str(f) for f in collect_images(list(args.images))]
    start, stop = shards.shard_range(len(files), rank, world)
    mine = files[start:stop]
    settings = {
        "vocab": str(vocab_path),
        "encoding": args.encoding,
        "k": args.soft_k,
        "pyramid": list(args.pyramid),
        "weighting": args.weighting,
        "norm": args.norm,
        "extractor": extractor_info(args),
    }
    tfidf = args.weighting == "tfidf"
    # tf-idf needs the document counts of the whole collection: each rank first encodes
    # unweighted, unnormalised counts (their own resumable shard, OUT.counts.shard-*), the
    # counts are added over the ranks, then every rank weights and normalises its rows.
    stage = out.with_name(out.stem + ".counts.npy") if tfidf else out
    stage_settings = {**settings, "weighting": "none", "norm": "none"} if tfidf else settings
    stage_args = argparse.Namespace(
        **{**vars(args), "weighting": "none", "norm": "none"} if tfidf else vars(args)
    )
    digest = shards.inputs_digest(mine, stage_settings)
    codes_path, names_path = shards.shard_paths(stage, rank, world)
    resumed = shards.shard_done(codes_path, digest)
    skipped: list[str] = []
    if resumed:
        rows = len(np.load(codes_path, mmap_mode="r"))
        log(args, f"rank {rank}: shard {codes_path.name} is complete, kept")
    else:
        log(args, f"rank {rank}/{world}: encoding images {start}..{stop - 1} of {len(files)}")
        names: list[str] = []
        codes = np.zeros((0, 0), dtype=np.float32)
        if mine:
            sub = argparse.Namespace(**{**vars(stage_args), "images": mine})
            ds, names, skipped = descriptors_from_inputs(sub)
            codes = _encode_codes(stage_args, ds, model) if names else codes
        shards.write_shard(codes_path, names_path, codes, names, digest)
        rows = len(codes)
    if tfidf:
        codes_path = _weight_shard(args, model, out, codes_path, names_path, rank, world, mine)
    counts = _dist.all_gather_object(rows, "vislang encode: shard sizes")
    index = None
    if rank == 0:
        index = shards.write_index(out, world, counts)
    _dist.barrier("vislang encode: index written")
    result = {
        "rank": rank,
        "world_size": world,
        "images": rows,
        "skipped_images": len(skipped),
        "resumed": resumed,
        "seconds": round(time.perf_counter() - t0, 3),
        "shard": str(codes_path),
        "index": str(shards.index_path(out) if index is None else index),
    }
    if rank == 0:
        emit(args, {**result, "total_images": int(sum(counts))})
    else:
        log(args, json.dumps(result))
    return 0


def _weight_shard(
    args: argparse.Namespace,
    model: Any,
    out: Path,
    counts_path: Path,
    counts_names: Path,
    rank: int,
    world: int,
    mine: list[str],
) -> Path:
    """tf-idf of a sharded encode: the document counts of every rank's unweighted shard,
    added over the ranks, give the idf (written to ``OUT.idf.npy`` by rank 0, for encoding
    new images with ``encode(..., idf=...)``); this rank's shard of ``OUT`` is its counts
    weighted and normalised (kept on a rerun when the idf is unchanged)."""
    from vislang import _dist
    from vislang.bovw.encoding import idf_from_counts, weight_codes
    from vislang.distributed import shards

    raw = np.load(counts_path, mmap_mode="r")
    n_cols = int(model.n_clusters) * sum(g * g for g in args.pyramid)
    df = (raw > 0).sum(axis=0) if len(raw) else np.zeros(n_cols)
    if df.shape != (n_cols,):
        raise CLIError(f"{counts_path}: expected {n_cols} columns, got {raw.shape[1]}")
    df_all, n_all = _dist.sum_float64([df, np.array([len(raw)])], "vislang encode: idf counts")
    if n_all[0] < 1:
        raise CLIError("no readable image among the inputs of any rank")
    idf = idf_from_counts(df_all, int(n_all[0]))
    if rank == 0:
        np.save(out.with_name(out.stem + ".idf.npy"), idf)
    idf_digest = hashlib.sha256(idf.tobytes()).hexdigest()
    digest = shards.inputs_digest(mine, {"counts": counts_path.name, "idf": idf_digest})
    codes_path, names_path = shards.shard_paths(out, rank, world)
    if not shards.shard_done(codes_path, digest):
        names = counts_names.read_text(encoding="utf-8").splitlines()
        norm = None if args.norm == "none" else args.norm
        codes = weight_codes(raw, idf, norm, args.threads) if len(raw) else np.asarray(raw)
        shards.write_shard(codes_path, names_path, codes, names, digest)
    return codes_path


# ---------------------------------------------------------------------- train
def train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``vislang train``: the runner registry (:func:`vislang.cli._train.train_command`)."""
    return train_command(args, parser)


# ---------------------------------------------------------------------- eval
def _load_array(path: str, option: str) -> NDArray[Any]:
    p = existing_file(path, f"{option} file")
    try:
        return np.asarray(np.load(p, allow_pickle=False))
    except (OSError, ValueError) as e:
        raise CLIError(f"cannot read {option} file {p} as a .npy array: {e}") from None


def _write_json(args: argparse.Namespace, result: dict[str, Any]) -> None:
    if args.out:
        from vislang.cli._common import _jsonable

        out = _output_file(args.out)
        out.write_text(json.dumps(_jsonable(result), indent=2) + "\n", encoding="utf-8")
        result["out"] = str(out)


def eval_retrieval(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Embeddings -> recall@K, median / mean rank in both directions."""
    from vislang.eval import retrieval_metrics
    from vislang.exceptions import InvalidInputError

    images = _load_array(args.images, "--images")
    texts = _load_array(args.texts, "--texts")
    text_to_image = _load_array(args.text_to_image, "--text-to-image")
    gallery = len(images) // args.folds if images.ndim >= 1 and args.folds else 0
    too_big = [k for k in args.ks if k > gallery]
    if gallery and too_big:
        per = f" per fold (--folds {args.folds})" if args.folds > 1 else ""
        raise UsageError(
            f"--ks {','.join(map(str, too_big))}: larger than the {gallery} images{per}; "
            "recall at K >= the gallery size is 100% whatever the embeddings"
        )
    try:
        metrics = retrieval_metrics(images, texts, text_to_image, ks=args.ks, n_folds=args.folds)
    except InvalidInputError as e:
        raise CLIError(_flag_names(str(e))) from None
    result: dict[str, Any] = {"n_images": len(images), "n_texts": len(texts), **metrics}
    _write_json(args, result)
    emit(args, result)
    return 0


#: The arguments of ``retrieval_metrics`` and the command-line flags that give them.
_RETRIEVAL_FLAGS = {
    "image_emb": "--images",
    "text_emb": "--texts",
    "text_to_image": "--text-to-image",
    "n_folds": "--folds",
}


def _flag_names(message: str) -> str:
    """A library error message with argument names replaced by the flags that set them."""
    import re

    pattern = r"\b(" + "|".join(_RETRIEVAL_FLAGS) + r")\b"
    return re.sub(pattern, lambda m: _RETRIEVAL_FLAGS[m.group(1)], message)


_VECTOR_FORMATS: dict[str, Any] = {
    "auto": "auto",
    "glove": "glove",
    "word2vec": "word2vec",
    "word2vec-bin": "word2vec-binary",
    "npz": "npz",
}


def _load_pairs(spec: str, fmt: str) -> Any:
    from vislang.eval import load_men, load_simlex999, load_word_pairs, load_wordsim353

    if spec in BUNDLED_PAIRS:
        path, fmt = bundled_pairs_path(spec), spec
    else:
        path = existing_file(spec, "word-pair file")
    if fmt == "auto":
        low = path.name.lower()
        fmt = (
            "simlex999"
            if "simlex" in low
            else "wordsim353"
            if ("wordsim" in low or "ws353" in low)
            else "men"
            if low.startswith("men")
            else "generic"
        )
    loaders = {
        "simlex999": load_simlex999,
        "wordsim353": load_wordsim353,
        "men": load_men,
        "generic": load_word_pairs,
    }
    return loaders[fmt](path)


def eval_similarity(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Word vectors + a word-pair benchmark -> Spearman rho with coverage and a bootstrap CI."""
    from vislang.eval import word_similarity
    from vislang.semantics import load_word_vectors

    if args.vectors == BUNDLED_GLOVE:
        vectors = load_bundled_glove()
    else:
        path = existing_file(args.vectors, "word-vector file")
        log(args, f"reading word vectors from {path} ...")
        vectors = load_word_vectors(path, format=_VECTOR_FORMATS[args.format], on_duplicate="first")
    pairs = _load_pairs(args.pairs, args.pairs_format)
    if args.lower:
        pairs = pairs.lower()
    r = word_similarity(
        vectors,
        pairs,
        n_bootstrap=args.bootstrap,
        random_state=args.seed,
        case_insensitive=args.case_insensitive,
    )
    result: dict[str, Any] = {
        "benchmark": r.name,
        "rho": r.rho,
        "ci_low": r.ci_low,
        "ci_high": r.ci_high,
        "n_pairs": r.n_pairs,
        "n_covered": r.n_covered,
        "n_skipped": r.n_skipped,
        "coverage": round(r.coverage, 4),
        "vectors": args.vectors,
        "n_words": len(vectors),
        "dim": vectors.dim,
    }
    _write_json(args, result)
    emit(args, result)
    return 0


# ---------------------------------------------------------------------- demo
def demo(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """The demo report on built-in data."""
    from vislang.demo import DEFAULT_OUT, run_demo

    device = resolve_device(args.device)
    limit_torch_threads(args.threads)
    out = Path(args.out or DEFAULT_OUT)
    paths = run_demo(
        out,
        quick=args.quick,
        seed=args.seed,
        device=device,
        n_jobs=args.threads,
        progress=not args.quiet,
        echo=not args.json_output,
    )
    if args.json_output:
        emit(args, {k: str(v) for k, v in paths.items()})
    return 0
