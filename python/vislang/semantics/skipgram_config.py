"""Config-driven skip-gram training for the command line (``vislang train skipgram|mmskipgram``).

:func:`run_config` reads a corpus (and, for ``mmskipgram``, visual vectors from a file or built
from tagged images with bag-of-visual-words), trains, writes the vectors and the model under
``out`` and evaluates word similarity on SimLex-999 and WordSim-353 when their files are
available (by default the copies inside the gensim wheel). :func:`config_help` lists every option.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vislang.exceptions import InvalidInputError
from vislang.semantics.skipgram import MultimodalSkipGram, SkipGram
from vislang.semantics.visual import bovw_visual_vectors
from vislang.semantics.word_vectors import WordVectors, load_word_vectors

__all__ = ["config_help", "run_config"]


@dataclass(frozen=True)
class _Option:
    default: Any
    kind: type | tuple[type, ...]
    doc: str


_REQUIRED = object()

_COMMON: dict[str, _Option] = {
    "corpus": _Option(
        _REQUIRED, str, "text file, one whitespace-tokenised sentence per line (required)"
    ),
    "lowercase": _Option(False, bool, "lower-case the corpus while reading it"),
    "vector_size": _Option(100, int, "dimension of the word vectors"),
    "window": _Option(5, int, "maximum window radius (dynamic window, word2vec)"),
    "negative": _Option(5, int, "noise words per (word, context) pair"),
    "min_count": _Option(5, int, "drop words seen fewer times"),
    "sample": _Option(1e-3, float, "subsampling threshold of frequent words (0: off)"),
    "alpha": _Option(0.025, float, "initial learning rate"),
    "min_alpha": _Option(1e-4, float, "final learning rate (linear decay)"),
    "epochs": _Option(5, int, "passes over the corpus"),
    "seed": _Option(0, int, "random seed (the seed argument overrides it)"),
    "n_jobs": _Option(None, (int, type(None)), "training threads (None: all cores)"),
    "ns_exponent": _Option(0.75, float, "exponent of the unigram noise distribution"),
    "max_sentence_length": _Option(10_000, int, "longer sentences are cut"),
    "evaluate": _Option(True, bool, "score SimLex-999 / WordSim-353 after training"),
    "simlex999": _Option(None, (str, type(None)), "SimLex-999 file (None: gensim's copy)"),
    "wordsim353": _Option(None, (str, type(None)), "WordSim-353 file (None: gensim's copy)"),
    "save_format": _Option(
        "word2vec", str, "format of vectors.<ext>: word2vec, word2vec-binary, glove or npz"
    ),
}

_MULTIMODAL: dict[str, _Option] = {
    "variant": _Option("A", str, "A: the word vector itself; B: a learned map M w"),
    "visual": _Option(
        None, (str, type(None)), "visual vectors file (word2vec/GloVe/npz); or use images"
    ),
    "images": _Option(
        None, (str, type(None)), "tagged images: a folder with one sub-folder per word"
    ),
    "flickr8k": _Option(
        None, (str, type(None)), "Flickr8k folder: caption content words tag each photo"
    ),
    "visual_words": _Option(200, int, "bag-of-visual-words size k for images/flickr8k"),
    "min_images": _Option(3, int, "words need this many images for a visual vector"),
    "max_images": _Option(None, (int, type(None)), "use at most this many images (None: all)"),
    "margin": _Option(0.5, float, "margin gamma of the max-margin term"),
    "n_visual_negatives": _Option(20, int, "visual negatives per update (k)"),
    "visual_weight": _Option(1.0, float, "weight of the visual term"),
}

_OPTIONS: dict[str, dict[str, _Option]] = {
    "skipgram": _COMMON,
    "mmskipgram": {**_COMMON, **_MULTIMODAL},
}


def _options(name: str) -> dict[str, _Option]:
    if name not in _OPTIONS:
        raise InvalidInputError(f"unknown model {name!r}; expected one of {sorted(_OPTIONS)}")
    return _OPTIONS[name]


def config_help(name: str) -> str:
    """Every option of ``name`` ("skipgram" or "mmskipgram") with its default, one per line."""
    lines = [f"[{name}] options (TOML keys):"]
    for key, opt in _options(name).items():
        default = "required" if opt.default is _REQUIRED else repr(opt.default)
        lines.append(f"  {key} = {default}\n      {opt.doc}")
    return "\n".join(lines)


def _resolve(name: str, config: Mapping[str, Any]) -> dict[str, Any]:
    opts = _options(name)
    unknown = [k for k in config if k not in opts]
    if unknown:
        raise InvalidInputError(
            f"unknown option {unknown[0]!r} for {name}; see config_help({name!r})"
        )
    out: dict[str, Any] = {}
    for key, opt in opts.items():
        if key not in config:
            if opt.default is _REQUIRED:
                raise InvalidInputError(f"{name}: option {key!r} is required")
            out[key] = opt.default
            continue
        value = config[key]
        kinds = opt.kind if isinstance(opt.kind, tuple) else (opt.kind,)
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            want = " or ".join("None" if k is type(None) else k.__name__ for k in kinds)
            raise InvalidInputError(
                f"{name}: option {key!r} must be {want}, got {type(value).__name__} {value!r}"
            )
        out[key] = value
    return out


def _device(device: str) -> str:
    if device in ("auto", "cpu"):
        return "cpu"
    if isinstance(device, str) and device.startswith("cuda"):
        raise InvalidInputError(
            f"device={device!r}: the skip-gram trains on the CPU only (use 'auto' or 'cpu')"
        )
    raise InvalidInputError(f"device must be 'auto', 'cpu' or 'cuda[:n]', got {device!r}")


def _sentences(path: str, lowercase: bool) -> Any:
    p = Path(path)
    if not p.is_file():
        raise InvalidInputError(f"corpus file {path!r} does not exist")
    if not lowercase:
        return str(p)

    def gen() -> Any:
        with p.open(encoding="utf-8", errors="replace") as f:
            for line in f:
                yield line.lower().split()

    return gen()


def _visual(cfg: Mapping[str, Any], seed: int, progress: bool) -> WordVectors:
    sources = [k for k in ("visual", "images", "flickr8k") if cfg[k] is not None]
    if len(sources) != 1:
        raise InvalidInputError(
            "mmskipgram needs exactly one of the options 'visual', 'images' or 'flickr8k', "
            f"got {sources or 'none'}"
        )
    if cfg["visual"] is not None:
        p = Path(cfg["visual"])
        if not p.is_file():
            raise InvalidInputError(f"visual vectors file {str(p)!r} does not exist")
        return load_word_vectors(p, on_duplicate="first")
    from vislang.semantics.visual import tags_from_captions

    paths: list[Any]
    tags: list[Any]
    if cfg["images"] is not None:
        from vislang.data import read_image_folder

        ti = read_image_folder(cfg["images"])
        paths, tags = list(ti.paths or []), list(ti.tags)
    else:
        from vislang.data import read_flickr8k

        cd = read_flickr8k(cfg["flickr8k"], on_error="skip")
        paths, tags = list(cd.paths or []), tags_from_captions(cd.captions)
    if cfg["max_images"] is not None:
        paths, tags = paths[: cfg["max_images"]], tags[: cfg["max_images"]]
    if not paths:
        raise InvalidInputError("the image source holds no images")
    return bovw_visual_vectors(
        paths,
        tags,
        k=cfg["visual_words"],
        min_images=cfg["min_images"],
        seed=seed,
        n_jobs=cfg["n_jobs"],
        progress=progress,
    )


def _evaluate(wv: WordVectors, cfg: Mapping[str, Any]) -> dict[str, Any]:
    from vislang.eval import load_simlex999, load_wordsim353, word_similarity

    out: dict[str, Any] = {}
    files = {"simlex999": cfg["simlex999"], "wordsim353": cfg["wordsim353"]}
    if None in files.values():
        try:
            from gensim.test.utils import datapath
        except ImportError:
            datapath = None
        bundled = {"simlex999": "simlex999.txt", "wordsim353": "wordsim353.tsv"}
        for key, path in files.items():
            if path is None and datapath is not None:
                files[key] = str(datapath(bundled[key]))
    loaders = {"simlex999": load_simlex999, "wordsim353": load_wordsim353}
    for key, path in files.items():
        if path is None or not Path(path).is_file():
            out[key] = {"skipped": "benchmark file not available"}
            continue
        pairs = loaders[key](path)
        try:
            r = word_similarity(wv, pairs, case_insensitive=True)
        except InvalidInputError as e:
            out[key] = {"skipped": str(e)}
            continue
        out[key] = {
            "rho": r.rho,
            "ci": [r.ci_low, r.ci_high],
            "n_covered": r.n_covered,
            "n_pairs": r.n_pairs,
        }
    return out


_EXTENSIONS = {"word2vec": "txt", "word2vec-binary": "bin", "glove": "glove.txt", "npz": "npz"}


def run_config(
    name: str,
    config: Mapping[str, Any],
    *,
    device: str = "auto",
    seed: int | None = None,
    out: str | os.PathLike[str],
    progress: bool = True,
) -> dict[str, Any]:
    """Train the model ``name`` ("skipgram" or "mmskipgram") as ``config`` says.

    Writes under ``out``: ``vectors.<ext>`` (``save_format``), ``model.npz``
    (:meth:`SkipGram.save`) and ``metrics.json``.

    Parameters
    ----------
    name : {"skipgram", "mmskipgram"}
    config : mapping
        Options, see :func:`config_help`; unknown keys are an error.
    device : str, default="auto"
        "auto" or "cpu" (the skip-gram has no GPU path; "cuda" is refused).
    seed : int, optional
        Overrides the config's ``seed``.
    out : path
        Output folder (created).
    progress : bool, default=True
        tqdm bars while training.

    Returns
    -------
    dict
        ``model``, ``device``, ``vocab_size``, ``tokens``, ``train_seconds``,
        ``words_per_second``, the word-similarity results (``simlex999``, ``wordsim353``: rho,
        95% CI, pairs covered), ``visual_words`` (mmskipgram) and ``files``.

    Raises
    ------
    InvalidInputError
        Unknown or badly typed option, missing corpus / visual source, bad values.
    """
    cfg = _resolve(name, config)
    used_device = _device(device)
    if seed is not None:
        cfg["seed"] = int(seed)
    if cfg["save_format"] not in _EXTENSIONS:
        raise InvalidInputError(
            f"save_format must be one of {sorted(_EXTENSIONS)}, got {cfg['save_format']!r}"
        )
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    params = {
        k: cfg[k]
        for k in (
            "vector_size",
            "window",
            "negative",
            "min_count",
            "sample",
            "alpha",
            "min_alpha",
            "epochs",
            "seed",
            "n_jobs",
            "ns_exponent",
            "max_sentence_length",
        )
    }
    model: SkipGram
    metrics: dict[str, Any] = {"model": name, "device": used_device}
    if name == "mmskipgram":
        visual = _visual(cfg, cfg["seed"], progress)
        model = MultimodalSkipGram(
            variant=cfg["variant"],
            visual=visual,
            margin=cfg["margin"],
            n_visual_negatives=cfg["n_visual_negatives"],
            visual_weight=cfg["visual_weight"],
            progress=progress,
            **params,
        )
    else:
        model = SkipGram(**params, progress=progress)
    enc = model.encode(_sentences(cfg["corpus"], cfg["lowercase"]))
    model.fit(enc)
    fmt = cfg["save_format"]
    vec_path = out_dir / f"vectors.{_EXTENSIONS[fmt]}"
    model.wv.save(vec_path, format=fmt)
    model.save(out_dir / "model.npz")
    seconds = model.train_seconds_
    metrics.update(
        vocab_size=len(model.wv),
        tokens=int(enc.ids.size),
        words_trained=model.words_trained_,
        train_seconds=seconds,
        words_per_second=model.words_trained_ / seconds if seconds > 0 else math.nan,
    )
    if isinstance(model, MultimodalSkipGram):
        metrics["visual_words"] = len(model.visual_words_)
    if cfg["evaluate"]:
        metrics.update(_evaluate(model.wv, cfg))
    metrics["files"] = [str(vec_path), str(out_dir / "model.npz"), str(out_dir / "metrics.json")]
    metrics["config"] = {k: v for k, v in cfg.items()}
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1, default=str))
    return metrics
