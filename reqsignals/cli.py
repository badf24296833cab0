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
import inspect
import json
import os
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from . import __version__
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


def _where(exc: BaseException) -> str:
    """``" (at path/to/file.py:12)"``: where *exc* was raised, outside importlib."""
    if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        filename, lineno = exc.filename, exc.lineno
    else:
        frames = [
            f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<")
        ]
        if not frames:
            return ""
        filename, lineno = frames[-1].filename, frames[-1].lineno or 0
    cwd = os.getcwd()
    if filename.startswith(cwd + os.sep):
        filename = os.path.relpath(filename, cwd)
    return f" (at {filename}:{lineno})"


def _module_for_file(path_text: str) -> str:
    """The module name of a ``.py`` file, putting its package root on ``sys.path``.

    ``path/to/app.py`` is module ``app`` with ``path/to`` on the path; when ``path/to``
    is a package (it has an ``__init__.py``), the walk goes up to the first directory
    that is not, so relative imports inside the package keep working.
    """
    path = Path(path_text)
    if path.suffix != ".py":
        raise CommandError(f"{path_text!r} is not a Python file (expected a path ending in .py)")
    if not path.is_file():
        raise CommandError(f"no such file: {path_text!r}")
    path = path.resolve()
    parts = [] if path.stem == "__init__" else [path.stem]
    directory = path.parent
    while (directory / "__init__.py").is_file():
        parts.insert(0, directory.name)
        directory = directory.parent
    sys.path.insert(0, str(directory))
    return ".".join(parts)


def _takes_no_arguments(obj: Any) -> bool:
    """Whether *obj* can be called with no arguments (False when that cannot be told)."""
    try:
        inspect.signature(obj).bind()
    except (TypeError, ValueError):
        return False
    return True


def load_app(target: str, *, factory: bool = False) -> Any:
    """Import ``"package.module:attribute"`` or ``"path/to/file.py:attribute"``.

    The attribute may be dotted. With *factory*, the attribute is called with no
    arguments and the app it returns is served (as ``uvicorn --factory`` does).

    Raises:
        CommandError: the module does not import, has no such attribute, the attribute
            looks like a factory but *factory* is false, or the factory fails.
    """
    module_name, sep, attr = target.rpartition(":")
    if not sep or not module_name or not attr:
        raise CommandError(
            "expected MODULE:APP (for example 'myproject.app:app' or 'path/to/app.py:app'), "
            f"got {target!r}"
        )
    if attr.endswith(")"):
        name = attr.partition("(")[0]
        raise CommandError(
            f"{attr!r} is a call: reqsignals run takes the app object itself; for an app "
            f"factory, name it and add --factory: reqsignals run --factory {module_name}:{name}"
        )
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as uvicorn and gunicorn do
    is_file = module_name.endswith(".py") or os.sep in module_name or "/" in module_name
    shown = module_name
    if is_file:
        module_name = _module_for_file(module_name)
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:
        hint = ""
        top = module_name.partition(".")[0]
        if isinstance(exc, ModuleNotFoundError) and exc.name == top:
            hint = (
                f"; run reqsignals from the directory that holds {top!r}, add that "
                "directory to PYTHONPATH, or give the file's path "
                "(reqsignals run path/to/app.py:app)"
            )
        else:
            hint = _where(exc)
        raise CommandError(
            f"cannot import module {shown!r}: {type(exc).__name__}: {exc}{hint}"
        ) from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise CommandError(f"module {shown!r} has no attribute {attr!r}") from None
    if factory:
        return _call_factory(obj, f"{shown}:{attr}")
    if callable(obj) and _takes_no_arguments(obj):
        raise CommandError(
            f"{shown}:{attr} takes no arguments, so it is not a WSGI or ASGI app but looks "
            f"like an app factory: add --factory to serve the app it returns "
            f"(reqsignals run --factory {shown}:{attr})"
        )
    return obj


def _call_factory(factory: Any, name: str) -> Any:
    if not callable(factory) or not _takes_no_arguments(factory):
        raise CommandError(f"--factory: {name} must be a callable that takes no arguments")
    if inspect.iscoroutinefunction(factory):
        raise CommandError(
            f"--factory: {name} is async def; the factory must be a plain function "
            "that returns the app"
        )
    try:
        app = factory()
    except Exception as exc:
        raise CommandError(
            f"the app factory {name} raised {type(exc).__name__}: {exc}{_where(exc)}"
        ) from exc
    return app


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


def _stop_on_signals() -> None:
    """Make SIGINT and SIGTERM stop the server with a ``KeyboardInterrupt``, exit status 0.

    waitress installs no handlers, so it relies on Python's SIGINT handler, which Python
    does not install when SIGINT is ignored at start-up, as it is for a background job
    (``&``) of a non-interactive shell; and SIGTERM would kill the process without
    closing the server. uvicorn handles both itself, then raises the signal again for
    the handler that was there before it: this one, so both servers end the same way.
    """

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)


def serve(app: Any, interface: str, host: str, port: int) -> None:
    """Serve *app* until interrupted (Ctrl+C, SIGINT or SIGTERM)."""
    _stop_on_signals()
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
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="serve an app on 127.0.0.1 and print every signal as it fires",
        description="Serve a WSGI or ASGI app wrapped in the signals middleware and print "
        "every signal as it fires. With no APP, serves the bundled demo.",
    )
    run.add_argument(
        "app",
        nargs="?",
        metavar="MODULE:APP",
        help="for example myproject.app:app, or a file: path/to/app.py:app",
    )
    run.add_argument(
        "--factory",
        action="store_true",
        help="APP is a function that takes no arguments and returns the app (as in uvicorn)",
    )
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
            if args.factory:
                raise CommandError(
                    "--factory needs an APP: reqsignals run --factory MODULE:FACTORY"
                )
            check_port_free(args.host, args.port)  # before the demo makes its data folder
            app, banner = _demo(args.data_dir)
        else:
            app, banner = load_app(args.app, factory=args.factory), []
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
