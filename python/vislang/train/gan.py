"""``vislang train gan-cls | gan-int | gan-int-cls``: text-to-image GANs (Reed et al. 2016) on
the shapes world, end to end.

1. Shapes-world images with one object each (so that a small classifier can read what was
   drawn) and five captions per image.
2. A VSE caption/image model trained on the same captions (the paper's joint embedding): its
   frozen caption encoder conditions the GAN, its image side scores R-precision.
3. The GAN (:class:`~vislang.models.TextToImageGAN`) trained with
   :class:`~vislang.models.GANTrainer` on precomputed caption embeddings.
4. Metrics on the test captions (one generated image per caption): attribute accuracy per
   attribute (next to the real images' accuracy and chance), R-precision (1 true caption among
   99 random others), FID and Inception Score in EfficientNet-Lite0 features; figures (sample
   grid per caption, interpolation strips) and ``metrics.json`` in ``out``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vislang.exceptions import InvalidInputError
from vislang.options import Option, Schema
from vislang.train.registry import register_runner

__all__ = ["SCHEMA", "demo_figures", "run", "train_shapes_gan"]

PROMPTS = (
    "a red circle",
    "a blue square",
    "a green triangle",
    "a large yellow diamond",
    "a small purple circle in the top left",
    "an orange square on the right",
)


def _schema(name: str) -> Schema:
    o = Option
    return Schema(
        name,
        (
            o("data", "n_train", 3000, "shapes-world training images (one object each)", minimum=8),
            o("data", "n_test", 300, "test images (one caption each is generated)", minimum=2),
            o("data", "image_size", 32, "image size", choices=(32, 64)),
            o("data", "seed", 0, "dataset seed"),
            o(
                "text",
                "encoder",
                "vse",
                "GAN text embeddings: vse (trained here) or minilm (all-MiniLM-L6-v2, cached)",
                choices=("vse", "minilm"),
            ),
            o("text", "vse_epochs", 4, "epochs of the VSE model giving text embeddings", minimum=1),
            o("text", "embed_dim", 64, "VSE joint-space size = the GAN's text_dim", minimum=2),
            o("text", "word_dim", 32, "VSE word embedding size", minimum=1),
            o("model", "ngf", 32, "generator width (64 in the paper)", minimum=1),
            o("model", "ndf", 32, "discriminator width (64 in the paper)", minimum=1),
            o("model", "z_dim", 100, "noise dimension", minimum=1),
            o("model", "embed_dim", 128, "compressed text embedding", minimum=1),
            o("model", "beta", 0.5, "GAN-INT interpolation weight", maximum=1),
            o(
                "model",
                "loss",
                "bce",
                "bce (the paper's) or hinge (extra)",
                choices=("bce", "hinge"),
            ),
            o(
                "model",
                "text_scale",
                0.0,
                "factor on the text embeddings (0 = sqrt(text_dim), unit variance per dimension)",
                minimum=0,
            ),
            o("model", "d_text_batchnorm", False, "batch norm on D's text projection (reedscot)"),
            o(
                "model",
                "d_joint_batch",
                False,
                "stabiliser: D's batch norm over real and fake pairs together",
            ),
            o(
                "model",
                "d_downsample",
                "stride",
                "D's downsampling: stride (the paper's DCGAN) or maxpool (extra: reads shape)",
                choices=("stride", "maxpool"),
            ),
            o("model", "diversity_weight", 0.0, "stabiliser: MSGAN mode-seeking weight for G"),
            o("model", "spectral_norm", False, "extra: spectral norm in D"),
            o("model", "l1_weight", 0.0, "extra: L1 weight between G(z, t) and the real image"),
            o("train", "epochs", 12, "GAN epochs", minimum=1),
            o("train", "batch_size", 64, "batch size", minimum=2),
            o("train", "lr", 2e-4, "Adam learning rate of G and D"),
            o("train", "beta1", 0.5, "Adam beta1"),
            o("train", "max_steps_per_epoch", 0, "cut epochs short (0 = full)"),
            o(
                "train",
                "hard_wrong_fraction",
                0.0,
                "extra: share of wrong captions with the same colour and another shape "
                "(0 = the paper's random wrong captions)",
                minimum=0,
                maximum=1,
            ),
            o("train", "seed", 0, "training seed"),
            o("eval", "classifier_epochs", 10, "epochs of the attribute classifier", minimum=1),
            o(
                "eval",
                "n_distractors",
                99,
                "R-precision: random wrong captions per image",
                minimum=1,
            ),
            o(
                "eval",
                "style_steps",
                300,
                "steps of the style encoder S(x) -> z (0 = no style transfer figure or scores)",
            ),
            o(
                "eval",
                "style_pixel_weight",
                0.0,
                "extra: weight of ||G(S(x), t) - x||^2 on real images when fitting S (0 = §5.4)",
                minimum=0,
            ),
            o("eval", "fid", True, "compute FID / IS in Lite0 features (slow on CPU)"),
            o("eval", "is_splits", 3, "Inception Score splits", minimum=1),
        ),
    )


SCHEMA = _schema("gan-int-cls")
_VARIANTS = {"gan-cls": (True, False), "gan-int": (False, True), "gan-int-cls": (True, True)}


def prepare_shapes(
    config: dict[str, dict[str, Any]], *, device: str = "auto", progress: bool = True
) -> dict[str, Any]:
    """The data and the VSE text model of ``config``: ``train``/``test`` splits, ``vse`` (on
    the CPU), the precomputed caption embeddings ``text``, their ``captions`` and
    ``caption_image``."""
    import torch

    from vislang.data import make_shapes
    from vislang.models import VSE, CaptionPairs, TrainConfig, Trainer, Vocabulary, VSEConfig

    d, t, tr = config["data"], config["text"], config["train"]
    t0 = time.perf_counter()
    ds = make_shapes(
        d["n_train"], 0, d["n_test"], 0, image_size=d["image_size"], max_objects=1, seed=d["seed"]
    )
    train, test = ds.select("train"), ds.select("test")
    t2i, captions = train.pairs()
    torch.manual_seed(tr["seed"])
    vocab = Vocabulary.build(captions)
    vse = VSE(
        vocab,
        VSEConfig(
            backbone="tiny_cnn",
            image_size=d["image_size"],
            text_encoder="gru",
            word_dim=t["word_dim"],
            embed_dim=t["embed_dim"],
            loss="vse++",
        ),
    )
    pixels = vse.image_input(train.images)
    Trainer(
        vse,
        CaptionPairs(pixels, captions, t2i),
        None,
        TrainConfig(epochs=t["vse_epochs"], batch_size=128, lr=2e-3, seed=tr["seed"]),
        device=device,
        progress=progress,
    ).fit()
    vse = vse.cpu().eval()
    if t["encoder"] == "minilm":
        from vislang.models.sentence_encoder import cached_sentence_embeddings

        text = cached_sentence_embeddings(captions)  # (n_captions, 384), cached on disk
    else:
        text = vse.embed_texts(captions)  # (n_captions, embed_dim): precomputed once
    return {
        "train": train,
        "test": test,
        "vse": vse,
        "text": text,
        "caption_image": t2i,
        "captions": captions,
        "vse_s": time.perf_counter() - t0,
    }


def train_shapes_gan(
    config: dict[str, dict[str, Any]],
    *,
    variant: str = "gan-int-cls",
    device: str = "auto",
    out: str | Path | None = None,
    progress: bool = True,
    evaluate: bool = True,
    prepared: dict[str, Any] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Train the shapes-world GAN of ``config`` (a resolved :data:`SCHEMA` config); returns
    ``(gan, metrics)``. ``evaluate=False`` skips the metrics (the demo); ``prepared`` reuses
    the output of :func:`prepare_shapes` (one VSE for several variants)."""
    from vislang.models.gan import TextToImageGAN
    from vislang.models.gan_training import GANTrainConfig, GANTrainer, save_image_grid

    if variant not in _VARIANTS:
        raise InvalidInputError(f"variant must be one of {list(_VARIANTS)}, got {variant!r}")
    m, tr = config["model"], config["train"]
    matching, interp = _VARIANTS[variant]
    out_dir = None if out is None else Path(out)
    p = prepared or prepare_shapes(config, device=device, progress=progress)
    train, test, vse, text, t2i = (p[k] for k in ("train", "test", "vse", "text", "caption_image"))
    timings: dict[str, float] = {"vse_s": p["vse_s"]}
    d = config["data"]
    kwargs: dict[str, Any] = dict(
        image_size=d["image_size"],
        ngf=m["ngf"],
        ndf=m["ndf"],
        z_dim=m["z_dim"],
        embed_dim=m["embed_dim"],
        beta=m["beta"],
        loss=m["loss"],
        spectral_norm=m["spectral_norm"],
        l1_weight=m["l1_weight"],
        text_scale=m["text_scale"] or None,
        d_text_batchnorm=m["d_text_batchnorm"],
        d_joint_batch=m["d_joint_batch"],
        d_downsample=m["d_downsample"],
        diversity_weight=m["diversity_weight"],
        matching_aware=matching,
        interpolate=interp,
    )
    if config["text"]["encoder"] == "minilm":
        from vislang.models.sentence_encoder import MINILM_DIM

        gan = TextToImageGAN.create(text_dim=MINILM_DIM, text_encoder="minilm", **kwargs)
    else:
        gan = TextToImageGAN.from_vse(vse, **kwargs)
    trainer = GANTrainer(
        gan,
        np.asarray(train.images),
        text,
        t2i,
        GANTrainConfig(
            epochs=tr["epochs"],
            batch_size=tr["batch_size"],
            lr=tr["lr"],
            beta1=tr["beta1"],
            max_steps_per_epoch=tr["max_steps_per_epoch"],
            seed=tr["seed"],
            hard_wrong_fraction=tr["hard_wrong_fraction"],
        ),
        device=device,
        progress=progress,
        out=out_dir,
        sample_text=gan.encode_text(list(PROMPTS)),
        hard_wrong=same_colour_other_shape(p["captions"]) if tr["hard_wrong_fraction"] else None,
    )
    t1 = time.perf_counter()
    history = trainer.fit()
    timings["gan_s"] = time.perf_counter() - t1
    gan = trainer.model.cpu().eval()
    metrics: dict[str, Any] = {
        "model": variant,
        "history": history,
        "train_images_per_s": float(np.mean([h["images_per_s"] for h in history])),
    }
    # Under torchrun every rank holds the same GAN; rank 0 alone evaluates and writes.
    lead = trainer.rank == 0
    ev = config["eval"]
    if ev["style_steps"] and lead and (evaluate or out_dir is not None):  # not for the demo
        t3 = time.perf_counter()
        # One caption per training image (its first) for the optional pixel term.
        _, first = np.unique(np.asarray(t2i), return_index=True)
        gan.fit_style_encoder(
            text,
            steps=ev["style_steps"],
            seed=tr["seed"],
            images=np.asarray(train.images)[np.asarray(t2i)[first]],
            image_text=text[first],
            pixel_weight=ev["style_pixel_weight"],
        )
        timings["style_s"] = time.perf_counter() - t3
    if out_dir is not None and lead:
        save_image_grid(gan.generate(list(PROMPTS), n=8, seed=0), out_dir / "samples.png")
        _plot_prompts(gan, out_dir / "samples_per_caption.png")
        _plot_interpolation(gan, out_dir / "interpolation.png")
        if gan.style_encoder is not None:
            queries = np.asarray(test.images[:4])
            fig = style_transfer_figure(gan, queries, list(PROMPTS[:4]))
            fig.savefig(out_dir / "style_transfer.png", dpi=100)
    if evaluate and lead:
        t2 = time.perf_counter()
        metrics.update(_evaluate(gan, vse, train, test, config))
        timings["eval_s"] = time.perf_counter() - t2
    metrics["timings"] = timings
    if out_dir is not None and lead:
        (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1, default=float))
    return gan, metrics


