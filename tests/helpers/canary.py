"""Known test secrets, and a fixture that fails any test in which one leaks.

The secrets are canaries: tests use them as passwords, tokens and secret keys, and
none may ever show up where a secret must not — in a log record (message or
traceback), or in the ``repr()`` of any keyword argument of a built-in signal
(``user_login_failed``'s credentials, an exception passed to
``got_request_exception``, a request or user…).

Use them in tests::

    from tests.helpers import canary

    auth = SessionAuth(secret_key=canary.SECRET_KEY, ...)
    users.create_user("ada", canary.PASSWORD)
    password = canary.secret("ada")  # a fresh canary of your own, also watched

Load the fixture for the whole suite from ``tests/conftest.py``::

    pytest_plugins = ["tests.helpers.canary"]

It is autouse: every test gets it. Each log record is checked as it is emitted, and
the keyword arguments of each built-in signal send that a receiver hears as it is
sent (``Signal``'s send methods are wrapped for the test; no receiver is connected,
so "no receivers" fast paths stay as they are, and nothing is kept, so no object
outlives its test). One regular-expression search per text.
"""

from __future__ import annotations

import functools
import logging
import re
import traceback
from collections.abc import Iterator
from typing import Any

import pytest

from reqsignals.dispatch import Signal
from reqsignals.signals import ALL_SIGNALS

#: Every canary made by :func:`secret` contains this, so one search finds them all.
MARK = "cnry7Q4x"


def secret(label: str) -> str:
    """A canary secret for *label* (watched like the named ones below)."""
    return f"{MARK}-{label}"


PASSWORD = secret("password")
SECRET_KEY = secret("secret-key")
OLD_SECRET_KEY = secret("old-secret-key")
TOKEN = secret("token")
API_KEY = secret("api-key")

#: Secrets the existing tests use as literals, watched too.
LITERALS = (
    "test-secret-key-0123456789",  # tests/live_apps/auth_apps.py SECRET
    "cross-process-secret",  # tests/live_apps/auth_xproc_app.py SECRET
    "reqsignals-tests-only",  # tests/live_apps/django_project.py SECRET_KEY
    "correct horse",  # passwords in tests/auth
)

_PATTERN = re.compile("|".join(re.escape(s) for s in (MARK, *LITERALS)))


def find(text: str) -> str | None:
    """The first canary in *text*, or None."""
    match = _PATTERN.search(text)
    return None if match is None else match.group()


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception as exc:  # a broken __repr__ is not a leak
        return f"<repr failed: {type(exc).__name__}>"


class Watch(logging.Handler):
    """Collects where canaries appeared: log records and signal keyword arguments."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.leaks: list[str] = []

    def _check(self, text: str, place: str) -> None:
        found = find(text)
        if found is not None:
            at = text.find(found)
            excerpt = text[max(0, at - 80) : at + len(found) + 40]
            self.leaks.append(f"{found!r} in {place}: ...{excerpt}...")

    def emit(self, record: logging.LogRecord) -> None:
        place = f"a log record of logger {record.name!r} ({record.levelname})"
        try:
            self._check(record.getMessage(), place)
        except Exception:  # a record whose message cannot be formatted
            self._check(_safe_repr(record.msg) + _safe_repr(record.args), place)
        if record.exc_info and record.exc_info[1] is not None:
            text = "".join(traceback.format_exception(*record.exc_info))
            self._check(text, place + ", its traceback")

    def check_send(self, signal: Signal, named: dict[str, Any]) -> None:
        """Look for canaries in the keyword arguments of one send of *signal*."""
        for name, value in named.items():
            self._check(_safe_repr(value), f"{signal.name}(..., {name}=...)")
            if isinstance(value, BaseException):
                text = "".join(traceback.format_exception(value))
                self._check(text, f"{signal.name}(..., {name}=...) traceback")


_SENDS = ("send", "send_robust")
_ASENDS = ("asend", "asend_robust")
#: Every method of Signal that sends; the middlewares use send_fast.
SEND_METHODS = (*_SENDS, *_ASENDS, "send_fast")


def _watching(watch: Watch) -> dict[str, Any]:
    """Replacements for Signal's send methods that show built-in sends to *watch*.

    Only sends that some receiver hears are checked (a send nobody hears leaks
    nothing), and no receiver is connected for it: tests that assert "no receivers,
    no work" keep their fast paths.
    """
    builtin = frozenset(map(id, ALL_SIGNALS))
    replaced: dict[str, Any] = {}
    for name in _SENDS:
        original = getattr(Signal, name)

        def send(self: Signal, sender: Any, _o: Any = original, **named: Any) -> Any:
            if self.active and id(self) in builtin:
                watch.check_send(self, named)
            return _o(self, sender, **named)

        replaced[name] = functools.wraps(original)(send)
    for name in _ASENDS:
        original = getattr(Signal, name)

        async def asend(self: Signal, sender: Any, _o: Any = original, **named: Any) -> Any:
            if self.active and id(self) in builtin:
                watch.check_send(self, named)
            return await _o(self, sender, **named)

        replaced[name] = functools.wraps(original)(asend)
    send_fast = Signal.send_fast

    def fast(self: Signal, sender: Any, names: tuple[str, ...], /, *values: Any) -> Any:
        if self.active and id(self) in builtin:
            watch.check_send(self, dict(zip(names, values, strict=True)))
        return send_fast(self, sender, names, *values)

    replaced["send_fast"] = functools.wraps(send_fast)(fast)
    return replaced


@pytest.fixture(autouse=True)
def canary_guard(request: pytest.FixtureRequest) -> Iterator[Watch]:
    """Fail the test if a canary secret is logged or passed in a built-in signal."""
    watch = Watch()
    root = logging.getLogger()
    ours = logging.getLogger("reqsignals")
    level = ours.level
    if level == logging.NOTSET:
        ours.setLevel(logging.DEBUG)  # our own debug records too; others keep their levels
    root.addHandler(watch)
    originals = {name: getattr(Signal, name) for name in SEND_METHODS}
    for name, method in _watching(watch).items():
        setattr(Signal, name, method)
    try:
        yield watch
    finally:
        for name, method in originals.items():
            setattr(Signal, name, method)
        root.removeHandler(watch)
        ours.setLevel(level)
    if watch.leaks:
        shown = "\n  ".join(watch.leaks[:5])
        more = f"\n  (and {len(watch.leaks) - 5} more)" if len(watch.leaks) > 5 else ""
        pytest.fail(
            f"a known test secret leaked during {request.node.nodeid}:\n  {shown}{more}\n"
            "Secrets must never reach logs or signal arguments: scrub them "
            "(reqsignals.auth.scrub_credentials / scrub_headers) before they get there.",
            pytrace=False,
        )
