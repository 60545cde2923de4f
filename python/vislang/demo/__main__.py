"""``python -m vislang.demo``: the demo report (same as ``vislang demo``)."""

from vislang.demo import main

raise SystemExit(main())
