"""Run testfloor as ``python -m testfloor``."""

from __future__ import annotations

from testfloor.cli import main

raise SystemExit(main())
