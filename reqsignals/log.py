"""The live log that ``reqsignals run`` and the bundled demo print: one line per signal."""

from __future__ import annotations

import datetime
import json
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from .dispatch import Signal
from .signals import ALL_SIGNALS

__all__ = ["SignalLog", "printable"]

_COLORS = {
    "request_started": "36",  # cyan
    "got_request_exception": "31;1",  # bold red
    "user_logged_in": "35",  # magenta
    "user_logged_out": "35",
    "user_login_failed": "33;1",  # bold yellow
    "user_locked_out": "31;1",  # bold red
    "connection_created": "2",  # dim
}


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(char: str) -> str:
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: str) -> str:
    """*text* with every character that is not printable written as an escape.

    Request paths, user names and exception messages come from clients: a raw
    ``\\n`` would forge a log line of its own and an ESC would send terminal commands
    to whoever reads the log. Control characters, line and paragraph separators and
    the bidirectional overrides all become ``\\xNN`` / ``\\uNNNN``; a space stays.

    >>> printable("GET /\\n12:00 user_logged_in\\x1b[2J")
    'GET /\\\\n12:00 user_logged_in\\\\x1b[2J'
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else _escape_char(c) for c in text)


def _request_line(kwargs: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The method and path of whatever request object a signal carries."""
    obj = kwargs.get("scope", kwargs.get("environ", kwargs.get("request")))
    if obj is not None and not isinstance(obj, Mapping):
        obj = getattr(obj, "scope", None) or getattr(obj, "environ", None)
    if not isinstance(obj, Mapping):
        return None, None
    if "REQUEST_METHOD" in obj:  # a WSGI environ
        return str(obj["REQUEST_METHOD"]), str(obj.get("PATH_INFO", "")) or "/"
    kind = obj.get("type")
    method = obj.get("method") if kind == "http" else "WS" if kind == "websocket" else None
    path = obj.get("path")
    return (str(method) if method else None), (str(path) if path is not None else None)


def _user_name(user: Any) -> str | None:
    """How a user is named in the log: a name it has, else its type and id. Never its
    ``str()`` or ``repr``: an app's own user class may show its password hash there."""
    if user is None:
        return None
    for attr in ("username", "email", "id", "pk"):
        try:
            value = getattr(user, attr, None)
        except Exception:  # an ORM object that cannot load the attribute any more
            value = None
        if value is not None and value != "":
            return str(value) if attr in ("username", "email") else f"{type(user).__name__}#{value}"
    return type(user).__name__


class SignalLog:
    """Writes one line per signal sent: readable (coloured on a terminal) or JSON.

    Args:
        stream: where to write (standard output by default).
        as_json: one JSON object per line instead of readable text.
        color: colour the readable lines (default: when *stream* is a terminal and
            the ``NO_COLOR`` environment variable is not set).
    """

    def __init__(
        self, stream: TextIO | None = None, *, as_json: bool = False, color: bool | None = None
    ) -> None:
        self.stream = stream or sys.stdout
        self.as_json = as_json
        if color is None:
            color = self.stream.isatty() and "NO_COLOR" not in os.environ
        self.color = color and not as_json
        self._lock = threading.Lock()
        self._connected: list[Signal] = []

    def connect(self, signals: Sequence[Signal] = ALL_SIGNALS) -> None:
        """Start logging *signals* (every built-in signal by default)."""
        for sig in signals:
            sig.connect(self.receive, weak=False)
            self._connected.append(sig)

    def disconnect(self) -> None:
        """Stop logging."""
        for sig in self._connected:
            sig.disconnect(self.receive)
        self._connected.clear()

    def receive(self, signal: Signal, sender: Any, **kwargs: Any) -> None:
        """The receiver: formats and writes one line."""
        line = self.format(signal, sender, kwargs)
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()

    def record(self, signal: Signal, sender: Any, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """The fields logged for one send."""
        method, path = _request_line(kwargs)
        rec: dict[str, Any] = {
            "time": datetime.datetime.now().isoformat(timespec="milliseconds"),
            "signal": signal.name,
        }
        if method is not None:
            rec["method"] = method
        if path is not None:
            rec["path"] = path
        if "status" in kwargs:
            rec["status"] = kwargs["status"]
        if "duration" in kwargs:
            rec["duration_ms"] = round(float(kwargs["duration"]) * 1000, 3)
        exc = kwargs.get("exception")
        if exc is not None:
            rec["exception"] = f"{type(exc).__name__}: {exc}"
        if "user" in kwargs:
            rec["user"] = _user_name(kwargs["user"])
        if "credentials" in kwargs:
            # user_login_failed sends an already scrubbed copy: log exactly that.
            rec["credentials"] = kwargs["credentials"]
        for key in ("reason", "retry_after"):  # user_locked_out, csrf_failed
            if key in kwargs:
                rec[key] = kwargs[key]
        if signal.name == "connection_created":
            rec["store"] = getattr(sender, "__name__", repr(sender))
        return rec

    def format(self, signal: Signal, sender: Any, kwargs: Mapping[str, Any]) -> str:
        """One line for one send."""
        rec = self.record(signal, sender, kwargs)
        if self.as_json:
            return json.dumps(rec, default=str)
        name = str(rec["signal"])
        parts = [rec["time"][11:], f"{name:<22}"]
        if "method" in rec or "path" in rec:
            parts.append(f"{rec.get('method', '-')} {rec.get('path', '')}".strip())
        if "status" in rec:
            parts.append(str(rec["status"]))
        if "duration_ms" in rec:
            parts.append(f"{rec['duration_ms']:.1f} ms")
        for key in ("exception", "user", "credentials", "reason", "retry_after", "store"):
            if key in rec:
                parts.append(f"{key}={rec[key]}")
        # One signal, one line: what clients sent is escaped (JSON mode escapes it too).
        line = printable("  ".join(parts))
        if not self.color:
            return line
        code = _COLORS.get(name)
        if name == "request_finished":
            status = rec.get("status")
            code = "32" if isinstance(status, int) and status < 400 else "33"
            if status is None or (isinstance(status, int) and status >= 500):
                code = "31"
        return f"\x1b[{code}m{line}\x1b[0m" if code else line
