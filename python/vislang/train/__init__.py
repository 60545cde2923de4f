"""Applications on top of the library: the training runners (``vislang train``)."""