def same_colour_other_shape(captions: Sequence[str]) -> Callable[[Any, Any], Any]:
    """A ``hard_wrong`` sampler for :class:`~vislang.models.gan_training.GANTrainer`: for
    each caption index, a random caption of the same colour naming another shape (-1 when
    the colour has no other shape)."""
    import torch

    from vislang.models.shape_attributes import caption_targets

    t = caption_targets(captions)
    colour, shape = torch.as_tensor(t["colour"]), torch.as_tensor(t["shape"])
    groups: dict[int, Any] = {}  # colour -> caption indices of that colour, by shape

    def sample(rows: Any, generator: Any) -> Any:
        out = torch.full((len(rows),), -1, dtype=torch.long)
        draws = torch.rand(len(rows), generator=generator)
        for k, i in enumerate(rows.tolist()):
            c = int(colour[i])
            if c not in groups:
                groups[c] = torch.nonzero(colour == c)[:, 0]
            same = groups[c]
            other = same[shape[same] != shape[i]]
            if len(other):
                out[k] = other[min(int(draws[k] * len(other)), len(other) - 1)]
        return out

    return sample


def _evaluate(gan: Any, vse: Any, train: Any, test: Any, config: Any) -> dict[str, Any]:
    import torch

    from vislang.eval.generation import (
        attribute_accuracy,
        fid_from_features,
        inception_score,
        lite0_features,
        r_precision,
    )
    from vislang.models.gan import to_uint8
    from vislang.models.shape_attributes import (
        ATTRIBUTES,
        caption_targets,
        fit_attribute_classifier,
        scene_targets,
    )

    ev, seed = config["eval"], config["train"]["seed"]
    clf = fit_attribute_classifier(
        np.asarray(train.images), train.annotations, epochs=ev["classifier_epochs"], seed=seed
    )
    # One caption per test image (its first); one generated image per caption.
    caps = [c[0] for c in test.captions]
    real = np.asarray(test.images)
    # Each caption gets its own noise (generate() shares z_j across texts).
    g = torch.Generator().manual_seed(seed + 1)
    z = torch.randn(len(caps), gan.config.z_dim, generator=g)
    with torch.no_grad():
        fake = to_uint8(gan.eval()(z, gan.encode_text(caps)))
    asked = caption_targets(caps)
    acc_fake = attribute_accuracy(clf.predict(fake), asked)
    acc_real_asked = attribute_accuracy(clf.predict(real), asked)
    acc_real_all = attribute_accuracy(clf.predict(real), scene_targets(test.annotations))
    chance = {k: 1.0 / len(v) for k, v in ATTRIBUTES.items()}

    img_fake = vse.embed_images(fake).numpy()
    img_real = vse.embed_images(real).numpy()
    txt = vse.embed_texts(caps).numpy()
    _, groups = np.unique(np.asarray(caps), return_inverse=True)
    n_d = min(ev["n_distractors"], len(np.unique(groups)) - 1)
    rp = r_precision(
        img_fake, txt, np.arange(len(caps)), n_distractors=n_d, groups=groups, seed=seed
    )
    rp_real = r_precision(
        img_real, txt, np.arange(len(caps)), n_distractors=n_d, groups=groups, seed=seed
    )
    style: dict[str, Any] = {}
    if gan.style_encoder is not None:
        style = _style_scores(gan, clf, real, test.annotations, seed)
    out: dict[str, Any] = {
        **style,
        "n_eval_captions": len(caps),
        "attribute_accuracy": acc_fake,
        "attribute_accuracy_real": acc_real_asked,
        "attribute_accuracy_real_all": acc_real_all,
        "attribute_chance": chance,
        "r_precision": rp,
        "r_precision_real": rp_real,
        "r_precision_distractors": n_d,
    }
    if ev["fid"]:
        f_real, p_real = lite0_features(real)
        f_fake, p_fake = lite0_features(fake)
        splits = min(ev["is_splits"], len(caps))
        out["fid_lite0"] = fid_from_features(f_real, f_fake)
        out["inception_score_lite0"] = inception_score(p_fake, splits)[0]
        out["inception_score_lite0_real"] = inception_score(p_real, splits)[0]
        out["metric_note"] = "FID/IS in EfficientNet-Lite0 features: not comparable to papers'"
    return out


