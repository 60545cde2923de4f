"""The skip-gram runners (``vislang train skipgram|mmskipgram``).

:func:`run` reads a corpus (and, for ``mmskipgram``, visual vectors from a file or built from
tagged images with bag-of-visual-words), trains, writes the vectors and the model under ``out``
and evaluates word similarity on SimLex-999 and WordSim-353 when their files are available (by
default the copies inside the gensim wheel).

Config sections (one :class:`~vislang.options.Schema` per runner): ``[data]`` the corpus and
the visual source, ``[model]`` the skip-gram's shape, ``[train]`` epochs, learning rates, seed
and threads, ``[eval]`` the benchmarks, ``[output]`` the vector file format. The flat configs of
older releases still load, with a :class:`DeprecationWarning`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vislang.exceptions import InvalidInputError
from vislang.options import REQUIRED, Option, ResolvedConfig, Schema, apply_overrides
from vislang.train.registry import register_runner, runner

if TYPE_CHECKING:
    from vislang.semantics import SkipGram, WordVectors

# Library imports happen when a runner runs: ``vislang --help`` only reads the schemas.

__all__ = ["SCHEMAS", "config_help", "run", "run_config"]

_EXTENSIONS = {"word2vec": "txt", "word2vec-binary": "bin", "glove": "glove.txt", "npz": "npz"}

_COMMON: tuple[Option, ...] = (
    Option("data", "corpus", REQUIRED,
           "text file, one whitespace-tokenised sentence per line (required)"),
    Option("data", "lowercase", False, "lower-case the corpus while reading it"),
    Option("model", "vector_size", 100, "dimension of the word vectors", minimum=1),
    Option("model", "window", 5, "maximum window radius (dynamic window, word2vec)", minimum=1),
    Option("model", "negative", 5, "noise words per (word, context) pair"),
    Option("model", "min_count", 5, "drop words seen fewer times", minimum=1),
    Option("model", "sample", 1e-3, "subsampling threshold of frequent words (0: off)"),
    Option("model", "ns_exponent", 0.75, "exponent of the unigram noise distribution",
           minimum=None),
    Option("model", "max_sentence_length", 10_000, "longer sentences are cut", minimum=1),
    Option("train", "epochs", 5, "passes over the corpus", minimum=1),
    Option("train", "alpha", 0.025, "initial learning rate"),
    Option("train", "min_alpha", 1e-4, "final learning rate (linear decay)"),
    Option("train", "seed", 0, "random seed; recorded in metrics.json"),
    Option("train", "n_jobs", None, "training threads (none: all cores)", kind=int,
           optional=True, minimum=1),
    Option("eval", "evaluate", True, "score SimLex-999 / WordSim-353 after training"),
    Option("eval", "simlex999", None, "SimLex-999 file (none: gensim's copy)", kind=str,
           optional=True),
    Option("eval", "wordsim353", None, "WordSim-353 file (none: gensim's copy)", kind=str,
           optional=True),
    Option("output", "save_format", "word2vec", "format of vectors.<ext>",
           choices=tuple(_EXTENSIONS)),
)  # fmt: skip

_MULTIMODAL: tuple[Option, ...] = (
    Option("data", "visual", None, "visual vectors file (word2vec/GloVe/npz); or images",
           kind=str, optional=True),
    Option("data", "images", None, "tagged images: a folder with one sub-folder per word",
           kind=str, optional=True),
    Option("data", "flickr8k", None, "Flickr8k folder: caption content words tag each photo",
           kind=str, optional=True),
    Option("data", "visual_words", 200, "bag-of-visual-words size k for images/flickr8k",
           minimum=2),
    Option("data", "min_images", 3, "words need this many images for a visual vector",
           minimum=1),
    Option("data", "max_images", None, "use at most this many images (none: all)", kind=int,
           optional=True, minimum=1),
    Option("model", "variant", "A", "A: the word vector itself; B: a learned map M w",
           choices=("A", "B")),
    Option("model", "margin", 0.5, "margin gamma of the max-margin term"),
    Option("model", "n_visual_negatives", 20, "visual negatives per update (k)", minimum=1),
    Option("model", "visual_weight", 1.0, "weight of the visual term"),
)  # fmt: skip


def _ordered(options: tuple[Option, ...]) -> list[Option]:
    sections = list(dict.fromkeys(o.section for o in options))
    return [o for s in sections for o in options if o.section == s]


#: The option schema of each runner.
SCHEMAS: dict[str, Schema] = {
    "skipgram": Schema("skipgram", _COMMON, legacy_flat=True),
    "mmskipgram": Schema("mmskipgram", _ordered(_COMMON + _MULTIMODAL), legacy_flat=True),
}


def config_help(name: str) -> str:
    """Every option of ``name`` with its default, as TOML (deprecated: ``vislang train --list``
    or ``vislang.train.runner(name).schema.help()``)."""
    if name not in SCHEMAS:
        raise InvalidInputError(f"unknown model {name!r}; expected one of {sorted(SCHEMAS)}")
    return runner(name).schema.help()


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


def _visual(cfg: Mapping[str, Any], seed: int, n_jobs: int | None, progress: bool) -> WordVectors:
    from vislang.semantics import bovw_visual_vectors, load_word_vectors, tags_from_captions

    sources = [k for k in ("visual", "images", "flickr8k") if cfg[k] is not None]
    if len(sources) != 1:
        raise InvalidInputError(
            "mmskipgram needs exactly one of data.visual, data.images or data.flickr8k, "
            f"got {sources or 'none'}"
        )
    if cfg["visual"] is not None:
        p = Path(cfg["visual"])
        if not p.is_file():
            raise InvalidInputError(f"visual vectors file {str(p)!r} does not exist")
        return load_word_vectors(p, on_duplicate="first")
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
        n_jobs=n_jobs,
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


def run(
    config: ResolvedConfig,
    *,
    device: str = "auto",
    out: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train ``config.name`` ("skipgram" or "mmskipgram") as the resolved ``config`` says.

    Writes under ``out`` (default ``runs/NAME``): ``vectors.<ext>`` (``output.save_format``),
    ``model.npz`` (:meth:`SkipGram.save`) and ``metrics.json`` (with the config and the seed
    used).

    Returns
    -------
    dict
        ``model``, ``device``, ``seed``, ``vocab_size``, ``tokens``, ``train_seconds``,
        ``words_per_second``, the word-similarity results (``simlex999``, ``wordsim353``: rho,
        95% CI, pairs covered), ``visual_words`` (mmskipgram) and ``files``.

    Raises
    ------
    InvalidInputError
        Missing corpus / visual source, bad values, or a CUDA device.
    """
    from vislang.semantics import MultimodalSkipGram, SkipGram

    name = config.name
    d, m, t = config["data"], config["model"], config["train"]
    used_device = _device(device)
    out_dir = Path(out) if out is not None else Path("runs") / name
    out_dir.mkdir(parents=True, exist_ok=True)
    params = {
        **{k: m[k] for k in ("vector_size", "window", "negative", "min_count", "sample")},
        **{k: m[k] for k in ("ns_exponent", "max_sentence_length")},
        **{k: t[k] for k in ("alpha", "min_alpha", "epochs", "seed", "n_jobs")},
    }
    model: SkipGram
    metrics: dict[str, Any] = {"model": name, "device": used_device, "seed": t["seed"]}
    if name == "mmskipgram":
        visual = _visual(d, t["seed"], t["n_jobs"], progress)
        model = MultimodalSkipGram(
            variant=m["variant"],
            visual=visual,
            margin=m["margin"],
            n_visual_negatives=m["n_visual_negatives"],
            visual_weight=m["visual_weight"],
            progress=progress,
            **params,
        )
    else:
        model = SkipGram(**params, progress=progress)
    enc = model.encode(_sentences(d["corpus"], d["lowercase"]))
    model.fit(enc)
    fmt = config["output"]["save_format"]
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
    if config["eval"]["evaluate"]:
        metrics.update(_evaluate(model.wv, config["eval"]))
    metrics["files"] = [str(vec_path), str(out_dir / "model.npz"), str(out_dir / "metrics.json")]
    metrics["config"] = {s: dict(v) for s, v in config.items()}
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1, default=str))
    return metrics


for _name in SCHEMAS:
    register_runner(
        _name,
        schema=SCHEMAS[_name],
        family="semantics",
        description={
            "skipgram": "skip-gram with negative sampling (Mikolov et al. 2013)",
            "mmskipgram": "multimodal skip-gram (Lazaridou, Pham & Baroni 2015)",
        }[_name],
    )(run)


def run_config(
    name: str,
    config: Mapping[str, Any],
    *,
    device: str = "auto",
    seed: int | None = None,
    out: str | os.PathLike[str],
    progress: bool = True,
) -> dict[str, Any]:
    """Deprecated: ``vislang.train.runner(name)`` (``seed`` = a ``train.seed`` override; flat
    configs of older releases load with a :class:`DeprecationWarning`)."""
    if name not in SCHEMAS:
        raise InvalidInputError(f"unknown model {name!r}; expected one of {sorted(SCHEMAS)}")
    if seed is not None:
        config = apply_overrides(config, [f"train.seed={int(seed)}"])
    return run(runner(name).resolve(config), device=device, out=out, progress=progress)
