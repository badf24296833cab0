from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from reqsignals import Signal, request_finished, request_started, user_logged_in
from reqsignals.signals import ALL_SIGNALS
from reqsignals.testing import capture


class App:
    pass


def test_capture_records_sends_in_order_without_the_signal_argument() -> None:
    with capture(request_started, request_finished) as sent:
        request_started.send(App, environ={"PATH_INFO": "/"})
        request_finished.send(App, environ={}, status=200, duration=0.1)
    assert sent.names == ["request_started", "request_finished"]
    assert sent.sent[0].sender is App
    assert sent.sent[0].kwargs == {"environ": {"PATH_INFO": "/"}}
    assert sent.of(request_finished)[0].kwargs["status"] == 200
    assert len(sent) == 2
    assert [s.name for s in sent] == sent.names


def test_capture_disconnects_after_the_block_even_on_error() -> None:
    with pytest.raises(ZeroDivisionError), capture(request_started):
        1 / 0
    assert not request_started.has_listeners()


def test_capture_without_arguments_records_every_builtin_signal() -> None:
    with capture() as sent:
        for sig in ALL_SIGNALS:
            sig.send(App)
    assert sent.names == [s.name for s in ALL_SIGNALS]


def test_capture_hears_asend_and_other_threads() -> None:
    sig = Signal("custom")
    with capture(sig) as sent:
        asyncio.run(sig.asend(App, n=1))
        t = threading.Thread(target=sig.send, args=(App,), kwargs={"n": 2})
        t.start()
        t.join()
    assert [s.kwargs["n"] for s in sent] == [1, 2]


def test_assert_sent_matches_kwargs_sender_and_times() -> None:
    with capture(request_finished) as sent:
        request_finished.send(App, status=200, duration=0.1)
        request_finished.send(App, status=500, duration=0.2)
    assert sent.assert_sent(request_finished, status=500).kwargs["duration"] == 0.2
    sent.assert_sent(request_finished, times=2)
    sent.assert_sent(request_finished, sender=App, times=1, status=200)
    with pytest.raises(AssertionError, match=r"expected a send of <Signal 'request_finished'>"):
        sent.assert_sent(request_finished, status=404)
    with pytest.raises(AssertionError, match=r"expected 3 send\(s\).*got 2 matching"):
        sent.assert_sent(request_finished, times=3)
    with pytest.raises(AssertionError, match="from 'other'"):
        sent.assert_sent(request_finished, sender="other")


def test_assert_not_sent_and_assert_order() -> None:
    with capture(request_started, request_finished, user_logged_in) as sent:
        request_started.send(App)
        request_finished.send(App)
    sent.assert_not_sent(user_logged_in)
    sent.assert_order(request_started, request_finished)
    with pytest.raises(AssertionError, match="was sent"):
        sent.assert_not_sent(request_started)
    with pytest.raises(AssertionError, match=r"expected \['request_finished'\]"):
        sent.assert_order(request_finished)


def test_clear_forgets_and_empty_capture_describes_nothing() -> None:
    with capture(request_started) as sent:
        request_started.send(App)
        sent.clear()
    assert sent.sent == []
    with pytest.raises(AssertionError, match="Recorded: nothing"):
        sent.assert_sent(request_started)


def test_plugin_fixture_is_registered_by_the_entry_point(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from reqsignals import request_started, user_logged_in

        def test_records(sent_signals):
            request_started.send("app", environ={"PATH_INFO": "/x"})
            sent_signals.assert_sent(request_started, times=1, sender="app")
            sent_signals.assert_not_sent(user_logged_in)

        def test_isolated_between_tests(sent_signals):
            assert sent_signals.sent == []

        def test_fails_when_missing(sent_signals):
            sent_signals.assert_sent(user_logged_in)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*expected a send of <Signal 'user_logged_in'>*"])


def test_plugin_leaves_no_receiver_behind(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from reqsignals.signals import ALL_SIGNALS

        def test_uses(sent_signals):
            assert all(s.has_listeners() for s in ALL_SIGNALS)

        def test_after():
            assert not any(s.has_listeners() for s in ALL_SIGNALS)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_assert_sent_shows_the_recorded_values() -> None:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/items"}
    with capture(request_started, request_finished) as sent:
        request_started.send("app", environ=environ)
        request_finished.send("app", environ=environ, status=500, duration=0.25)
    with pytest.raises(AssertionError) as info:
        sent.assert_sent(request_finished, status=200)
    assert str(info.value).endswith(
        "Recorded: request_started(sender='app', environ=<environ GET /items>), "
        "request_finished(sender='app', environ=<environ GET /items>, status=500, "
        "duration=0.25)"
    )  # every request finished: no hint about closing responses
    scope = {"type": "http", "method": "POST", "path": "/login", "headers": []}
    with capture(user_logged_in) as sent:
        user_logged_in.send(App, request=scope, user=["x"] * 50)
    with pytest.raises(AssertionError, match=r"request=<scope POST /login>, user=\['x', 'x',"):
        sent.assert_sent(user_logged_in, user=None)


def flask_app() -> Any:
    from flask import Flask

    from reqsignals.contrib.flask import init_app

    app = Flask(__name__)

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("boom")

    init_app(app)
    return app


def test_assert_sent_says_when_a_flask_response_was_not_closed() -> None:
    client = flask_app().test_client()
    with capture() as sent:
        response = client.get("/boom")  # Werkzeug's test client leaves it open
    with pytest.raises(AssertionError) as info:
        sent.assert_sent(request_finished, status=500)
    message = str(info.value)
    assert "got 0 matching" in message
    assert message.endswith(
        ". 1 request(s) started and never finished: a WSGI request finishes when its "
        "response is closed, and nothing closed it. With Flask's (Werkzeug's) test client "
        "write 'with client.get(...) as response:' or pass buffered=True, or call "
        "response.close()"
    )
    response.close()
    with capture() as sent, client.get("/boom"):
        pass
    sent.assert_sent(request_finished, times=1, status=500)
    with pytest.raises(AssertionError) as info:
        sent.assert_sent(request_finished, status=200)
    assert "status=500" in str(info.value)
    assert "never finished" not in str(info.value)
