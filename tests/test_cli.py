"""`reqsignals run`: errors, serving WSGI and ASGI apps with the live log, and the demo."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

import reqsignals
from reqsignals import (
    Signal,
    connection_created,
    got_request_exception,
    request_finished,
    request_started,
    user_logged_in,
    user_login_failed,
)
from reqsignals.cli import SignalLog, build_parser, check_port_free, load_app
from tests.helpers.servers import CLI, chromium, serve_demo, wait_for_output
from tests.helpers.support import ROOT, free_port, run_server


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reqsignals", "run", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


# -- bad input: one line, exit status 2 -------------------------------------------------


@pytest.mark.parametrize(
    ("target", "message"),
    [
        pytest.param(
            "tests.no_such_module:app",
            "cannot import module 'tests.no_such_module'",
            id="no-module",
        ),
        pytest.param(
            "no_such_package.app:app",
            "run reqsignals from the directory that holds 'no_such_package'",
            id="no-module-hint",
        ),
        pytest.param(
            "tests.live_apps.cli_broken:app",
            "RuntimeError: this module fails on purpose (at tests/live_apps/cli_broken.py:3)",
            id="import-error",
        ),
        pytest.param(
            "tests.live_apps.cli_apps:missing", "has no attribute 'missing'", id="no-attribute"
        ),
        pytest.param(
            "tests.live_apps.cli_apps:not_an_app",
            "is not a WSGI or ASGI application",
            id="not-an-app",
        ),
        pytest.param("tests.live_apps.cli_apps", "expected MODULE:APP", id="no-colon"),
        pytest.param(
            "tests.live_apps.cli_apps:create_app()",
            "for an app factory, name it and add --factory: "
            "reqsignals run --factory tests.live_apps.cli_apps:create_app",
            id="factory-call",
        ),
        pytest.param(
            "tests.live_apps.cli_apps:create_app",
            "tests.live_apps.cli_apps:create_app takes no arguments, so it is not a WSGI or "
            "ASGI app but looks like an app factory: add --factory",
            id="factory-without-flag",
        ),
        pytest.param(
            "examples.flask_app:create_app",
            "examples.flask_app:create_app takes no arguments, so it is not a WSGI or ASGI "
            "app but looks like an app factory: add --factory to serve the app it returns "
            "(reqsignals run --factory examples.flask_app:create_app)",
            id="flask-factory-without-flag",
        ),
        pytest.param(
            "tests.live_apps.cli_apps:no_arguments",
            "(reqsignals run --factory tests.live_apps.cli_apps:no_arguments)",
            id="zero-argument-callable",
        ),
        pytest.param(
            "--factory tests.live_apps.cli_apps:wsgi_app",
            "--factory: tests.live_apps.cli_apps:wsgi_app must be a callable that takes no "
            "arguments",
            id="factory-with-arguments",
        ),
        pytest.param(
            "--factory tests.live_apps.cli_apps:async_factory",
            "is async def; the factory must be a plain function",
            id="async-factory",
        ),
        pytest.param(
            "--factory tests.live_apps.cli_apps:failing_factory",
            "the app factory tests.live_apps.cli_apps:failing_factory raised ValueError: "
            "the factory fails on purpose (at tests/live_apps/cli_apps.py:",
            id="factory-raises",
        ),
        pytest.param("--factory", "--factory needs an APP", id="factory-without-app"),
        pytest.param(
            "--factory tests.live_apps.cli_apps:not_an_app",
            "--factory: tests.live_apps.cli_apps:not_an_app must be a callable",
            id="factory-not-callable",
        ),
        pytest.param(
            "tests/no_such_file.py:app", "no such file: 'tests/no_such_file.py'", id="no-file"
        ),
        pytest.param("tests/cli_apps.txt:app", "is not a Python file", id="not-python"),
        pytest.param("tests.live_apps.cli_apps:asgi2_app --interface asgi", "ASGI 2", id="asgi2"),
    ],
)
def test_bad_targets_exit_2_with_one_line(target: str, message: str) -> None:
    result = run_cli(*target.split())
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("reqsignals: error: ")
    assert message in lines[0]
    assert "Traceback" not in result.stderr


def test_an_import_error_names_the_file_and_line_it_was_raised_at(tmp_path: Path) -> None:
    """The innermost frame outside importlib: here a module the app imports."""
    (tmp_path / "app.py").write_text("import helper\n\napp = helper.make()\n")
    (tmp_path / "helper.py").write_text("def make():\n    return {}['missing']\n")
    (tmp_path / "syntax.py").write_text("x = 1\ndef (:\n")
    result = run_cli("app.py:app", cwd=tmp_path)
    assert result.stderr.strip() == (
        "reqsignals: error: cannot import module 'app.py': KeyError: 'missing' (at helper.py:2)"
    )
    result = run_cli("syntax.py:app", cwd=tmp_path)
    assert result.returncode == 2
    assert "SyntaxError: invalid syntax (syntax.py, line 2) (at syntax.py:2)" in result.stderr


def test_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reqsignals", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert result.stdout == f"reqsignals {reqsignals.__version__}\n"


def test_port_in_use_exits_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("tests.live_apps.cli_apps:wsgi_app", "--port", str(port))
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "--port" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("port", ["0", "70000"])
def test_port_out_of_range_exits_2(port: str) -> None:
    result = run_cli("tests.live_apps.cli_apps:wsgi_app", "--port", port)
    assert result.returncode == 2
    assert "--port must be between 1 and 65535" in result.stderr


def test_unknown_option_is_an_argparse_error() -> None:
    result = run_cli("--bogus")
    assert result.returncode == 2
    assert "unrecognized arguments: --bogus" in result.stderr


def test_load_app_follows_dotted_attributes() -> None:
    from tests.live_apps.cli_apps import wsgi_app

    assert load_app("tests.live_apps.cli_apps:Nested.app") is wsgi_app


def test_check_port_free_accepts_a_free_port() -> None:
    check_port_free("127.0.0.1", free_port())


def test_parser_defaults() -> None:
    args = build_parser().parse_args(["run"])
    assert (args.app, args.host, args.port, args.json) == (None, "127.0.0.1", 8000, False)


# -- the log -----------------------------------------------------------------------------


class User:
    username = "ada"


class Request:
    def __init__(self, scope: dict[str, Any]) -> None:
        self.scope = scope


ENVIRON = {"REQUEST_METHOD": "POST", "PATH_INFO": "/login"}
SCOPE = {"type": "http", "method": "GET", "path": "/items"}


@pytest.mark.parametrize(
    ("signal", "kwargs", "expected"),
    [
        pytest.param(
            request_started, {"environ": ENVIRON}, "request_started  POST /login", id="wsgi"
        ),
        pytest.param(
            request_finished,
            {"scope": SCOPE, "status": 201, "duration": 0.0123},
            "request_finished  GET /items  201  12.3 ms",
            id="asgi-finished",
        ),
        pytest.param(
            got_request_exception,
            {"scope": SCOPE, "exception": ValueError("bad")},
            "got_request_exception  GET /items  exception=ValueError: bad",
            id="exception",
        ),
        pytest.param(
            user_logged_in,
            {"request": Request(SCOPE), "user": User()},
            "user_logged_in  GET /items  user=ada",
            id="user",
        ),
        pytest.param(
            user_login_failed,
            {"request": ENVIRON, "credentials": {"username": "ada", "password": "*" * 20}},
            "user_login_failed  POST /login  credentials={'username': 'ada', 'password': "
            "'********************'}",
            id="login-failed",
        ),
        pytest.param(
            request_started,
            {"scope": {"type": "websocket", "path": "/ws"}},
            "request_started  WS /ws",
            id="websocket",
        ),
    ],
)
def test_readable_lines(signal: Signal, kwargs: dict[str, Any], expected: str) -> None:
    line = SignalLog(io.StringIO(), color=False).format(signal, None, kwargs)
    columns = re.sub(" {2,}", "  ", line)  # the signal name is padded to a column
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3}  " + re.escape(expected), columns), line


def test_json_lines_and_connection_created() -> None:
    class Store:
        pass

    log = SignalLog(io.StringIO(), as_json=True)
    rec = json.loads(log.format(connection_created, Store, {"connection": object()}))
    assert rec["signal"] == "connection_created"
    assert rec["store"] == "Store"
    rec = json.loads(
        log.format(request_finished, None, {"environ": ENVIRON, "status": None, "duration": 1})
    )
    assert rec["status"] is None
    assert rec["duration_ms"] == 1000.0


@pytest.mark.parametrize(
    ("status", "code"),
    [(200, "32"), (404, "33"), (500, "31"), (None, "31")],
)
def test_finished_lines_are_coloured_by_status(status: int | None, code: str) -> None:
    log = SignalLog(io.StringIO(), color=True)
    line = log.format(request_finished, None, {"scope": SCOPE, "status": status, "duration": 0})
    assert line.startswith(f"\x1b[{code}m")
    assert line.endswith("\x1b[0m")


def test_colour_is_off_for_a_pipe_and_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    assert SignalLog(io.StringIO()).color is False
    monkeypatch.setenv("NO_COLOR", "1")

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert SignalLog(Tty()).color is False
    monkeypatch.delenv("NO_COLOR")
    assert SignalLog(Tty()).color is True


def test_log_connects_and_writes_each_signal_once() -> None:
    out = io.StringIO()
    log = SignalLog(out, color=False)
    log.connect()
    try:
        request_started.send("app", environ=ENVIRON)
    finally:
        log.disconnect()
    request_started.send("app", environ=ENVIRON)
    assert out.getvalue().count("request_started") == 1


# -- serving real apps ---------------------------------------------------------------------


@pytest.mark.server
@pytest.mark.parametrize(
    ("target", "server_name", "body"),
    [
        pytest.param(
            "tests.live_apps.cli_apps:wsgi_app", "waitress", b"hello from wsgi", id="wsgi"
        ),
        pytest.param("tests.live_apps.cli_apps:asgi_app", "uvicorn", b"hello from asgi", id="asgi"),
    ],
)
def test_run_serves_an_app_and_logs_its_signals(target: str, server_name: str, body: bytes) -> None:
    with run_server([*CLI, target, "--port", "{port}"]) as server:
        response = httpx.get(f"{server.url}/hello")
        assert response.content == body
        out = wait_for_output(server, r"request_finished\s+GET /hello  200  [\d.]+ ms")
    assert f"with {server_name}" in out
    assert re.search(r"\d\d:\d\d:\d\d\.\d{3}  request_started\s+GET /hello\n", out)
    assert "\x1b[" not in out  # not a terminal: no colour


@pytest.mark.server
def test_run_logs_exceptions_and_json() -> None:
    with run_server(
        [*CLI, "tests.live_apps.cli_apps:wsgi_app", "--port", "{port}", "--json"]
    ) as server:
        assert httpx.get(f"{server.url}/boom").status_code == 500
        out = wait_for_output(server, r'"signal": "request_finished".*"path": "/boom"')
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [r["signal"] for r in records] == [
        "request_started",
        "got_request_exception",
        "request_finished",
    ]
    assert records[1]["exception"] == "ZeroDivisionError: raised by the WSGI test app"
    assert records[2]["status"] == 500  # the app raised before starting a response: a 500


@pytest.mark.server
@pytest.mark.parametrize(
    ("argv", "body"),
    [
        pytest.param(
            ["--factory", "tests.live_apps.cli_apps:create_app"], b"hello from asgi", id="factory"
        ),
        pytest.param(
            ["tests/live_apps/cli_apps.py:wsgi_app"], b"hello from wsgi", id="file-in-package"
        ),
        pytest.param(
            ["--factory", "examples/flask_app.py:create_app"], b"", id="flask-factory-file"
        ),
    ],
)
def test_run_serves_a_factory_and_a_file_path(argv: list[str], body: bytes) -> None:
    with run_server([*CLI, *argv, "--port", "{port}"]) as server:
        response = httpx.get(f"{server.url}/")
        assert response.status_code == 200
        assert body in response.content
        wait_for_output(server, r"request_finished\s+GET /  200")


def make_project(root: Path) -> None:
    """``myproject/app.py``, a package, and ``standalone/app.py``, a plain folder whose
    file imports its neighbour as a script would."""
    (root / "myproject").mkdir()
    (root / "myproject" / "__init__.py").write_text("")
    (root / "myproject" / "app.py").write_text(
        "from .body import BODY\n\n"
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [BODY]\n"
    )
    (root / "myproject" / "body.py").write_text("BODY = b'hello from myproject'\n")
    (root / "standalone").mkdir()
    (root / "standalone" / "app.py").write_text("from neighbour import app\n")
    (root / "standalone" / "neighbour.py").write_text(
        "async def app(scope, receive, send):\n"
        "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
        "    await send({'type': 'http.response.body', 'body': b'hello from standalone'})\n"
    )


@pytest.mark.server
@pytest.mark.parametrize(
    ("target", "body"),
    [
        pytest.param("myproject.app:app", b"hello from myproject", id="module"),
        pytest.param("myproject/app.py:app", b"hello from myproject", id="package-file"),
        pytest.param("standalone/app.py:app", b"hello from standalone", id="plain-file"),
    ],
)
def test_run_finds_apps_in_the_directory_it_runs_in(
    tmp_path: Path, target: str, body: bytes
) -> None:
    make_project(tmp_path)
    with run_server([*CLI, target, "--port", "{port}"], cwd=tmp_path) as server:
        assert httpx.get(f"{server.url}/").content == body


def venv_is_installed() -> bool:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    venv = ROOT / ".venv"
    return Path(sys.prefix) == venv and any(
        (venv / f".installed-{what}-{digest}").exists() for what in ("run", "dev")
    )


needs_venv = pytest.mark.skipif(
    not venv_is_installed(),
    reason="scripts/run would install .venv first: run the tests from the installed .venv",
)


@pytest.mark.server
@needs_venv
def test_scripts_run_serves_an_app_from_the_directory_it_is_started_in(tmp_path: Path) -> None:
    make_project(tmp_path)
    script = str(ROOT / "scripts" / "run")
    with run_server(["bash", script, "myproject.app:app", "--port", "{port}"], cwd=tmp_path) as s:
        assert httpx.get(f"{s.url}/").content == b"hello from myproject"


@needs_venv
def test_the_readme_puts_reqsignals_on_the_path() -> None:
    """After `bash scripts/run`, the README's way to get the command works as written."""
    readme = (ROOT / "README.md").read_text()
    assert "source .venv/bin/activate" in readme
    result = subprocess.run(
        ["bash", "-c", "source .venv/bin/activate && reqsignals --version"],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout == f"reqsignals {reqsignals.__version__}\n", result.stderr


@pytest.mark.server
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize(
    "target", ["tests.live_apps.cli_apps:wsgi_app", "tests.live_apps.cli_apps:asgi_app"]
)
def test_run_in_the_background_of_a_script_stops_on_sigint_and_sigterm(
    target: str, signum: int
) -> None:
    """A non-interactive shell starts background jobs with SIGINT ignored."""
    script = (
        f'"{sys.executable}" -m reqsignals run {target} --port "$1" & '
        'echo "pid=$!"; wait $!; echo "exit=$?"'
    )
    with run_server(["bash", "-c", script, "bash", "{port}"]) as server:
        match = re.search(r"pid=(\d+)", wait_for_output(server, r"pid=\d+"))
        assert match
        os.kill(int(match.group(1)), signum)
        server.proc.wait(15)
        out = server.output()
    assert "exit=0" in out, out
    assert "Traceback" not in out


# -- the demo ------------------------------------------------------------------------------


@pytest.mark.server
def test_demo_logs_in_fails_streams_raises_and_logs_out(tmp_path: Path) -> None:
    data = tmp_path / "demo-data"
    with serve_demo(data) as (server, password):
        assert (data / "users.db").exists()
        with httpx.Client(base_url=server.url) as client:
            assert "You are not logged in" in client.get("/").text
            bad = client.post("/login", data={"username": "demo", "password": "wrong-guess"})
            assert bad.status_code == 401
            ok = client.post("/login", data={"username": "demo", "password": password})
            assert ok.status_code == 303
            assert 'id="who">demo<' in client.get("/").text
            assert client.get("/stream").text == "".join(f"chunk {i} of 5\n" for i in range(1, 6))
            # uvicorn closes a connection whose app raised: a connection of its own.
            assert httpx.get(f"{server.url}/boom").status_code == 500
            client.post("/logout")
            assert "You are not logged in" in client.get("/").text
        out = wait_for_output(server, r"user_logged_out\s+POST /logout  user=demo")
    assert re.search(
        r"user_login_failed\s+POST /login  credentials=\{'username': 'demo', "
        r"'password': '\*{20}'\}",
        out,
    )
    assert "wrong-guess" not in out
    assert password not in out.split("with password", 1)[1].split("\n", 1)[1]
    assert re.search(r"user_logged_in\s+POST /login  user=demo", out)
    assert re.search(r"got_request_exception\s+GET /boom  exception=RuntimeError", out)
    assert re.search(r"connection_created\s+store=SQLiteStore", out)


@pytest.mark.server
def test_demo_keeps_its_user_and_secret_across_restarts(tmp_path: Path) -> None:
    data = tmp_path / "demo-data"
    passwords = []
    for _ in range(2):
        with serve_demo(data) as (_, password):
            passwords.append(password)
    assert passwords[0] == passwords[1]
    assert (data / "demo-secrets.json").stat().st_mode & 0o777 == 0o600


@pytest.mark.server
def test_demo_feed_streams_signals_as_server_sent_events(tmp_path: Path) -> None:
    with serve_demo(tmp_path) as (server, _):
        events: list[dict[str, Any]] = []
        with (
            httpx.Client(base_url=server.url, timeout=10) as client,
            client.stream("GET", "/events") as feed,
        ):
            lines = feed.iter_lines()
            assert next(lines) == ": connected"
            httpx.get(f"{server.url}/stream")
            for line in lines:
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
                if events and events[-1]["signal"] == "request_finished":
                    break
    assert [(e["signal"], e.get("path")) for e in events] == [
        ("request_started", "/stream"),
        ("request_finished", "/stream"),
    ]
    assert events[1]["status"] == 200


# -- the demo in a real browser ------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.server
def test_demo_in_a_real_browser(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with serve_demo(tmp_path) as (server, password), chromium() as browser:
        context = browser.new_context()
        feed = context.new_page()
        feed.goto(f"{server.url}/feed")
        expect(feed.locator("body")).to_have_attribute("data-feed", "open")
        page = context.new_page()
        page.goto(f"{server.url}/login")
        page.fill("#username", "demo")
        page.fill("#password", password)
        page.click("#login")
        expect(page.locator("#who")).to_have_text("demo")
        logged_in = feed.locator('#feed li[data-signal="user_logged_in"]')
        expect(logged_in).to_have_count(1)
        expect(logged_in).to_contain_text('user="demo"')
        page.click("#logout")
        expect(page.locator("#who-anon")).to_be_visible()
        logged_out = feed.locator('#feed li[data-signal="user_logged_out"]')
        expect(logged_out).to_have_count(1)
        expect(logged_out).to_contain_text('user="demo"')
        assert password not in feed.content()


def test_demo_on_a_busy_port_leaves_no_data_folder(tmp_path: Path) -> None:
    data = tmp_path / "demo-data"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("--port", str(port), "--data-dir", str(data))
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert not data.exists()
