"""Applications on top of the library (layer 5): the training runners of ``vislang train``.

One module per runner family, each declaring its option :class:`~vislang.options.Schema` and
registering with :func:`register_runner`:

- :mod:`vislang.train.crossmodal`: ``vse``, ``vse++``, ``infonce``, ``devise``, ``wsabie``;
- :mod:`vislang.train.skipgram`: ``skipgram``, ``mmskipgram``;
- :mod:`vislang.train.captioning`: ``show-and-tell``, ``show-attend-tell``;
- :mod:`vislang.train.alignment`: ``dt-rnn``, ``brnn-align``;
- :mod:`vislang.train.gan`: ``gan-cls``, ``gan-int``, ``gan-int-cls``;
- :mod:`vislang.train.grounded`: ``cap2img``, ``cap2cap``, ``cap2both``.

A new runner is one module here plus one import line below. Runner modules import the library
(PyTorch included) only when they run, so listing them stays cheap.
"""

from vislang.train import alignment, captioning, crossmodal, gan, grounded, skipgram
from vislang.train.registry import Runner, list_runners, register_runner, runner

__all__ = [
    "Runner",
    "alignment",
    "captioning",
    "crossmodal",
    "gan",
    "grounded",
    "list_runners",
    "register_runner",
    "runner",
    "skipgram",
]
