"""Applications on top of the library: the training runners (``vislang train``)."""

from vislang.train import captioning as captioning
