"""The dependency-tree RNN of Socher et al. 2014 (Grounded Compositional Semantics for Finding
and Describing Images with Sentences, TACL): word vectors composed bottom-up along a
dependency tree, the root's vector is the sentence, images are projected CNN features, and a
max-margin ranking objective in both directions ties the two.

Composition (the paper's eq. 4, ``l(i)`` the number of words in the subtree of ``i``)::

    h_i = f( (1 / l(i)) * ( W_v x_i + sum_{j in children(i)} l(j) W_{pos(i, j)} h_j ) )

with ``f = tanh`` and one matrix per relative position of the child (``W_{l1}, W_{l2}, ...``
for the first, second... dependent left of the head, ``W_{r1}, ...`` on the right; positions
past ``max_position`` share the last matrix). ``composition="relation"`` uses one matrix per
dependency label instead (the paper's suggested extension), ``"bow"`` ignores the tree
(``f(W_v mean(x))``: the bag-of-words baseline), and ``weighting="children"`` normalises by
the number of children + 1 instead of subtree sizes.

Evaluation is batched level by level: every word of every tree in the batch at height ``k``
(leaves are 0) is computed in one step from the already computed heights ``< k``, so a batch
costs ``max height + 1`` steps, not one Python call per word; :meth:`DTRNN.encode_tree_loop`
is the per-sentence recursion of the same model (the reference the tests and the benchmark
compare with).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vislang.data.trees import DependencyTree, shapes_dependency_tree, spacy_trees
from vislang.exceptions import InvalidInputError
from vislang.losses import VSELoss
from vislang.models._composed import ImageEncoderOptions, VocabularyConfigModel
from vislang.models._pair_batches import caption_batches
from vislang.models.base import CaptionPairs, CrossModalModel, as_image_tensor
from vislang.models.image_encoders import ImageEncoder, ImageEncoderConfig
from vislang.models.registry import register_model
from vislang.models.vocabulary import Vocabulary

__all__ = ["DTRNN", "UD_RELATIONS", "DTRNNConfig", "TreeBatch"]

#: The Universal Dependencies relation labels (``composition="relation"``); others map to
#: ``"dep"``.
UD_RELATIONS: tuple[str, ...] = (
    "acl", "advcl", "advmod", "amod", "appos", "aux", "case", "cc", "ccomp", "clf", "compound",
    "conj", "cop", "csubj", "dep", "det", "discourse", "dislocated", "expl", "fixed", "flat",
    "goeswith", "iobj", "list", "mark", "nmod", "nsubj", "nummod", "obj", "obl", "orphan",
    "parataxis", "punct", "reparandum", "root", "vocative", "xcomp",
)  # fmt: skip
_EXAMPLE_CAPTIONS = (
    "a red circle left of a blue square",
    "a blue square",
    "there is a green triangle in the top left",
    "the red square is above the blue circle",
)


@dataclass
class DTRNNConfig(ImageEncoderOptions):
    """Options of :class:`DTRNN` (saved in checkpoints).

    ``parser``: where the trees of caption strings come from: ``"shapes"`` (exact trees of
    the shapes grammar), ``"spacy"`` (``spacy_model``, installed by the user) or ``"given"``
    (only trees added with :meth:`DTRNN.add_trees`, e.g. from :func:`read_conllu`).
    ``margin``: the ranking margin (cosine scores when ``normalize``; the paper's unnormalised
    inner products used 3).
    """

    image: ImageEncoderConfig = field(default_factory=ImageEncoderConfig)
    word_dim: int = 50
    composition: str = "position"
    weighting: str = "subtree"
    max_position: int = 3
    margin: float = 0.2
    normalize: bool = True
    parser: str = "shapes"
    spacy_model: str = "en_core_web_sm"

    def __post_init__(self) -> None:
        if isinstance(self.image, Mapping):
            self.image = ImageEncoderConfig(**self.image)
        if self.composition not in ("position", "relation", "bow"):
            raise InvalidInputError(
                f"composition: must be 'position', 'relation' or 'bow', got {self.composition!r}"
            )
        if self.weighting not in ("subtree", "children"):
            raise InvalidInputError(
                f"weighting: must be 'subtree' or 'children', got {self.weighting!r}"
            )
        if self.parser not in ("shapes", "spacy", "given"):
            raise InvalidInputError(
                f"parser: must be 'shapes', 'spacy' or 'given', got {self.parser!r}"
            )
        if self.word_dim < 1 or self.max_position < 1 or self.image.embed_dim < 1:
            raise InvalidInputError("word_dim, max_position and embed_dim must be >= 1")
        if self.margin < 0:
            raise InvalidInputError(f"margin: must be >= 0, got {self.margin}")


@dataclass
class TreeBatch:
    """A batch of trees flattened for level-by-level evaluation (NumPy index arrays).

    Nodes are sorted by height; ``starts[k]:starts[k+1]`` are the nodes of height ``k``.
    ``edge_child`` / ``edge_parent`` (node indices) and ``edge_matrix`` (which composition
    matrix) list every dependency, ``child_weight`` is ``l(j)`` (or 1) of each edge's child,
    ``scale`` is ``1 / l(i)`` (or ``1 / (children + 1)``) of each node, ``roots`` the node of
    each tree's root, ``sentence`` the tree of each node.
    """

    word_ids: np.ndarray[Any, np.dtype[np.int64]]
    starts: list[int]
    edge_child: np.ndarray[Any, np.dtype[np.int64]]
    edge_parent: np.ndarray[Any, np.dtype[np.int64]]
    edge_matrix: np.ndarray[Any, np.dtype[np.int64]]
    child_weight: np.ndarray[Any, np.dtype[np.float32]]
    scale: np.ndarray[Any, np.dtype[np.float32]]
    roots: np.ndarray[Any, np.dtype[np.int64]]
    sentence: np.ndarray[Any, np.dtype[np.int64]]


@register_model(
    "dt-rnn",
    family="sentence",
    description="DT-RNN (Socher et al. 2014): dependency-tree composition, ranking loss",
    factory="create",
)
class DTRNN(VocabularyConfigModel, CrossModalModel):
    """Images and dependency-parsed sentences in one space (Socher et al. 2014).

    Parameters
    ----------
    vocab : Vocabulary
        Built from the training captions.
    config : DTRNNConfig

    Examples
    --------
    >>> from vislang.models import Vocabulary
    >>> vocab = Vocabulary.build(["a red circle left of a blue square"])
    >>> model = DTRNN(vocab, DTRNNConfig(ImageEncoderConfig(feature_dim=8, embed_dim=6)))
    >>> model.embed_texts(["a blue circle left of a red square"]).shape
    torch.Size([1, 6])
    """

    config_class = DTRNNConfig

    model_type = "dt-rnn"

    def __init__(self, vocab: Vocabulary, config: DTRNNConfig | None = None) -> None:
        super().__init__()
        self.vocab = vocab
        self.config = config or DTRNNConfig()
        c = self.config
        d = c.embed_dim
        self.image_encoder = ImageEncoder(c.image)
        self.embedding = nn.Embedding(len(vocab), c.word_dim)
        self.w_v = nn.Linear(c.word_dim, d)
        n_mat = 0
        if c.composition == "position":
            n_mat = 2 * c.max_position
        elif c.composition == "relation":
            n_mat = len(UD_RELATIONS)
        self.n_matrices = n_mat
        # All composition matrices side by side: (d, n_mat * d), one matmul per level.
        self.w_children = nn.Parameter(torch.empty(d, max(n_mat, 1) * d))
        with torch.no_grad():
            for k in range(max(n_mat, 1)):
                nn.init.orthogonal_(self.w_children[:, k * d : (k + 1) * d])
        if n_mat == 0:
            self.w_children.requires_grad_(False)
        self.criterion = VSELoss(c.margin, False)
        self._trees: dict[str, DependencyTree] = {}
        self._arrays: dict[int, tuple[DependencyTree, tuple[np.ndarray[Any, Any], ...]]] = {}

    # ---------------------------------------------------------------- construction
    @classmethod
    def create(
        cls,
        vocab: Vocabulary | None = None,
        *,
        captions: Sequence[str] | None = None,
        backbone: str = "precomputed",
        feature_dim: int = 1280,
        finetune: bool = True,
        image_size: int = 0,
        embed_dim: int = 128,
        **config: Any,
    ) -> DTRNN:
        """``create_model("dt-rnn", captions=..., feature_dim=..., embed_dim=...)``."""
        if vocab is None:
            if captions is None:
                raise InvalidInputError("DT-RNN needs vocab= or captions= to build the vocabulary")
            vocab = Vocabulary.build(captions)
        image = ImageEncoderConfig(backbone, feature_dim, embed_dim, finetune, image_size)
        return cls(vocab, DTRNNConfig(image, **config))

    @classmethod
    def example(cls, **overrides: Any) -> DTRNN:
        """A tiny model (for the registry test sweep)."""
        config = {"feature_dim": 12, "word_dim": 8, "embed_dim": 6}
        return cls.create(captions=_EXAMPLE_CAPTIONS, **{**config, **overrides})

    @classmethod
    def example_batch(cls, model: DTRNN) -> dict[str, Any]:
        rng = np.random.default_rng(0)
        feats = rng.normal(size=(3, model.config.image.feature_dim)).astype(np.float32)
        pairs = CaptionPairs(feats, list(_EXAMPLE_CAPTIONS), np.array([0, 1, 2, 0]))
        return next(model.batches(pairs, 4, torch.Generator().manual_seed(0)))

    @property
    def embed_dim(self) -> int:
        return self.config.embed_dim

    # ---------------------------------------------------------------- trees
    def add_trees(self, trees: Sequence[DependencyTree]) -> None:
        """Make these trees the parses of their sentences (``tree.text`` and the words joined
        by spaces): how CoNLL-U trees reach a ``parser="given"`` model."""
        for t in trees:
            if not isinstance(t, DependencyTree):
                raise InvalidInputError(f"add_trees: expected DependencyTree, got {type(t)}")
            self._trees[" ".join(t.words)] = t
            if t.text:
                self._trees[t.text] = t

    def trees_of(self, texts: Sequence[str | DependencyTree]) -> list[DependencyTree]:
        """The tree of each text (parsed once and cached); trees pass through."""
        if isinstance(texts, str):
            raise InvalidInputError("texts must be a list of captions, got one string")
        todo = [t for t in texts if isinstance(t, str) and t not in self._trees]
        if todo:
            p = self.config.parser
            if p == "shapes":
                for t in todo:
                    self._trees[t] = shapes_dependency_tree(t)
            elif p == "spacy":
                uniq = list(dict.fromkeys(todo))
                for t, tree in zip(
                    uniq, spacy_trees(uniq, model=self.config.spacy_model), strict=True
                ):
                    self._trees[t] = tree
            else:
                raise InvalidInputError(
                    f"no dependency tree for {todo[0]!r} (parser='given': add the trees first "
                    "with model.add_trees(read_conllu(...)))"
                )
        return [t if isinstance(t, DependencyTree) else self._trees[t] for t in texts]

    def _tree_arrays(self, t: DependencyTree) -> tuple[np.ndarray[Any, Any], ...]:
        """Per-tree arrays (cached by tree): word ids, heights, 0-based heads (-1 at the
        root), composition matrix, child weight, scale."""
        hit = self._arrays.get(id(t))
        if hit is not None and hit[0] is t:
            return hit[1]
        c = self.config
        n = len(t)
        if c.composition == "relation":
            rel_index = {r: k for k, r in enumerate(UD_RELATIONS)}
            matrix = [_relation(r, rel_index) for r in t.relations]
        else:
            matrix = [_clip_position(p, c.max_position) for p in t.positions()]
        size = np.asarray(t.subtree_sizes(), dtype=np.float32)
        if c.weighting == "subtree":
            weight, scale = size, 1.0 / size
        else:
            kids = np.asarray([len(t.children(i)) for i in range(n)], dtype=np.float32)
            weight, scale = np.ones(n, dtype=np.float32), 1.0 / (kids + 1.0)
        arrays = (
            np.asarray(self.vocab.lookup([w.lower() for w in t.words]), dtype=np.int64),
            np.asarray(t.heights(), dtype=np.int64),
            np.asarray(t.heads, dtype=np.int64) - 1,
            np.asarray(matrix, dtype=np.int64),
            weight.astype(np.float32),
            scale.astype(np.float32),
        )
        if len(self._arrays) > 200_000:
            self._arrays.clear()
        self._arrays[id(t)] = (t, arrays)
        return arrays

    def flatten(self, trees: Sequence[DependencyTree]) -> TreeBatch:
        """Index arrays for :meth:`encode_trees` (nodes sorted by height)."""
        per = [self._tree_arrays(t) for t in trees]
        lengths = np.asarray([len(a[0]) for a in per], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        word_ids = np.concatenate([a[0] for a in per])
        h = np.concatenate([a[1] for a in per])
        local = np.concatenate([a[2] for a in per])
        sentence = np.repeat(np.arange(len(per)), lengths)
        par = np.where(local >= 0, local + offsets[sentence], -1)
        matrix = np.concatenate([a[3] for a in per])
        cw = np.concatenate([a[4] for a in per])
        scale = np.concatenate([a[5] for a in per])
        roots = offsets + np.asarray([t.root for t in trees], dtype=np.int64)
        order = np.argsort(h, kind="stable")
        new_index = np.empty_like(order)
        new_index[order] = np.arange(len(order))
        starts = np.searchsorted(h[order], np.arange(int(h.max()) + 2)).tolist()
        child_old = np.flatnonzero(par >= 0)
        edge_child = new_index[child_old]
        edge_parent = new_index[par[child_old]]
        by_parent = np.argsort(edge_parent, kind="stable")
        return TreeBatch(
            word_ids=word_ids[order],
            starts=starts,
            edge_child=edge_child[by_parent],
            edge_parent=edge_parent[by_parent],
            edge_matrix=matrix[child_old][by_parent],
            child_weight=cw[child_old][by_parent].astype(np.float32),
            scale=scale[order].astype(np.float32),
            roots=new_index[roots],
            sentence=sentence[order],
        )

    # ---------------------------------------------------------------- composition
    def encode_trees(self, trees: Sequence[DependencyTree]) -> Tensor:
        """Sentence vectors (B, embed_dim) of ``trees``, level by level (batched)."""
        if len(trees) == 0:
            raise InvalidInputError("trees: empty batch")
        tb = self.flatten(trees)
        dev = self.w_v.weight.device
        x = self.embedding(torch.from_numpy(tb.word_ids).to(dev))
        base = self.w_v(x)  # (N, d)
        d = self.embed_dim
        if self.config.composition == "bow":
            sent = torch.from_numpy(tb.sentence).to(dev)
            total = torch.zeros(len(trees), d, device=dev, dtype=base.dtype).index_add(
                0, sent, base
            )
            count = torch.bincount(sent, minlength=len(trees)).clamp_min(1).to(base.dtype)
            out: Tensor = torch.tanh(total / count[:, None])
            return out
        scale = torch.from_numpy(tb.scale).to(dev)[:, None]
        e_child = torch.from_numpy(tb.edge_child).to(dev)
        e_parent = torch.from_numpy(tb.edge_parent).to(dev)
        e_mat = torch.from_numpy(tb.edge_matrix).to(dev)
        e_w = torch.from_numpy(tb.child_weight).to(dev)[:, None]
        edge_bounds = np.searchsorted(tb.edge_parent, tb.starts).tolist()
        h = torch.tanh(base[: tb.starts[1]] * scale[: tb.starts[1]])  # the leaves
        for k in range(1, len(tb.starts) - 1):
            lo, hi = tb.starts[k], tb.starts[k + 1]
            if lo == hi:
                continue
            ea, eb = edge_bounds[k], edge_bounds[k + 1]
            msg = (h[e_child[ea:eb]] @ self.w_children).view(eb - ea, -1, d)
            msg = msg[torch.arange(eb - ea, device=dev), e_mat[ea:eb]] * e_w[ea:eb]
            # under autocast base is float16/bfloat16 while the weighted messages are float32
            pre = base[lo:hi].index_add(0, e_parent[ea:eb] - lo, msg.to(base.dtype))
            h = torch.cat([h, torch.tanh(pre * scale[lo:hi])])
        return h[torch.from_numpy(tb.roots).to(dev)]

    def encode_tree_loop(self, tree: DependencyTree) -> Tensor:
        """The same sentence vector (embed_dim,) by plain recursion over one tree (the
        reference for the batched :meth:`encode_trees`)."""
        c = self.config
        d = self.embed_dim
        dev = self.w_v.weight.device
        ids = self.vocab.lookup([w.lower() for w in tree.words])
        base = self.w_v(self.embedding(torch.tensor(ids, device=dev)))
        if c.composition == "bow":
            return torch.tanh(base.mean(0))
        sizes = tree.subtree_sizes()
        pos = tree.positions()
        rel_index = {r: k for k, r in enumerate(UD_RELATIONS)}

        def node(i: int) -> Tensor:
            kids = tree.children(i)
            acc = base[i]
            for j in kids:
                if c.composition == "relation":
                    k = _relation(tree.relations[j], rel_index)
                else:
                    k = _clip_position(pos[j], c.max_position)
                w = float(sizes[j]) if c.weighting == "subtree" else 1.0
                acc = acc + w * (node(j) @ self.w_children[:, k * d : (k + 1) * d])
            norm = sizes[i] if c.weighting == "subtree" else len(kids) + 1
            return torch.tanh(acc / norm)

        return node(tree.root)

    # ---------------------------------------------------------------- embedding
    def _norm(self, x: Tensor) -> Tensor:
        return F.normalize(x, dim=-1) if self.config.normalize else x

    def encode_images(self, x: Tensor) -> Tensor:
        return self._norm(self.image_encoder(x))

    def encode_texts(self, texts: Sequence[str | DependencyTree]) -> Tensor:
        return self._norm(self.encode_trees(self.trees_of(texts)))

    @torch.no_grad()
    def embed_images(self, images: Any, *, batch_size: int = 256) -> Tensor:
        """Embeddings (n, embed_dim) of features (n, F) or images."""
        return self._embed_image_batches(images, batch_size, self.encode_images)

    @torch.no_grad()
    def embed_texts(
        self, texts: Sequence[str | DependencyTree], *, batch_size: int = 256
    ) -> Tensor:
        """Sentence embeddings (n, embed_dim) of captions (parsed by ``config.parser``) or
        :class:`DependencyTree` objects."""
        trees = self.trees_of(texts)
        was = self.training
        self.eval()
        out = [
            self._norm(self.encode_trees(trees[i : i + batch_size]))
            for i in range(0, len(trees), batch_size)
        ]
        self.train(was)
        return torch.cat(out)

    # ---------------------------------------------------------------- training
    def batches(
        self, data: CaptionPairs, batch_size: int, generator: torch.Generator
    ) -> Iterator[dict[str, Any]]:
        """Shuffled caption batches with their images and positives mask."""
        return caption_batches(data, batch_size, generator, "DT-RNN")

    def training_loss(self, batch: dict[str, Any], device: torch.device) -> Tensor:
        img = self.encode_images(batch["images"].to(device))
        txt = self.encode_texts(batch["captions"])
        out: Tensor = self.criterion.forward_scores(
            (img @ txt.t()).float(), batch["positives"].to(device)
        )
        return out

    @torch.no_grad()
    def evaluate(
        self, data: CaptionPairs, *, device: torch.device | None = None
    ) -> dict[str, float]:
        """R@1/5/10, median/mean rank both ways, rsum."""
        from vislang.eval.retrieval import retrieval_metrics

        img = self.embed_images(as_image_tensor(data.images))
        txt = self.embed_texts(data.captions)
        return retrieval_metrics(img.cpu().numpy(), txt.cpu().numpy(), data.text_to_image)


def _clip_position(p: int, m: int) -> int:
    """Matrix index of relative position ``p`` (``-m..-1`` -> ``0..m-1``, ``1..m`` ->
    ``m..2m-1``; further positions share the outermost matrix; the root's 0 -> 0)."""
    if p < 0:
        return min(-p, m) - 1
    if p > 0:
        return m + min(p, m) - 1
    return 0


def _relation(label: str, index: Mapping[str, int]) -> int:
    """Matrix index of a dependency label (subtypes such as ``nmod:poss`` use their type;
    unknown labels use ``dep``)."""
    return index.get(label.split(":")[0].lower(), index["dep"])
