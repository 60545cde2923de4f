"""Datasets: a built-in image–caption world and readers for the standard formats.

``import vislang.data`` needs only NumPy: Pillow is imported on the first image decode and
PyTorch by ``as_torch()``.

- :func:`make_shapes` / :class:`ShapesWorld`: coloured shapes with paraphrased captions,
  deterministic for a seed, with held-out colour+shape pairs (:mod:`vislang.data.shapes`).
- :func:`read_flickr8k`, :func:`read_caption_csv`, :func:`read_karpathy_json`,
  :func:`read_coco_captions` -> :class:`CaptionDataset`.
- :func:`read_image_folder`, :func:`read_tag_file` -> :class:`TaggedImages`.
"""

from vislang.data.base import (
    CaptionDataset,
    CaptionExample,
    DatasetFormatError,
    ImageLoadError,
    TaggedExample,
    TaggedImages,
    canonical_split,
    simple_tokenize,
)
from vislang.data.readers import (
    IMAGE_EXTENSIONS,
    read_caption_csv,
    read_coco_captions,
    read_flickr8k,
    read_image_folder,
    read_karpathy_json,
    read_tag_file,
)
from vislang.data.shapes import Scene, ShapeObject, ShapesWorld, caption_is_true, make_shapes

__all__ = [
    "IMAGE_EXTENSIONS",
    "CaptionDataset",
    "CaptionExample",
    "DatasetFormatError",
    "ImageLoadError",
    "Scene",
    "ShapeObject",
    "ShapesWorld",
    "TaggedExample",
    "TaggedImages",
    "canonical_split",
    "caption_is_true",
    "make_shapes",
    "read_caption_csv",
    "read_coco_captions",
    "read_flickr8k",
    "read_image_folder",
    "read_karpathy_json",
    "read_tag_file",
    "simple_tokenize",
]