#: Captions without size or place: in style transfer those come from the query (§5.4).
STYLE_CAPTIONS = ("a red circle", "a blue square", "a green triangle", "a yellow diamond")


def _style_scores(
    gan: Any, clf: Any, queries: Any, scenes: Any, seed: int
) -> dict[str, dict[str, float]]:
    """Does style transfer carry the query's size and place? Each query image's ``S(x)``
    rendered with each of :data:`STYLE_CAPTIONS`; the attribute classifier reads size and
    vertical / horizontal third of the result, compared with the query's. The same with random
    ``z`` instead of ``S(x)`` is the baseline (G's own preferences, not chance)."""
    import torch

    from vislang.models.gan import to_uint8
    from vislang.models.shape_attributes import scene_targets

    truth = scene_targets(scenes)
    keys = ("size", "vertical", "horizontal")
    z_style = gan.infer_style(queries)
    z_rand = torch.randn(
        len(queries), gan.config.z_dim, generator=torch.Generator().manual_seed(seed + 2)
    )
    emb = gan.encode_text(list(STYLE_CAPTIONS))
    out: dict[str, dict[str, float]] = {}
    for name, z in (("style_transfer_accuracy", z_style), ("style_transfer_random_z", z_rand)):
        hits = {k: 0.0 for k in keys}
        with torch.no_grad():
            for e in emb:
                pred = clf.predict(to_uint8(gan.eval()(z, e[None].expand(len(z), -1))))
                for k in keys:
                    hits[k] += float((pred[k] == truth[k]).mean()) / len(emb)
        out[name] = hits
    return out


