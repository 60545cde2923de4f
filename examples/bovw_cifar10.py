"""Bag of visual words + linear SVM on real photos: CIFAR-10 (500 training images per class).

Usage::

    python examples/bovw_cifar10.py [--data ../shared/data/cifar10-train-5k] [--quick]

The data folder holds one sub-folder of JPEG images per class (it is not part of the project;
the script says so and exits when it is missing). The images are split 80/20 per class
(stratified, seeded). Dense SIFT descriptors are extracted once; a vocabulary is fitted on a
sample of the training descriptors; then each encoding (hard, soft, VLAD, with and without a
2-level spatial pyramid) is classified with ``LinearSVC``. The baseline is the same pipeline
built from OpenCV: ``cv2.kmeans`` on the same sample and per-image ``BFMatcher.match`` counts
(what ``BOWKMeansTrainer`` + ``BOWImgDescriptorExtractor`` do; OpenCV 5 no longer exposes them
to Python). The script prints accuracy and timing per configuration, and end-to-end
images/second for DenseSIFT + encode.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.svm import LinearSVC

import vislang
from vislang.features import DenseSIFT, load_image

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-train-5k"


def load(folder: Path) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    images, labels = [], []
    for c, name in enumerate(classes):
        for f in sorted((folder / name).glob("*.jpg")) + sorted((folder / name).glob("*.png")):
            images.append(load_image(str(f), "rgb"))
            labels.append(c)
    return images, np.array(labels), classes


def svm_accuracy(Xtr: Any, ytr: np.ndarray, Xte: Any, yte: np.ndarray, C: float) -> float:
    return float(LinearSVC(C=C, max_iter=5000).fit(Xtr, ytr).score(Xte, yte))


def opencv_baseline(
    ds_tr: Any, ds_te: Any, sample: np.ndarray, n_words: int, iters: int, ytr: Any, yte: Any
) -> tuple[float, float, float]:
    import cv2

    t0 = time.perf_counter()
    criteria = (cv2.TERM_CRITERIA_MAX_ITER, iters, 0.0)
    _, _, centers = cv2.kmeans(sample, n_words, None, criteria, 1, cv2.KMEANS_PP_CENTERS)
    t_vocab = time.perf_counter() - t0
    matcher = cv2.BFMatcher(cv2.NORM_L2)

    def encode(ds: Any) -> np.ndarray:
        out = np.zeros((ds.n_images, n_words), np.float32)
        for i, f in enumerate(ds):
            if len(f.descriptors):
                labels = [m.trainIdx for m in matcher.match(f.descriptors, centers)]
                out[i] = np.bincount(labels, minlength=n_words)
        # Same Hellinger normalisation as the vislang runs.
        out = np.sqrt(out / np.maximum(out.sum(axis=1, keepdims=True), 1))
        return out

    t0 = time.perf_counter()
    Xtr, Xte = encode(ds_tr), encode(ds_te)
    t_enc = time.perf_counter() - t0
    return svm_accuracy(Xtr, ytr, Xte, yte, 1.0), t_vocab, t_enc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--n-words", type=int, default=512)
    ap.add_argument("--vlad-words", type=int, default=32)
    ap.add_argument("--sample", type=int, default=100_000, help="descriptors for k-means")
    ap.add_argument("--max-iter", type=int, default=20)
    ap.add_argument("--step", type=int, default=4)
    ap.add_argument("--n-jobs", type=int, default=None)
    ap.add_argument(
        "--backend", choices=("rust", "opencv"), default="rust", help="DenseSIFT backend"
    )
    ap.add_argument("--quick", action="store_true", help="1000 images, smaller vocabulary")
    ap.add_argument("--no-opencv", action="store_true")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(f"CIFAR-10 folder not found: {args.data} (pass --data); nothing to do.")
        return 0
    images, y, classes = load(args.data)
    if args.quick:
        keep = np.concatenate([np.flatnonzero(y == c)[:100] for c in range(len(classes))])
        images, y = [images[i] for i in keep], y[keep]
        args.n_words, args.sample = min(args.n_words, 128), min(args.sample, 20_000)
    idx_tr, idx_te = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=0)
    print(f"{len(y)} images, {len(classes)} classes, train {len(idx_tr)}, test {len(idx_te)}")

    ext = DenseSIFT(step=args.step, sizes=(4, 6, 8), backend=args.backend, n_jobs=args.n_jobs)
    t0 = time.perf_counter()
    ds = ext.transform(images)
    t_extract = time.perf_counter() - t0
    print(
        f"DenseSIFT: {ds.n_descriptors} descriptors ({ds.n_descriptors // len(y)} per image) "
        f"in {t_extract:.1f} s"
    )
    ds_tr, ds_te = ds[idx_tr], ds[idx_te]
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(ds_tr.n_descriptors, min(args.sample, ds_tr.n_descriptors), False))
    sample = np.ascontiguousarray(ds_tr.descriptors[rows])

    def vocab(k: int) -> tuple[Any, float]:
        t0 = time.perf_counter()
        v = vislang.VisualVocabulary(
            k, max_iter=args.max_iter, random_state=0, n_jobs=args.n_jobs
        ).fit(sample)
        return v, time.perf_counter() - t0

    voc, t_voc = vocab(args.n_words)
    vvoc, t_vvoc = vocab(args.vlad_words)
    print(f"vocabulary k={args.n_words}: {t_voc:.1f} s; VLAD k={args.vlad_words}: {t_vvoc:.1f} s")

    configs: list[tuple[str, Any, dict[str, Any]]] = [
        ("hard", voc, {"encoding": "hard", "norm": "power"}),
        ("soft k=5", voc, {"encoding": "soft", "k": 5, "norm": "power"}),
        ("vlad", vvoc, {"encoding": "vlad", "norm": "power", "intra_norm": True}),
        ("hard + pyramid (1,2)", voc, {"encoding": "hard", "norm": "power", "pyramid": (1, 2)}),
        (
            "soft k=5 + pyramid (1,2)",
            voc,
            {"encoding": "soft", "k": 5, "norm": "power", "pyramid": (1, 2)},
        ),
        (
            "vlad + pyramid (1,2)",
            vvoc,
            {"encoding": "vlad", "norm": "power", "intra_norm": True, "pyramid": (1, 2)},
        ),
    ]
    print(f"{'encoding':28s} {'dims':>7s} {'encode s':>9s} {'img/s':>9s} {'accuracy':>9s}")
    for name, v, kw in configs:
        sigma = None
        if kw["encoding"] == "soft":  # bandwidth learned on the training images only
            from vislang.bovw.encoding import encode_with_state

            _, sigma, _ = encode_with_state(ds_tr, v, n_jobs=args.n_jobs, **kw)
        t0 = time.perf_counter()
        Xtr = vislang.encode(ds_tr, v, sigma=sigma, n_jobs=args.n_jobs, **kw)
        Xte = vislang.encode(ds_te, v, sigma=sigma, n_jobs=args.n_jobs, **kw)
        t_enc = time.perf_counter() - t0
        acc = svm_accuracy(Xtr, y[idx_tr], Xte, y[idx_te], 1.0)
        ips = len(y) / (t_extract + t_enc)  # end to end: DenseSIFT + encode
        print(f"{name:28s} {Xtr.shape[1]:7d} {t_enc:9.2f} {ips:9.0f} {acc:9.3f}")
    if not args.no_opencv:
        acc, t_v, t_e = opencv_baseline(
            ds_tr, ds_te, sample, args.n_words, args.max_iter, y[idx_tr], y[idx_te]
        )
        ips = len(y) / (t_extract + t_e)
        print(
            f"{'opencv hard (baseline)':28s} {args.n_words:7d} {t_e:9.2f} {ips:9.0f} {acc:9.3f}"
            f"   (cv2.kmeans {t_v:.1f} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
