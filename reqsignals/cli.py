"""``reqsignals run``: serve any WSGI or ASGI app with a live log of its signals.

    reqsignals run                      # the bundled demo
    reqsignals run myproject.app:app    # your app, wrapped in the signals middleware
    reqsignals run myproject.app:app --port 9000 --json

ASGI apps run under uvicorn, WSGI apps under waitress (a pure-Python, multi-threaded
WSGI server that runs the same everywhere). Both come with the ``cli`` extra.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib
import json
import os
import socket
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from ._wrap import guess_interface, wrap
from .dispatch import Signal
from .signals import ALL_SIGNALS

__all__ = ["SignalLog", "main"]


class CommandError(Exception):
    """A mistake in the command line: printed as one line, exit status 2."""


# -- the live log ---------------------------------------------------------------

_COLORS = {
    "request_started": "36",  # cyan
    "got_request_exception": "31;1",  # bold red
    "user_logged_in": "35",  # magenta
    "user_logged_out": "35",
    "user_login_failed": "33;1",  # bold yellow
    "connection_created": "2",  # dim
}


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
    if user is None:
        return None
    return str(getattr(user, "username", None) or user)


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
        for key in ("exception", "user", "credentials", "store"):
            if key in rec:
                parts.append(f"{key}={rec[key]}")
        line = "  ".join(parts)
        if not self.color:
            return line
        code = _COLORS.get(name)
        if name == "request_finished":
            status = rec.get("status")
            code = "32" if isinstance(status, int) and status < 400 else "33"
            if status is None or (isinstance(status, int) and status >= 500):
                code = "31"
        return f"\x1b[{code}m{line}\x1b[0m" if code else line


# -- loading and serving ----------------------------------------------------------


def load_app(target: str) -> Any:
    """Import ``"package.module:attribute"`` (the attribute may be dotted).

    Raises:
        CommandError: the module does not import, or has no such attribute.
    """
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise CommandError(f"expected MODULE:APP (for example 'myproject.app:app'), got {target!r}")
    if attr.endswith(")"):
        raise CommandError(
            f"{attr!r} is a call: reqsignals run takes the app object itself; for an app "
            "factory, give the module a line such as 'app = create_app()' and point at it"
        )
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as uvicorn and gunicorn do
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:
        hint = ""
        top = module_name.partition(".")[0]
        if isinstance(exc, ModuleNotFoundError) and exc.name == top:
            hint = (
                f"; run reqsignals from the directory that holds {top!r}, "
                "or add that directory to PYTHONPATH"
            )
        raise CommandError(
            f"cannot import module {module_name!r}: {type(exc).__name__}: {exc}{hint}"
        ) from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise CommandError(f"module {module_name!r} has no attribute {attr!r}") from None
    return obj


def check_port_free(host: str, port: int) -> None:
    """Raise :class:`CommandError` if *port* on *host* cannot be bound."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise CommandError(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
                "is another server running there? Choose another port with --port"
            ) from None


def serve(app: Any, interface: str, host: str, port: int) -> None:
    """Serve *app* until interrupted."""
    if interface == "asgi":
        import uvicorn

        uvicorn.run(app, host=host, port=port, log_level="warning", lifespan="auto")
    else:
        import waitress

        waitress.serve(app, host=host, port=port, threads=8, _quiet=True)


def _demo(data_dir: Path) -> tuple[Any, list[str]]:
    from .demo import build

    return build(data_dir)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reqsignals", description="Request and auth signals for any WSGI or ASGI app."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="serve an app on 127.0.0.1 and print every signal as it fires",
        description="Serve a WSGI or ASGI app wrapped in the signals middleware and print "
        "every signal as it fires. With no APP, serves the bundled demo.",
    )
    run.add_argument("app", nargs="?", metavar="MODULE:APP", help="for example myproject.app:app")
    run.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1")
    run.add_argument("--port", type=int, default=8000, help="default: 8000")
    run.add_argument("--interface", choices=["wsgi", "asgi"], help="override the WSGI/ASGI guess")
    run.add_argument("--json", action="store_true", help="one JSON object per line")
    run.add_argument("--no-color", action="store_true", help="plain text even on a terminal")
    run.add_argument(
        "--data-dir",
        type=Path,
        default=Path("reqsignals-demo"),
        help="where the demo keeps its SQLite files (default: ./reqsignals-demo)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``reqsignals`` command. Returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    log = SignalLog(as_json=args.json, color=False if args.no_color else None)
    try:
        if not 0 < args.port < 65536:
            raise CommandError(f"--port must be between 1 and 65535, not {args.port}")
        if args.app is None:
            app, banner = _demo(args.data_dir)
        else:
            app, banner = load_app(args.app), []
        try:
            interface = guess_interface(app, args.interface)
        except TypeError as exc:
            raise CommandError(str(exc)) from None
        wrapped = wrap(app, interface=interface)
        check_port_free(args.host, args.port)
    except CommandError as exc:
        print(f"reqsignals: error: {exc}", file=sys.stderr)
        return 2
    except TypeError as exc:  # the middleware refused the app (an ASGI 2 app, say)
        print(f"reqsignals: error: {exc}", file=sys.stderr)
        return 2
    server = "uvicorn" if interface == "asgi" else "waitress"
    for line in [
        *banner,
        f"Serving {interface.upper()} on http://{args.host}:{args.port} "
        f"with {server}; signals below. Ctrl+C to stop.",
    ]:
        print(line, file=sys.stderr if args.json else sys.stdout, flush=True)
    log.connect()
    try:
        with contextlib.suppress(KeyboardInterrupt):
            serve(wrapped, interface, args.host, args.port)
    finally:
        log.disconnect()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
