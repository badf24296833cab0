"""Receivers that append each request signal, as one JSON line, to ``$QUICK_START_EVENTS``."""

from __future__ import annotations

import json
import os
import threading
from typing import Any

from reqsignals import got_request_exception, request_finished, request_started
from reqsignals.dispatch import Signal

_lock = threading.Lock()


def describe(sender: Any) -> str:
    """A sender as the test compares it: its class, and a function's name."""
    if callable(sender) and hasattr(sender, "__code__"):
        return f"function {sender.__name__}"
    return type(sender).__name__


def _record(sender: Any, signal: Signal, **kwargs: Any) -> None:
    request = kwargs.get("environ") or kwargs.get("scope") or {}
    line = {
        "signal": signal.name,
        "sender": describe(sender),
        "status": kwargs.get("status"),
        "path": request.get("PATH_INFO") or request.get("path"),
    }
    with _lock, open(os.environ["QUICK_START_EVENTS"], "a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")


for _signal in (request_started, got_request_exception, request_finished):
    _signal.connect(_record, weak=False)
