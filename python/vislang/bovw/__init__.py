"""Bag of visual words: per-image encodings of local descriptors over a visual vocabulary.

- :func:`encode`: hard counts, soft assignment (kernel codebook), VLAD; spatial pyramids;
  tf-idf; L1 / L2 / power (Hellinger) norms. One native call for all images, GIL released.
- :class:`BagOfVisualWords`: a scikit-learn transformer, images in, encodings out
  (extraction, vocabulary, encoding).
- :func:`draw_visual_words`: the image patches nearest to given word centres (matplotlib).

This package imports NumPy and scikit-learn only; OpenCV and matplotlib load on first use.
"""

from vislang.bovw.draw import draw_visual_words, word_patches
from vislang.bovw.encoding import encode, n_columns
from vislang.bovw.estimator import BagOfVisualWords

__all__ = ["BagOfVisualWords", "draw_visual_words", "encode", "n_columns", "word_patches"]
