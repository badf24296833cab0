"""``python -m reqsignals run ...``: the same as the ``reqsignals`` command."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
