"""Local image descriptors (OpenCV underneath) as scikit-learn transformers.

Each extractor's ``transform(images)`` returns a :class:`DescriptorSet`: all descriptors of all
images concatenated, CSR-style offsets per image, keypoints ``(x, y, scale)`` and image sizes.

- :class:`SIFT`: difference-of-Gaussians keypoints + SIFT (Lowe 2004); ``color="rgb"`` or
  ``"opponent"`` for colour SIFT (van de Sande et al. 2010).
- :class:`DenseSIFT`: SIFT on a regular grid at several bin sizes, like VLFeat's PHOW.
- :class:`RootSIFT`: the Hellinger-kernel mapping of SIFT (Arandjelović & Zisserman 2012).
- :class:`ORB`: binary descriptors, unpacked to 0/1 floats so that Euclidean k-means and
  nearest-word assignment match Hamming distance.

Images may be file paths, NumPy arrays (RGB or gray; uint8 or float) or PIL images
(:func:`load_image`). Extraction runs in a thread pool (``n_jobs``) with an optional progress bar.

Importing this package does not import OpenCV; it is loaded at the first extraction.

Examples
--------
>>> from skimage.data import astronaut, camera
>>> from vislang.features import DenseSIFT
>>> ds = DenseSIFT(step=16, sizes=(4, 8), max_side=128).transform([astronaut(), camera()])
>>> ds.n_images, ds.n_dims, ds.counts.tolist()
(2, 128, [128, 128])
"""

from __future__ import annotations

from vislang.features._base import LocalFeatureExtractor
from vislang.features.descriptor_set import DescriptorSet, ImageFeatures
from vislang.features.images import load_image
from vislang.features.orb import ORB, pack_bits, unpack_bits
from vislang.features.sift import SIFT, DenseSIFT, RootSIFT, opponent_channels, root_sift

__all__ = [
    "ORB",
    "SIFT",
    "DenseSIFT",
    "DescriptorSet",
    "ImageFeatures",
    "LocalFeatureExtractor",
    "RootSIFT",
    "load_image",
    "opponent_channels",
    "pack_bits",
    "root_sift",
    "unpack_bits",
]
