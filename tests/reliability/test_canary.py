"""The canary fixture (tests/helpers/canary.py) catches each kind of leak, and only leaks."""

from __future__ import annotations

import pytest

from reqsignals.auth import scrub_credentials
from tests.helpers import canary

INNER = """
import asyncio
import logging

from reqsignals.signals import request_started, user_login_failed
from reqsignals.auth import scrub_credentials
from tests.helpers import canary


def test_leak_in_a_log_message():
    logging.getLogger("app.audit").warning("login with %s", canary.PASSWORD)


def test_leak_in_a_logged_traceback():
    try:
        raise ValueError("bad token " + canary.TOKEN)
    except ValueError:
        logging.getLogger("reqsignals").exception("receiver failed")


def test_leak_in_a_signal_argument():
    with user_login_failed.connected_to(lambda sender, **kw: None):
        user_login_failed.send_robust("x", credentials={"password": canary.PASSWORD})


def test_leak_in_an_async_send_of_an_exception():
    async def main():
        async def hear(sender, **kw):
            pass

        with request_started.connected_to(hear):
            await request_started.asend("x", scope={}, exception=KeyError(canary.API_KEY))

    asyncio.run(main())


def test_leak_of_a_literal_secret_used_by_older_tests():
    logging.getLogger("x").error("key=test-secret-key-0123456789")


def test_scrubbed_credentials_pass():
    with user_login_failed.connected_to(lambda sender, **kw: None):
        user_login_failed.send("x", credentials=scrub_credentials({"password": canary.PASSWORD}))


def test_an_unheard_send_is_not_looked_at_and_no_receiver_is_added():
    assert not user_login_failed.has_listeners()
    user_login_failed.send("x", credentials={"password": canary.PASSWORD})
"""


def test_the_canary_fixture_fails_each_leak_and_passes_the_rest(
    pytester: pytest.Pytester, canary_guard: canary.Watch
) -> None:
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest_inprocess("-p", "tests.helpers.canary", "-p", "no:randomly")
    # The inner run leaks on purpose, in this process: this test's own guard saw it too.
    assert canary_guard.leaks
    canary_guard.leaks.clear()
    # Each leaking test passes its own body, then errors at the fixture's teardown.
    result.assert_outcomes(passed=7, errors=5)
    out = result.stdout.str()
    for test, place in [
        ("test_leak_in_a_log_message", "a log record of logger 'app.audit' (WARNING)"),
        ("test_leak_in_a_logged_traceback", "logger 'reqsignals' (ERROR), its traceback"),
        ("test_leak_in_a_signal_argument", "user_login_failed(..., credentials=...)"),
        ("test_leak_in_an_async_send_of_an_exception", "request_started(..., exception=...)"),
        ("test_leak_of_a_literal_secret_used_by_older_tests", "'test-secret-key-0123456789'"),
    ]:
        assert f"a known test secret leaked during test_inner.py::{test}" in out
        assert place in out


def test_canaries_are_all_found_and_plain_text_is_not() -> None:
    for secret in (canary.PASSWORD, canary.SECRET_KEY, canary.TOKEN, canary.secret("x")):
        assert canary.find(f"prefix {secret} suffix") is not None
    assert canary.find(repr(scrub_credentials({"password": canary.PASSWORD}))) is None
    assert canary.find("password=hunter2 monkey keyboard") is None
