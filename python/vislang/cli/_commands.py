"""The subcommand handlers: ``handler(args, parser) -> exit status``."""

from __future__ import annotations

import argparse
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
    ds, names, skipped = descriptors_from_inputs(args)
    if args.save_descriptors:
        ds.save(_output_file(args.save_descriptors))
    X = np.ascontiguousarray(ds.descriptors, dtype=np.float32)  # packed ORB bytes -> float
    if len(X) == 0:
        more = f" ({len(skipped)} more skipped as unreadable)" if skipped else ""
        raise CLIError(f"no descriptors in the {len(names)} input images{more}")
    if args.sample is not None and len(X) > args.sample:
        rng = np.random.default_rng(args.seed)
        X = X[np.sort(rng.choice(len(X), size=args.sample, replace=False))]
    log(args, f"k-means: {len(X)} descriptors of dimension {X.shape[1]} -> {args.n_words} words")
    model = VisualVocabulary(
        n_clusters=args.n_words,
        max_iter=args.max_iter,
        batch_size=args.batch_size,
        random_state=args.seed,
        n_jobs=args.threads,
        verbose=not args.quiet,
    ).fit(X)
    model.save(out)
    if from_images:
        record_extractor(out, extractor_info(args))
    result: dict[str, Any] = {
        "images": len(names),
        "skipped_images": len(skipped),
        "descriptors": ds.n_descriptors,
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
    emit(args, result)
    return 0


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
