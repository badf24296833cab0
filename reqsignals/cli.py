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
import importlib
import inspect
import os
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__, _cli_sessions
from ._wrap import guess_interface, wrap
from .log import SignalLog

__all__ = ["SignalLog", "main"]


class CommandError(Exception):
    """A mistake in the command line: printed as one line, exit status 2."""


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


def _demo(data_dir: Path, host: str) -> tuple[Any, list[str]]:
    from .demo import build

    return build(data_dir, host=host)


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
    try:
        from .auth.lockout.command import add_parser as add_lockout
    except ImportError:  # pragma: no cover - the auth extra is not installed
        pass
    else:
        add_lockout(sub)
    _cli_sessions.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``reqsignals`` command. Returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "lockout":
        from .auth.lockout.command import run as lockout

        try:
            return lockout(args, load_app)
        except CommandError as exc:
            print(f"reqsignals: error: {exc}", file=sys.stderr)
            return 2
    if args.command == "sessions":
        return _cli_sessions.run(args)
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
            app, banner = _demo(args.data_dir, args.host)
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
