"""``python -m vislang``: the ``vislang`` command line."""

from vislang.cli import main

raise SystemExit(main())
