"""The text log cannot be forged: what clients send (paths, user names, exception
messages) is escaped, so one signal is always one line and no terminal escape reaches
the operator."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import httpx
import pytest

from reqsignals.log import SignalLog, printable
from reqsignals.signals import (
    got_request_exception,
    request_started,
    user_logged_in,
    user_login_failed,
)
from tests.helpers.servers import CLI, wait_for_output
from tests.helpers.support import run_server

FORGED = "/\n12:00:00.000  user_logged_in          POST /login  user=admin\x1b[2J\x1b]0;pwned\x07"


class Named:
    username = "ada\r\nroot"


@pytest.mark.parametrize(
    ("signal", "kwargs"),
    [
        pytest.param(
            request_started,
            {"environ": {"REQUEST_METHOD": "GET", "PATH_INFO": FORGED}},
            id="wsgi-path",
        ),
        pytest.param(
            request_started,
            {"scope": {"type": "http", "method": "GET", "path": FORGED}},
            id="asgi-path",
        ),
        pytest.param(user_logged_in, {"request": {}, "user": Named()}, id="user-name"),
        pytest.param(
            got_request_exception,
            {"environ": {"REQUEST_METHOD": "GET"}, "exception": ValueError(FORGED)},
            id="exception-message",
        ),
        pytest.param(
            user_login_failed,
            {"request": {}, "credentials": {"username": "x\u2028y\u202e"}},
            id="credentials-separators",
        ),
    ],
)
@pytest.mark.parametrize("color", [False, True], ids=["plain", "colour"])
def test_one_signal_is_one_line_with_no_control_characters(
    signal: Any, kwargs: dict[str, Any], color: bool
) -> None:
    out = io.StringIO()
    log = SignalLog(out, color=color)
    log.receive(signal, "sender", **kwargs)
    text = out.getvalue()
    assert text.count("\n") == 1
    assert text.endswith("\n")
    body = text[:-1]
    if color:  # the log's own colour codes wrap the line, nothing else
        body = re.sub(r"^\x1b\[[0-9;]+m|\x1b\[0m$", "", body)
    assert body.isprintable(), repr(body)


def test_the_escapes_are_readable() -> None:
    assert printable("a\nb\r\tc\x1b[2J\x00\x7f\x85\u2028\u202e é") == (
        "a\\nb\\r\\tc\\x1b[2J\\x00\\x7f\\x85\\u2028\\u202e é"
    )
    assert printable("plain /path?q=1 é") == "plain /path?q=1 é"


def test_json_lines_keep_the_exact_text() -> None:
    out = io.StringIO()
    SignalLog(out, as_json=True).receive(
        request_started, "s", scope={"type": "http", "method": "GET", "path": FORGED}
    )
    assert out.getvalue().count("\n") == 1
    assert json.loads(out.getvalue())["path"] == FORGED


@pytest.mark.server
def test_reqsignals_run_log_cannot_be_forged_through_the_path() -> None:
    with run_server([*CLI, "tests.live_apps.cli_apps:asgi_app", "--port", "{port}"]) as server:
        with httpx.Client(base_url=server.url) as client:
            client.get("/%0A12:00:00.000%20%20user_logged_in%20user=admin%1B%5B2J")
        out = wait_for_output(server, r"request_finished\s+GET /\\n12")
    assert "\x1b" not in out
    assert not re.search(r"^12:00:00\.000", out, re.M)
    assert "GET /\\n12:00:00.000  user_logged_in user=admin\\x1b[2J" in out
