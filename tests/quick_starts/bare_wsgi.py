"""The README's bare WSGI quick start (``gunicorn module:app``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import reqsignals
from tests.quick_starts import recording  # noqa: F401 - connects the recording receivers


def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    if environ["PATH_INFO"] == "/boom":
        raise RuntimeError("boom")
    start_response("200 OK", [("Content-Type", "text/plain")])
    if environ["PATH_INFO"] == "/stream":
        return (b"chunk" for _ in range(3))
    return [b"hello"]


app = reqsignals.wrap(app)
