from __future__ import annotations

from collections.abc import Iterator

import pytest

from reqsignals import got_request_exception, request_finished, request_started
from reqsignals.testing import Capture, capture

# Known secrets must never reach a log record, an exception or a signal (tests/canary.py).
pytest_plugins = ["tests.canary"]


@pytest.fixture
def recorder() -> Iterator[Capture]:
    """Every request signal sent during the test, in order."""
    with capture(request_started, got_request_exception, request_finished) as cap:
        yield cap
