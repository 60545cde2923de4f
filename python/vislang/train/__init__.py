"""Applications on top of the library: the training runners (``vislang train``)."""

from vislang.train import gan as gan  # noqa: E402  (registers the gan-* runners)
