"""Reader round trips on small fixture files in each format, written here into tmp_path."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vislang.data import (
    CaptionDataset,
    DatasetFormatError,
    ImageLoadError,
    TaggedImages,
    read_caption_csv,
    read_coco_captions,
    read_flickr8k,
    read_image_folder,
    read_karpathy_json,
    read_tag_file,
    simple_tokenize,
)
from vislang.exceptions import InvalidInputError


def _image(path: Path, seed: int, size: tuple[int, int] = (12, 10)) -> np.ndarray:
    """Write a small random RGB image as PNG data whatever the name (lossless round trip)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(arr).save(path, format="PNG")
    return arr


def _truncated_jpeg(path: Path) -> None:
    """A JPEG whose header is fine but whose data stops half-way (decoding fails)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(arr).save(path, format="JPEG", quality=95)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


# ---------------------------------------------------------------------- Flickr8k
@pytest.fixture
def flickr8k(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    root = tmp_path / "flickr8k"
    images = {n: _image(root / "Flicker8k_Dataset" / n, i) for i, n in enumerate(
        ["1000_a.jpg", "1001_b.jpg", "1002_c.jpg", "1003_d.jpg"])}  # fmt: skip
    lines = []
    for name in images:
        for k in (1, 0, 2):  # out of order on purpose: captions are sorted by #N
            lines.append(f"{name}#{k}\tA caption {k} of {name} , with a comma .")
    lines.append("9999_missing.jpg#0\tAn image that is not in the folder .")
    (root / "Flickr8k.token.txt").write_text("\n".join(lines) + "\n")
    (root / "Flickr_8k.trainImages.txt").write_text("1000_a.jpg\n1001_b.jpg\n9999_missing.jpg\n")
    (root / "Flickr_8k.devImages.txt").write_text("1002_c.jpg\n")
    (root / "Flickr_8k.testImages.txt").write_text("")
    return root, images


def test_flickr8k_token_file(flickr8k: tuple[Path, dict[str, np.ndarray]]) -> None:
    root, images = flickr8k
    with pytest.raises(ImageLoadError, match=r"9999_missing\.jpg.*on_error='skip'"):
        read_flickr8k(root)
    ds = read_flickr8k(root, on_error="skip")
    assert isinstance(ds, CaptionDataset)
    assert ds.ids == ["1000_a.jpg", "1001_b.jpg", "1002_c.jpg", "1003_d.jpg"]
    assert ds.skipped[0][0].endswith("9999_missing.jpg") and ds.skipped[0][1] == "missing"
    assert ds.captions[0][0] == "A caption 0 of 1000_a.jpg , with a comma ."
    assert [c.split()[2] for c in ds.captions[1]] == ["0", "1", "2"]
    assert ds.splits == ["train", "train", "val", "unassigned"]
    assert np.array_equal(ds.load_image(2), images["1002_c.jpg"])
    # dev is an alias of val; split selection happens before the file check
    assert read_flickr8k(root, split="dev").ids == ["1002_c.jpg"]
    assert read_flickr8k(root, split=["val", "unassigned"]).ids == ["1002_c.jpg", "1003_d.jpg"]
    with pytest.raises(InvalidInputError, match=r"no images in split \['test'\]"):
        read_flickr8k(root, split="test", on_error="skip")
    ex = ds[0]
    assert ex.id == "1000_a.jpg" and ex.split == "train" and ex.image.shape == (10, 12, 3)


def test_flickr8k_alternative_layout_and_csv(tmp_path: Path) -> None:
    # the layout of the shared subset: images/, all-*-images.txt, captions.csv
    root = tmp_path / "f8k"
    a = _image(root / "images" / "x.jpg", 1)
    _image(root / "images" / "y.jpg", 2)
    (root / "captions.csv").write_text(
        'image,caption\nx.jpg,"A dog , running ."\nx.jpg,Another one .\n'
        'y.jpg,"Two ""quoted"" cats"\n'
    )
    (root / "all-train-images.txt").write_text("x.jpg\n")
    (root / "all-test-images.txt").write_text("y.jpg\n")
    ds = read_flickr8k(root)
    assert ds.captions == [["A dog , running .", "Another one ."], ['Two "quoted" cats']]
    assert ds.splits == ["train", "test"]
    assert np.array_equal(ds.load_image(0), a)
    plain = read_caption_csv(root / "captions.csv")
    assert plain.ids == ["x.jpg", "y.jpg"] and set(plain.splits) == {"unassigned"}
    (root / "bad.csv").write_text("file,text\nx.jpg,hello\n")
    with pytest.raises(DatasetFormatError, match=r"bad\.csv:1: header must name"):
        read_caption_csv(root / "bad.csv")


def test_flickr8k_malformed_line(tmp_path: Path) -> None:
    (tmp_path / "Flickr8k.token.txt").write_text("a.jpg#0\tfine\nno-hash-here\tcaption\n")
    with pytest.raises(DatasetFormatError, match=r"Flickr8k\.token\.txt:2: expected"):
        read_flickr8k(tmp_path)
    with pytest.raises(FileNotFoundError, match="no Flickr8k caption file"):
        read_flickr8k(tmp_path / "nowhere")


# ---------------------------------------------------------------------- corrupt images
def test_corrupt_image_named_and_skipped(tmp_path: Path) -> None:
    root = tmp_path / "f"
    _image(root / "images" / "good.jpg", 0)
    (root / "images" / "garbage.jpg").write_bytes(b"this is not an image")
    _truncated_jpeg(root / "images" / "truncated.jpg")
    (root / "captions.csv").write_text(
        "image,caption\ngood.jpg,a\ngarbage.jpg,b\ntruncated.jpg,c\n"
    )
    ds = read_caption_csv(root / "captions.csv")  # files exist: raise mode is lazy
    assert len(ds) == 3
    with pytest.raises(ImageLoadError, match=r"cannot decode image .*garbage\.jpg"):
        ds.load_image(1)
    with pytest.raises(ImageLoadError, match=r"truncated\.jpg"):
        ds.load_image(2)
    with pytest.raises(ImageLoadError, match=r"garbage\.jpg"):
        ds.as_torch()[1]
    # skip: unrecognisable files go at construction, undecodable ones when met
    skip = read_caption_csv(root / "captions.csv", on_error="skip")
    assert skip.ids == ["good.jpg", "truncated.jpg"]
    assert "garbage.jpg" in skip.skipped[0][0] and skip.skipped[0][1].startswith("corrupt")
    view = skip.as_torch()
    image, captions, index = view[1]  # truncated -> falls forward to the next good image
    assert index == 0 and captions == ["a"] and tuple(image.shape) == (3, 10, 12)
    assert any("truncated.jpg" in name for name, _ in skip.skipped)
    assert [i for i, _ in skip.iter_images()] == [0]
    verified = read_caption_csv(root / "captions.csv", on_error="skip").verify()
    assert verified.ids == ["good.jpg"]
    with pytest.raises(ImageLoadError, match=r"truncated\.jpg"):
        read_caption_csv(root / "captions.csv").select("unassigned").subset([0, 2]).verify()


# ---------------------------------------------------------------------- Karpathy JSON
def test_karpathy_json(tmp_path: Path) -> None:
    coco = tmp_path / "coco"
    _image(coco / "train2014" / "COCO_train2014_1.jpg", 1)
    val = _image(coco / "val2014" / "COCO_val2014_2.jpg", 2)
    _image(coco / "val2014" / "COCO_val2014_3.jpg", 3)

    def entry(fp: str, fn: str, split: str, n: int) -> dict[str, object]:
        sents = [{"raw": f"A photo {k} .", "tokens": ["a", "photo", str(k)]} for k in range(n)]
        return {"filepath": fp, "filename": fn, "split": split, "sentences": sents, "imgid": 0}

    data = {
        "dataset": "coco",
        "images": [
            entry("train2014", "COCO_train2014_1.jpg", "train", 5),
            entry("val2014", "COCO_val2014_2.jpg", "restval", 6),
            entry("val2014", "COCO_val2014_3.jpg", "test", 5),
        ],
    }
    path = coco / "dataset_coco.json"
    path.write_text(json.dumps(data))
    ds = read_karpathy_json(path)
    assert ds.name == "coco" and ds.splits == ["train", "restval", "test"]
    assert ds.ids[1] == "val2014/COCO_val2014_2.jpg"
    assert (
        len(ds.captions[1]) == 6
        and ds.tokens is not None
        and ds.tokens[0][2] == ["a", "photo", "2"]
    )
    assert np.array_equal(ds.load_image(1), val)
    train = read_karpathy_json(path, split=["train", "restval"])
    assert len(train) == 2 and train.n_captions == 11

    # Flickr30k style: no filepath, images in flickr30k-images/
    f30k = tmp_path / "f30k"
    _image(f30k / "flickr30k-images" / "1.jpg", 4)
    (f30k / "dataset_flickr30k.json").write_text(
        json.dumps({"images": [{"filename": "1.jpg", "split": "val", "sentences": [{"raw": "x"}]}]})
    )
    f = read_karpathy_json(f30k / "dataset_flickr30k.json")
    assert f.paths == [f30k / "flickr30k-images" / "1.jpg"] and f.splits == ["val"]
    (f30k / "broken.json").write_text(json.dumps({"images": [{"split": "val"}]}))
    with pytest.raises(DatasetFormatError, match=r"images\[0\] needs 'filename'"):
        read_karpathy_json(f30k / "broken.json")


# ---------------------------------------------------------------------- COCO captions
def _coco_file(path: Path, images: list[tuple[int, str]], anns: list[tuple[int, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({
            "info": {}, "licenses": [],
            "images": [{"id": i, "file_name": f, "height": 10, "width": 12} for i, f in images],
            "annotations": [
                {"id": 100 + k, "image_id": i, "caption": c} for k, (i, c) in enumerate(anns)
            ],
        })
    )  # fmt: skip


def test_coco_captions(tmp_path: Path) -> None:
    root = tmp_path / "coco"
    _image(root / "train2017" / "000000000001.jpg", 1)
    v = _image(root / "val2017" / "000000000002.jpg", 2)
    _coco_file(root / "annotations" / "captions_train2017.json", [(1, "000000000001.jpg")],
               [(1, "a cat ."), (1, "a small cat")])  # fmt: skip
    _coco_file(root / "annotations" / "captions_val2017.json",
               [(2, "000000000002.jpg"), (3, "000000000003.jpg")], [(2, "a dog")])  # fmt: skip
    ds = read_coco_captions(
        [
            root / "annotations" / "captions_train2017.json",
            root / "annotations" / "captions_val2017.json",
        ]
    )
    assert ds.ids == ["000000000001.jpg", "000000000002.jpg"]  # image 3 has no caption
    assert ds.captions == [["a cat .", "a small cat"], ["a dog"]]
    assert ds.splits == ["train", "val"]
    assert np.array_equal(ds.select("val").load_image(0), v)
    _coco_file(root / "annotations" / "captions_bad2017.json", [(1, "x.jpg")], [(7, "orphan")])
    with pytest.raises(DatasetFormatError, match=r"annotations\[0\] refers to image_id=7"):
        read_coco_captions(root / "annotations" / "captions_bad2017.json")


# ---------------------------------------------------------------------- folders and tags
def test_image_folder(tmp_path: Path) -> None:
    root = tmp_path / "pets"
    _image(root / "cat" / "b.png", 1)
    _image(root / "cat" / "a.PNG", 2)
    _image(root / "dog" / "c.jpg", 3)
    (root / "dog" / "notes.txt").write_text("not an image")
    (root / "README.md").write_text("top-level files are ignored")
    (root / "empty").mkdir()
    ti = read_image_folder(root)
    assert isinstance(ti, TaggedImages)
    assert ti.classes == ["cat", "dog", "empty"]
    assert ti.ids == ["cat/a.PNG", "cat/b.png", "dog/c.jpg"]
    assert ti.labels is not None and ti.labels.tolist() == [0, 0, 1]
    assert ti.tags == [["cat"], ["cat"], ["dog"]]

    split_root = tmp_path / "split"
    _image(split_root / "train" / "cat" / "1.png", 1)
    _image(split_root / "val" / "dog" / "2.png", 2)
    s = read_image_folder(split_root)
    assert s.splits == ["train", "val"] and s.classes == ["cat", "dog"]
    assert read_image_folder(split_root, split="val").labels.tolist() == [1]  # type: ignore[union-attr]
    with pytest.raises(DatasetFormatError, match="one sub-folder per class"):
        read_image_folder(root / "empty")


def test_tag_file(tmp_path: Path) -> None:
    _image(tmp_path / "images" / "a.jpg", 1)
    _image(tmp_path / "images" / "b.jpg", 2)
    (tmp_path / "tags.txt").write_text(
        "# image tags\na.jpg sky sea boat\n\nb.jpg, Blue Sky, sea\na.jpg\tsea\tsun\n"
    )
    ti = read_tag_file(tmp_path / "tags.txt")
    assert ti.ids == ["a.jpg", "b.jpg"]
    assert ti.tags == [["sky", "sea", "boat", "sun"], ["Blue Sky", "sea"]]
    assert read_tag_file(tmp_path / "tags.txt", lowercase=True).tags[1] == ["blue sky", "sea"]
    assert ti.vocabulary() == ["Blue Sky", "boat", "sea", "sky", "sun"]
    assert ti.multi_hot().sum(axis=1).tolist() == [4.0, 2.0]
    (tmp_path / "missing.txt").write_text("a.jpg x\nzzz.jpg y\n")
    with pytest.raises(ImageLoadError, match=r"zzz\.jpg"):
        read_tag_file(tmp_path / "missing.txt")
    assert read_tag_file(tmp_path / "missing.txt", on_error="skip").ids == ["a.jpg"]


# ---------------------------------------------------------------------- cache and torch views
def test_lru_cache_is_bounded(flickr8k: tuple[Path, dict[str, np.ndarray]]) -> None:
    root, _ = flickr8k
    ds = read_flickr8k(root, on_error="skip", cache_size=2)
    first = ds.load_image(0)
    assert ds.load_image(0) is first  # served from the cache
    ds.load_image(1)
    ds.load_image(2)
    assert len(ds._cache) == 2
    clone = pickle.loads(pickle.dumps(ds.as_torch()))  # DataLoader workers started with spawn
    assert len(clone.data._cache) == 0 and clone[1][2] == 1
    assert ds.load_image(0) is not first  # evicted, decoded again
    assert not first.flags.writeable
    with pytest.raises(IndexError):
        ds.load_image(10)


def test_torch_views(flickr8k: tuple[Path, dict[str, np.ndarray]], tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    root, images = flickr8k
    ds = read_flickr8k(root, on_error="skip")
    per_image = ds.as_torch()
    image, captions, index = per_image[2]
    assert image.dtype == torch.float32 and tuple(image.shape) == (3, 10, 12)
    assert torch.allclose(
        image * 255, torch.from_numpy(images["1002_c.jpg"]).permute(2, 0, 1).float()
    )
    assert len(captions) == 3 and index == 2

    def tok(text: str) -> object:
        ids = [len(w) for w in simple_tokenize(text)][:8]
        return torch.tensor(ids + [0] * (8 - len(ids)))

    pairs = ds.as_torch(transform=lambda im: torch.zeros(3, 4, 4) + im.size[0], tokenizer=tok,
                        pairs=True)  # fmt: skip
    assert len(pairs) == ds.n_captions == 12
    loader = torch.utils.data.DataLoader(pairs, batch_size=5)
    batch_images, batch_tokens, batch_index = next(iter(loader))
    assert tuple(batch_images.shape) == (5, 3, 4, 4) and float(batch_images[0, 0, 0, 0]) == 12.0
    assert tuple(batch_tokens.shape) == (5, 8) and batch_index.tolist() == [0, 0, 0, 1, 1]

    folder = tmp_path / "classes"
    _image(folder / "a" / "1.png", 1)
    _image(folder / "b" / "2.png", 2)
    ti = read_image_folder(folder)
    assert ti.as_torch()[1][1] == 1
    assert ti.as_torch(target="multi_hot")[1][1].tolist() == [0.0, 1.0]
    assert ti.as_torch(target="tags", tokenizer=len)[0][1] == 1
    tags_only = TaggedImages(np.zeros((1, 2, 2, 3), np.uint8), [["x"]])
    with pytest.raises(InvalidInputError, match="target='label' needs labels"):
        tags_only.as_torch(target="label")


def test_in_memory_datasets_and_validation() -> None:
    arrays = [np.zeros((4, 5, 3), np.uint8), np.ones((6, 2, 3), np.uint8)]
    ds = CaptionDataset(
        arrays, [["a b"], ["c", "d"]], splits=["train", "validation"], labels=[3, 4]
    )
    assert ds.in_memory and ds.splits == ["train", "val"] and ds[1].label == 4
    assert ds.load_image(1).shape == (6, 2, 3)
    idx, flat = ds.pairs()
    assert idx.tolist() == [0, 1, 1] and flat == ["a b", "c", "d"]
    assert ds.vocabulary() == ["a", "b", "c", "d"]
    assert "2 images (in memory), 3 captions" in repr(ds)
    with pytest.raises(InvalidInputError, match="captions has 1 entries for 2 images"):
        CaptionDataset(arrays, [["a"]])
    with pytest.raises(InvalidInputError, match="has no captions"):
        CaptionDataset(arrays, [["a"], []])
    with pytest.raises(InvalidInputError, match="on_error must be"):
        CaptionDataset(arrays, [["a"], ["b"]], on_error="ignore")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=r"uint8 of shape \(n_images, height, width, 3\)"):
        CaptionDataset(np.zeros((2, 4, 4), np.uint8), [["a"], ["b"]])
    with pytest.raises(InvalidInputError, match="available"):
        ds.select("test")


@pytest.mark.parametrize("kind", ["captions", "tags"])
def test_subset_keeps_every_per_image_field(kind: str) -> None:
    images = np.arange(4 * 2 * 2 * 3, dtype=np.uint8).reshape(4, 2, 2, 3)
    texts = [["zero"], ["one", "uno"], ["two"], ["three"]]
    common = {
        "ids": ["a", "b", "c", "d"],
        "splits": ["train", "train", "val", "test"],
        "labels": [5, 6, 7, 8],
        "classes": [str(i) for i in range(9)],
        "name": "toy",
    }
    ds: CaptionDataset | TaggedImages
    if kind == "captions":
        ds = CaptionDataset(images, texts, **common)  # type: ignore[arg-type]
    else:
        ds = TaggedImages(images, texts, **common)  # type: ignore[arg-type]
    sub = ds.subset([3, 1, 1])
    assert type(sub) is type(ds) and len(sub) == 3
    assert sub.ids == ["d", "b", "b"] and sub.splits == ["test", "train", "train"]
    assert sub.labels is not None and sub.labels.tolist() == [8, 6, 6]
    assert sub.classes == ds.classes and sub.name == "toy"
    np.testing.assert_array_equal(sub.load_image(0), images[3])
    per_image = sub.captions if isinstance(sub, CaptionDataset) else sub.tags
    assert per_image == [["three"], ["one", "uno"], ["one", "uno"]]
    per_image[1].append("changed")  # the subset owns its lists
    assert texts[1] == ["one", "uno"] and (
        ds.captions if isinstance(ds, CaptionDataset) else ds.tags
    )[1] == ["one", "uno"]
