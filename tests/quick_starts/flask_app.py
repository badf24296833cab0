"""The README's Flask quick start (``gunicorn 'module:create_app()'``)."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Flask

from reqsignals.contrib.flask import init_app
from tests.quick_starts import recording  # noqa: F401 - connects the recording receivers


def create_app() -> Flask:
    app = Flask(__name__)
    init_app(app)

    @app.route("/ok")
    def ok() -> str:
        return "hello"

    @app.route("/boom")
    def boom() -> str:
        raise RuntimeError("boom")

    @app.route("/stream")
    def stream() -> Iterator[bytes]:
        return iter([b"chunk"] * 3)

    return app