def _plot_prompts(gan: Any, path: Path) -> Any:
    fig = prompt_figure(gan, list(PROMPTS), n=8)
    fig.savefig(path, dpi=100)
    return fig


def prompt_figure(gan: Any, prompts: list[str], n: int = 8, seed: int = 0) -> Any:
    """A matplotlib figure: one row of ``n`` samples per prompt, the prompt as the row title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    imgs = gan.generate(prompts, n=n, seed=seed)
    fig, axes = plt.subplots(len(prompts), n, figsize=(n * 0.9, len(prompts) * 1.0), squeeze=False)
    for r, p in enumerate(prompts):
        for k in range(n):
            ax = axes[r, k]
            ax.imshow(imgs[r, k])
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_title(p, loc="left", fontsize=8)
    fig.tight_layout()
    return fig


def interpolation_figure(gan: Any, pairs: list[tuple[str, str]], steps: int = 8) -> Any:
    """A matplotlib figure: one text-interpolation strip (fixed noise) per caption pair."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        len(pairs), steps, figsize=(steps * 0.9, len(pairs) * 1.0), squeeze=False
    )
    for r, (a, b) in enumerate(pairs):
        strip = gan.interpolate(a, b, steps)
        for k in range(steps):
            axes[r, k].imshow(strip[k])
            axes[r, k].set_xticks([])
            axes[r, k].set_yticks([])
        axes[r, 0].set_title(f"{a}  ->  {b}", loc="left", fontsize=8)
    fig.tight_layout()
    return fig


