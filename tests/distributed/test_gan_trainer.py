"""The GAN trainer on 2 gloo ranks: one step equals averaging the two halves' gradients in one
process, every rank ends with the same weights, rank 0 alone writes, a checkpoint written by 2
processes resumes in 1, and a NaN on one rank stops both, naming it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from vislang.distributed import launch  # noqa: E402
from vislang.models.gan import TextToImageGAN  # noqa: E402
from vislang.models.gan_training import GANTrainConfig, GANTrainer  # noqa: E402


def _data() -> tuple[np.ndarray, Any, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
    text = torch.from_numpy(rng.normal(size=(24, 16)).astype(np.float32))
    return images, text, np.repeat(np.arange(12), 2)


def _config(epochs: int, steps: int) -> GANTrainConfig:
    return GANTrainConfig(epochs=epochs, batch_size=8, max_steps_per_epoch=steps, seed=5)


def _params(model: Any) -> dict[str, Any]:
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def _train(rank: int, folder: str) -> dict[str, Any]:
    torch.manual_seed(rank)  # different initial weights per rank: rank 0's are broadcast
    trainer = GANTrainer(
        TextToImageGAN.example(), *_data(), _config(2, 2), progress=False, out=folder
    )
    start = _params(trainer.model)
    history = trainer.fit()
    return {
        "start": start,
        "history": history,
        "state": {k: v.clone() for k, v in trainer.model.state_dict().items()},
        "shard": trainer._batch(torch.arange(8), 0)[0],  # this rank's real images of a batch
    }


def _one_step(rank: int) -> dict[str, Any]:
    torch.manual_seed(0)
    trainer = GANTrainer(TextToImageGAN.example(), *_data(), _config(1, 1), progress=False)
    trainer.fit()
    return _params(trainer.model)


def _too_small_batch(rank: int) -> str:
    try:
        GANTrainer(TextToImageGAN.example(), *_data(), GANTrainConfig(batch_size=3), progress=False)
    except Exception as e:
        return f"{type(e).__name__}: {e}"
    return "no error"


def _nan_on_rank_1(rank: int) -> str:
    torch.manual_seed(0)
    trainer = GANTrainer(TextToImageGAN.example(), *_data(), _config(2, 1), progress=False)
    trainer.fit(until_epoch=1)
    if rank == 1:
        with torch.no_grad():
            trainer.model.discriminator.head[-1].weight.fill_(float("nan"))
    try:
        trainer.fit()
    except FloatingPointError as e:
        return str(e)
    return "no error"


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], Path]:
    folder = tmp_path_factory.mktemp("gan2")
    return launch(_train, 2, str(folder), timeout=60.0, start_method="fork"), folder


def test_every_rank_ends_with_rank_0s_weights(two_ranks: Any) -> None:
    ranks, _ = two_ranks
    for k, v in ranks[0]["start"].items():
        torch.testing.assert_close(ranks[1]["start"][k], v, rtol=0, atol=0, msg=k)
    for k, v in ranks[0]["state"].items():  # parameters and batch-norm statistics
        torch.testing.assert_close(ranks[1]["state"][k], v, rtol=0, atol=0, msg=k)
    assert ranks[0]["history"] == ranks[1]["history"]
    # each rank trained on its own rows of the global batch
    assert ranks[0]["shard"].shape[0] == ranks[1]["shard"].shape[0] == 4
    assert not torch.equal(ranks[0]["shard"], ranks[1]["shard"])


def test_rank_0_writes_and_one_process_resumes(two_ranks: Any) -> None:
    ranks, folder = two_ranks
    assert (folder / "last.safetensors").is_file()
    assert sorted(p.name for p in folder.glob("samples_epoch*.png")) == [
        "samples_epoch001.png",
        "samples_epoch002.png",
    ]
    images, text, c2i = _data()
    resumed = GANTrainer.resume(
        folder / "last", images, text, c2i, device="cpu", progress=False, distributed=False
    )
    assert resumed.epoch == 2 and resumed.step == 4 and resumed.world_size == 1
    for k, v in ranks[0]["state"].items():
        torch.testing.assert_close(resumed.model.state_dict()[k], v, rtol=0, atol=0, msg=k)
    resumed.config.epochs = 3
    assert resumed.fit()[-1]["epoch"] == 3.0


def test_one_step_equals_the_average_of_both_halves() -> None:
    """What data parallelism must compute, done by hand in one process: the gradients of rank
    0's rows and of rank 1's rows of the same global batch, averaged, then one step."""
    got = launch(_one_step, 2, timeout=60.0, start_method="fork")
    torch.manual_seed(0)
    tr = GANTrainer(TextToImageGAN.example(), *_data(), _config(1, 1), progress=False)
    m = tr.model
    m.train()
    order = torch.randperm(12, generator=torch.Generator().manual_seed(5 * 1_000_003))
    d_params, g_params = list(m.discriminator.parameters()), list(m.generator.parameters())
    grads: list[list[Any]] = []
    tr.world_size = 2
    for rank in (0, 1):
        tr.rank = rank
        real, text, wrong, z = tr._batch(order[:8], 0)
        d_loss, g_loss, _ = m.losses(real, text, wrong, z)
        for p in d_params + g_params:
            p.grad = None
        d_loss.backward(inputs=d_params)
        g_loss.backward(inputs=g_params)
        grads.append([p.grad.clone() for p in d_params + g_params])
    for p, a, b in zip(d_params + g_params, *grads, strict=True):
        p.grad = (a + b) / 2
    tr.opt_d.step()
    tr.opt_g.step()
    want = _params(m)
    for r in got:
        for k, v in want.items():
            torch.testing.assert_close(r[k], v, rtol=1e-5, atol=1e-6, msg=k)
    # and it is not what one process on the whole batch of 8 does
    torch.manual_seed(0)
    whole = GANTrainer(TextToImageGAN.example(), *_data(), _config(1, 1), progress=False)
    whole.fit()
    assert any(not torch.allclose(whole.model.state_dict()[k], v) for k, v in want.items())


def test_nan_on_one_rank_stops_both_naming_it() -> None:
    messages = launch(_nan_on_rank_1, 2, timeout=60.0, start_method="fork")
    for msg in messages:
        assert "discriminator loss is nan on rank 1 at step 1 (epoch 2)" in msg, msg


def test_a_batch_of_fewer_than_2_images_per_rank_is_refused() -> None:
    for msg in launch(_too_small_batch, 2, timeout=60.0, start_method="fork"):
        assert msg.startswith("InvalidInputError: batch_size 3 over 2 processes"), msg
