"""Smoke script for an installed vislang wheel, run from outside the source tree.

``python wheel_smoke.py core``: with only the runtime dependencies (no torch, no OpenCV):
k-means, assign, encode on a DescriptorSet, a word-similarity evaluation, ``vislang --help``,
and the message that names the ``[vision]`` extra when a torch subpackage is imported.
``python wheel_smoke.py vision``: after ``pip install "vislang[vision]"``: a loss and a tiny
model. Prints one line per check; exits non-zero on the first failure.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def core() -> None:
    import numpy as np

    import vislang

    where = Path(vislang.__file__).resolve()
    assert "site-packages" in where.parts, f"vislang imported from {where}, not the wheel"
    print("vislang", vislang.__version__, "from", where.parent)
    assert "torch" not in sys.modules and "cv2" not in sys.modules

    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(c, 0.1, size=(200, 8)) for c in (0.0, 5.0, 10.0)])
    X = X.astype(np.float32)
    vocab = vislang.kmeans(X, 3, random_state=0)
    centres = np.sort(vocab.cluster_centers_[:, 0])
    assert np.allclose(centres, [0, 5, 10], atol=0.1), centres
    print("kmeans ok")

    idx, d2 = vislang.assign(X[:5], vocab.cluster_centers_, k=2)
    assert idx.shape == (5, 2) and (d2[:, 0] <= d2[:, 1]).all()
    print("assign ok")

    from vislang.features import DescriptorSet

    ds = DescriptorSet.from_list([X[:100], X[300:350], X[:0]])
    codes = vislang.encode(ds, vocab, encoding="hard", norm=None)
    assert codes.shape == (3, 3) and codes.sum(axis=1).tolist() == [100, 50, 0], codes
    print("encode ok")

    from vislang.eval import word_similarity
    from vislang.semantics import WordVectors

    wv = WordVectors(np.eye(4, dtype=np.float32) + 0.1, ["a", "b", "c", "d"])
    result = word_similarity(wv, [("a", "b", 1.0), ("a", "c", 2.0), ("b", "d", 3.0)])
    assert result is not None
    print("word similarity ok")

    out = subprocess.run(
        [sys.executable, "-m", "vislang", "--help"], capture_output=True, text=True, check=True
    )
    assert "usage: vislang" in out.stdout
    print("vislang --help ok")

    try:
        import torch  # noqa: F401
    except ImportError:
        for name in ("vislang.losses", "vislang.models"):
            try:
                __import__(name)
            except ImportError as exc:
                assert "vislang[vision]" in str(exc), f"{name}: {exc}"
                print(f"{name} names the extra: {exc}")
            else:
                raise AssertionError(f"{name} imported without torch")


def vision() -> None:
    import torch

    from vislang.losses import VSELoss
    from vislang.models import VSE, Vocabulary, VSEConfig

    img = torch.nn.functional.normalize(torch.randn(6, 8), dim=1).requires_grad_()
    txt = torch.nn.functional.normalize(torch.randn(6, 8), dim=1)
    loss = VSELoss(0.2, max_violation=True)(img, txt)
    loss.backward()
    assert torch.isfinite(loss) and img.grad is not None
    print("VSE++ loss ok")
    vocab = Vocabulary.build(["a red circle", "a blue square"])
    model = VSE(vocab, VSEConfig(backbone="precomputed", feature_dim=8, word_dim=4, embed_dim=6))
    emb = model.embed_texts(["a red square"])
    assert tuple(emb.shape) == (1, 6)
    print("tiny VSE ok")


if __name__ == "__main__":
    {"core": core, "vision": vision}[sys.argv[1]]()