def style_transfer_figure(gan: Any, queries: Any, captions: list[str]) -> Any:
    """A matplotlib figure (§5.4, Figure 6): one row per query image, the query first, then
    the query's style ``S(x)`` rendered with each caption. ``gan`` needs a fitted style
    encoder (:meth:`~vislang.models.gan.TextToImageGAN.fit_style_encoder`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    imgs = gan.style_transfer(queries, captions)  # (q, k, S, S, 3)
    q, k = imgs.shape[:2]
    fig, axes = plt.subplots(q, k + 1, figsize=((k + 1) * 0.9, q * 1.0), squeeze=False)
    for r in range(q):
        row = [queries[r], *imgs[r]]
        for j, im in enumerate(row):
            axes[r, j].imshow(im)
            axes[r, j].set_xticks([])
            axes[r, j].set_yticks([])
    axes[0, 0].set_title("query", fontsize=7)
    for j, cap in enumerate(captions):
        axes[0, j + 1].set_title(cap, fontsize=6)
    fig.tight_layout()
    return fig


def _plot_interpolation(gan: Any, path: Path) -> Any:
    fig = interpolation_figure(
        gan, [("a red circle", "a blue circle"), ("a large green square", "a small green triangle")]
    )
    fig.savefig(path, dpi=100)
    return fig


def demo_figures(
    *, device: str = "cpu", progress: bool = False, seed: int = 0, quick: bool = False
) -> list[Any]:
    """Train a tiny shapes-world GAN-INT-CLS (under a minute on 2 idle CPU cores; ``quick``: a
    few seconds, for tests) and return two matplotlib figures: samples per caption and text
    interpolation strips."""
    n_train, epochs = (64, 1) if quick else (640, 10)
    config = SCHEMA.resolve(
        {
            "data": {"n_train": n_train, "n_test": 2, "seed": seed},
            "text": {"vse_epochs": 1},
            # configs/gan-int-cls-shapes.toml's departures: lr 1e-3, batch 32, mode seeking.
            "model": {"ngf": 16, "ndf": 16, "diversity_weight": 1.0},
            "train": {"epochs": epochs, "seed": seed, "batch_size": 32, "lr": 1e-3},
        }
    )
    gan, _ = train_shapes_gan(config, device=device, progress=progress, evaluate=False)
    return [
        prompt_figure(gan, list(PROMPTS[:4]), n=6),
        interpolation_figure(gan, [("a red circle", "a blue square")]),
    ]


def compare_variants(
    config: Any,
    variants: tuple[str, ...] = ("gan-cls", "gan-int", "gan-int-cls"),
    *,
    device: str = "auto",
    out: str | Path | None = None,
    progress: bool = True,
) -> dict[str, dict[str, Any]]:
    """Train and evaluate several variants on the same data and VSE text model; returns
    ``{variant: metrics}`` (and writes ``out/VARIANT/metrics.json``)."""
    resolved = SCHEMA.resolve(config)
    prepared = prepare_shapes(resolved, device=device, progress=progress)
    results = {}
    for v in variants:
        where = None if out is None else Path(out) / v
        _, results[v] = train_shapes_gan(
            resolved, variant=v, device=device, out=where, progress=progress, prepared=prepared
        )
    return results


def _make_runner(name: str) -> None:
    schema = _schema(name)

    @register_runner(name, schema=schema, family="gan", description=f"Reed et al. 2016 {name}")
    def run(
        config: Any, *, device: str = "auto", out: Any = None, progress: bool = True
    ) -> dict[str, Any]:
        resolved = config if hasattr(config, "explicit") else schema.resolve(config)
        _, metrics = train_shapes_gan(
            resolved, variant=name, device=device, out=out, progress=progress
        )
        return metrics


for _name in _VARIANTS:
    _make_runner(_name)


def run(
    config: Any,
    *,
    variant: str = "gan-int-cls",
    device: str = "auto",
    out: Any = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train and evaluate ``variant`` on the shapes world; returns the metrics."""
    resolved = _schema(variant).resolve(config)
    _, metrics = train_shapes_gan(
        resolved, variant=variant, device=device, out=out, progress=progress
    )
    return metrics
