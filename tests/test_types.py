"""reqsignals.types: a TypedDict of every built-in signal's keyword arguments.

Three halves of one promise: every signal has its dicts and they name what its
docstring documents; the real sends pass exactly those keys; and ``mypy --strict``
accepts the typed examples and receivers (``tests/typecheck/accepted.py``) and rejects
exactly the receivers that read a wrong name or type (``tests/typecheck/rejected.py``).
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, get_args, get_type_hints

import httpx
import pytest
from alembic import command
from sqlalchemy import create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from werkzeug.test import EnvironBuilder

import reqsignals
from reqsignals import signals as s
from reqsignals.auth import (
    Lockout,
    MemoryBackend,
    MemoryStore,
    SessionAuth,
    SQLiteStore,
    authenticate,
    list_sessions,
    login,
    logout,
    revoke_session,
)
from reqsignals.auth.csrf import refuse_asgi, refuse_wsgi
from reqsignals.contrib.sqlalchemy import connect_engine, connect_models
from reqsignals.dispatch import Signal
from reqsignals.scrub import ScrubRule
from reqsignals.testing import Sent, capture
from reqsignals.types import (
    ASGIGotRequestExceptionArgs,
    ASGIRequestFinishedArgs,
    ASGIRequestStartedArgs,
    ClassPreparedArgs,
    ConnectionCreatedArgs,
    CsrfFailedArgs,
    GotRequestExceptionArgs,
    M2MChangedArgs,
    Message,
    PostDeleteArgs,
    PostInitArgs,
    PostMigrateArgs,
    PostSaveArgs,
    PreDeleteArgs,
    PreInitArgs,
    PreMigrateArgs,
    PreSaveArgs,
    ReceiverFailedArgs,
    RequestFinishedArgs,
    RequestStartedArgs,
    SessionRevokedArgs,
    UserLockedOutArgs,
    UserLoggedInArgs,
    UserLoggedOutArgs,
    UserLoginFailedArgs,
    WSGIGotRequestExceptionArgs,
    WSGIRequestFinishedArgs,
    WSGIRequestStartedArgs,
)
from tests.helpers import sqlalchemy_models as models
from tests.helpers.hashers import cheap_hasher
from tests.helpers.support import ROOT
from tests.test_alembic import REVISIONS, SYNC_ENV, make_directory
from tests.typecheck import accepted

#: Each built-in signal's dicts: for either middleware first, then WSGI's and ASGI's.
ARGS: dict[Signal, tuple[type, ...]] = {
    s.request_started: (RequestStartedArgs, WSGIRequestStartedArgs, ASGIRequestStartedArgs),
    s.got_request_exception: (
        GotRequestExceptionArgs,
        WSGIGotRequestExceptionArgs,
        ASGIGotRequestExceptionArgs,
    ),
    s.request_finished: (RequestFinishedArgs, WSGIRequestFinishedArgs, ASGIRequestFinishedArgs),
    s.user_logged_in: (UserLoggedInArgs,),
    s.user_logged_out: (UserLoggedOutArgs,),
    s.user_login_failed: (UserLoginFailedArgs,),
    s.connection_created: (ConnectionCreatedArgs,),
    s.receiver_failed: (ReceiverFailedArgs,),
    s.csrf_failed: (CsrfFailedArgs,),
    s.user_locked_out: (UserLockedOutArgs,),
    s.session_revoked: (SessionRevokedArgs,),
    s.pre_init: (PreInitArgs,),
    s.post_init: (PostInitArgs,),
    s.pre_save: (PreSaveArgs,),
    s.post_save: (PostSaveArgs,),
    s.pre_delete: (PreDeleteArgs,),
    s.post_delete: (PostDeleteArgs,),
    s.m2m_changed: (M2MChangedArgs,),
    s.class_prepared: (ClassPreparedArgs,),
    s.pre_migrate: (PreMigrateArgs,),
    s.post_migrate: (PostMigrateArgs,),
}


def keys(args: type) -> set[str]:
    return set(args.__required_keys__) | set(args.__optional_keys__)  # type: ignore[attr-defined]


def required(args: type) -> set[str]:
    return set(args.__required_keys__)  # type: ignore[attr-defined]


# -- every signal has its dicts --------------------------------------------------------


def test_every_built_in_signal_has_its_typed_dicts() -> None:
    assert list(ARGS) == list(s.ALL_SIGNALS)


@pytest.mark.parametrize("signal", [pytest.param(sig, id=str(sig.name)) for sig in ARGS])
def test_typed_dicts_name_the_arguments_the_signal_documents(signal: Signal) -> None:
    assert signal.__doc__
    documented = set(re.findall(r"``(\w+)``", signal.__doc__))
    for args in ARGS[signal]:
        assert "signal" in required(args), args  # every receiver is passed signal=
        assert keys(args) - {"signal"} <= documented, args
        assert f"``{signal.name}``" in (args.__doc__ or ""), args
        get_type_hints(args)  # every annotation resolves at run time too


def test_either_middlewares_dict_is_the_wsgi_and_the_asgi_one_with_optional_request() -> None:
    for either, wsgi, asgi in (ARGS[sig] for sig in ARGS if len(ARGS[sig]) == 3):
        assert keys(wsgi) == required(wsgi) == required(either) | {"environ"}
        assert keys(asgi) == required(asgi) == required(either) | {"scope"}
        assert keys(either) - required(either) == {"environ", "scope"}


# -- the real sends pass exactly those keys ----------------------------------------------


def assert_sent_keys(sent: Iterable[Sent], kind: str) -> None:
    """Each send's keys are its signal's dict's keys (for *kind*: "wsgi" or "asgi")."""
    for one in sent:
        dicts = ARGS[one.signal]
        exact = dicts[1 if kind == "wsgi" else 2] if len(dicts) == 3 else dicts[0]
        assert set(one.kwargs) | {"signal"} == keys(exact), one


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ["PATH_INFO"] == "/boom":
        raise RuntimeError("boom")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["path"] == "/boom":
        raise RuntimeError("boom")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


REQUEST_SIGNALS = (s.request_started, s.got_request_exception, s.request_finished)


@contextmanager
def typed_receivers(kind: str) -> Iterator[None]:
    """The typed receivers of tests/typecheck/accepted.py for the request signals,
    connected: under ``strict=True`` a KeyError in one of them fails the request."""
    by_kind: dict[str, list[Callable[..., object]]] = {
        "wsgi": [accepted.wsgi_started, accepted.wsgi_failed, accepted.wsgi_finished],
        "asgi": [accepted.asgi_started, accepted.asgi_failed, accepted.asgi_finished],
    }
    either: list[Callable[..., object]] = [accepted.started, accepted.failed, accepted.finished]
    with ExitStack() as stack:
        for signal, for_either, for_kind in zip(REQUEST_SIGNALS, either, by_kind[kind]):
            stack.enter_context(signal.connected_to(for_either))
            stack.enter_context(signal.connected_to(for_kind))
        yield


SENT = [
    *("request_started", "request_finished"),
    *("request_started", "got_request_exception", "request_finished"),
]


def test_wsgi_request_signals_send_exactly_their_typed_keys() -> None:
    app = reqsignals.wrap(wsgi_app, strict=True)
    transport = httpx.WSGITransport(app=app)
    with (
        capture(*REQUEST_SIGNALS) as cap,
        typed_receivers("wsgi"),
        httpx.Client(transport=transport, base_url="http://t") as client,
    ):
        assert client.get("/").status_code == 200
        with pytest.raises(RuntimeError, match="boom"):
            client.get("/boom")
    assert cap.names == SENT
    assert_sent_keys(cap, "wsgi")
    finished = cap.of(s.request_finished)[0].kwargs
    assert (finished["status"], type(finished["duration"])) == (200, float)
    assert type(finished["response_duration"]) is float


def test_asgi_request_signals_send_exactly_their_typed_keys() -> None:
    app = reqsignals.wrap(asgi_app, strict=True)

    async def go() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/")).status_code == 200
            with pytest.raises(RuntimeError, match="boom"):
                await client.get("/boom")

    with capture(*REQUEST_SIGNALS) as cap, typed_receivers("asgi"):
        asyncio.run(go())
    assert cap.names == SENT
    assert_sent_keys(cap, "asgi")
    finished = cap.of(s.request_finished)[0].kwargs
    assert (finished["status"], type(finished["duration"])) == (200, float)
    assert type(finished["response_duration"]) is float


def test_receiver_failed_sends_exactly_its_typed_keys() -> None:
    order_paid = Signal("order_paid")

    def broken(sender: object, **kwargs: object) -> None:
        raise LookupError("no such order")

    with capture(s.receiver_failed) as cap, order_paid.connected_to(broken):
        [(_, error)] = order_paid.send_robust("shop", order=1)
    [one] = cap
    assert (one.sender, one.kwargs) == (order_paid, {"receiver": broken, "exception": error})
    assert_sent_keys(cap, "wsgi")
    read = accepted.on_receiver_failed(one.sender, signal=one.signal, **one.kwargs)
    assert read == f"order_paid: {broken!r} raised LookupError('no such order')"


def test_auth_and_store_signals_send_exactly_their_typed_keys(tmp_path: Path) -> None:
    users = MemoryBackend(hasher=cheap_hasher())
    user = users.create_user("grace", "a long enough password")
    auth = SessionAuth(secret_key="test", store=MemoryStore(), backends=[users])

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        assert authenticate(environ, username="grace", password="wrong") is None
        login(environ, user)
        logout(environ)
        start_response("204 No Content", [])
        return []

    auth_signals = (s.user_login_failed, s.user_logged_in, s.user_logged_out)
    with (
        capture(*auth_signals) as cap,
        httpx.Client(
            transport=httpx.WSGITransport(app=auth.wrap(app)), base_url="http://t"
        ) as client,
    ):
        assert client.get("/").status_code == 204
    assert cap.names == ["user_login_failed", "user_logged_in", "user_logged_out"]
    assert_sent_keys(cap, "wsgi")
    # The typed receivers read what was sent without a KeyError.
    typed: list[Callable[..., object]] = [
        accepted.login_failed,
        accepted.logged_in,
        accepted.logged_out,
    ]
    read = [fn(one.sender, signal=one.signal, **one.kwargs) for fn, one in zip(typed, cap)]
    assert read == ["grace", "grace", False]

    store = SQLiteStore(tmp_path / "sessions.db")
    try:
        with capture(s.connection_created) as cap:
            assert store.load("no such session") is None
    finally:
        store.close()
    assert cap.names == ["connection_created"]
    assert_sent_keys(cap, "wsgi")


def test_lockout_and_session_signals_send_exactly_their_typed_keys() -> None:
    users = MemoryBackend(hasher=cheap_hasher())
    user = users.create_user("grace", "a long enough password")
    auth = SessionAuth(
        secret_key="a test key of at least thirty-two bytes",
        store=MemoryStore(),
        backends=[users],
        lockout=Lockout(max_failures=1),
    )

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/fail":
            assert authenticate(environ, username="grace", password="wrong") is None
        elif environ["PATH_INFO"] == "/login":
            login(environ, user)
        else:  # the session is in the store once the login's response is over
            [session] = list_sessions(environ)
            assert revoke_session(environ, session.id)
        start_response("204 No Content", [])
        return []

    sent_here = (s.user_locked_out, s.session_revoked)
    transport = httpx.WSGITransport(app=auth.wrap(app))
    with (
        capture(*sent_here) as cap,
        httpx.Client(transport=transport, base_url="http://t") as client,
    ):
        for path in ("/fail", "/login", "/revoke"):
            assert client.get(path).status_code == 204
    assert {str(name) for name in cap.names} == {"session_revoked", "user_locked_out"}
    assert_sent_keys(cap, "wsgi")
    for one in cap:
        reasons = get_args(get_type_hints(ARGS[one.signal][0])["reason"])
        assert one.kwargs["reason"] in reasons, one
    typed: dict[str, Callable[..., object]] = {
        "user_locked_out": accepted.locked_out,
        "session_revoked": accepted.session_revoked,
    }
    for one in cap:  # the typed receivers read what was sent without a KeyError
        typed[str(one.name)](one.sender, signal=one.signal, **one.kwargs)


def test_csrf_failed_sends_exactly_its_typed_keys() -> None:
    """Through the two functions that answer a refused request, WSGI and ASGI."""
    environ = EnvironBuilder(path="/transfer", method="POST").get_environ()
    statuses: list[str] = []
    messages: list[Message] = []

    def start_response(status: str, headers: list[tuple[str, str]]) -> Callable[[bytes], None]:
        statuses.append(status)
        return lambda data: None

    async def send(message: Message) -> None:
        messages.append(message)

    scope = {"type": "http", "method": "POST", "path": "/transfer", "headers": []}
    with capture(s.csrf_failed) as cap:
        refuse_wsgi(environ, start_response, "Origin checked")
        asyncio.run(refuse_asgi(scope, send, "Origin checked"))
    assert statuses == ["403 Forbidden"]
    assert messages[0]["status"] == 403
    assert [one.kwargs["request"] for one in cap] == [environ, scope]
    assert_sent_keys(cap, "wsgi")
    for one in cap:
        accepted.csrf_failed(one.sender, signal=one.signal, **one.kwargs)


def test_model_migration_and_database_signals_send_exactly_their_typed_keys(
    tmp_path: Path,
) -> None:
    engine = connect_engine(create_engine(f"sqlite:///{tmp_path / 'models.db'}"), using="main")
    model_signals = (s.pre_init, s.post_init, s.pre_save, s.post_save, s.m2m_changed)
    sent_here = (s.connection_created, *model_signals, s.pre_delete, s.post_delete)
    try:
        with capture(*sent_here) as cap:
            models.Base.metadata.create_all(engine)  # opens the first connection
            with Session(engine) as session:
                post = models.Post(title="typed", tags=[models.Tag(name="mypy")])
                session.add(post)
                session.commit()
                post.title = "typed receivers"
                post.tags.clear()
                session.commit()
                session.delete(post)
                session.commit()
    finally:
        engine.dispose()
    assert set(cap.names) == {sig.name for sig in sent_here}
    assert_sent_keys(cap, "wsgi")
    actions = get_args(get_type_hints(M2MChangedArgs)["action"])
    for one in cap:
        if one.signal is s.m2m_changed:
            assert one.kwargs["action"] in actions
        if "using" in one.kwargs:
            assert one.kwargs["using"] == "main"

    class Local(DeclarativeBase):
        pass

    connect_models(Local)
    with capture(s.class_prepared) as cap:

        class Note(Local):
            __tablename__ = "note"
            id: Mapped[int] = mapped_column(primary_key=True)

    assert [(one.sender, one.kwargs) for one in cap] == [(Note, {})]

    config = make_directory(tmp_path, SYNC_ENV, REVISIONS)
    with capture(s.pre_migrate, s.post_migrate) as cap:
        command.upgrade(config, "head")
    assert cap.names == ["pre_migrate", "post_migrate"]
    assert_sent_keys(cap, "wsgi")


# -- mypy --strict accepts the typed receivers and rejects the wrong ones ----------------

SCRUB_RULE = "tests/typecheck/scrub_rule.py"
ACCEPTED = ["examples", "tests/typecheck/accepted.py", SCRUB_RULE]
REJECTED = "tests/typecheck/rejected.py"


@pytest.fixture(scope="module")
def mypy_errors(request: pytest.FixtureRequest) -> dict[str, list[tuple[int, str]]]:
    """One ``mypy --strict`` run, with the project's settings (Python 3.10), over the
    examples and both receiver files: the errors by file, as ``(line, message)``."""
    # pytest's cache is kept between runs, so a rerun takes a second or two.
    cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider
    if cache is not None:
        cache_dir = cache.mkdir("mypy")
    else:
        cache_dir = request.getfixturevalue("tmp_path_factory").mktemp("mypy")
    command = [sys.executable, "-m", "mypy", "--config-file", "pyproject.toml", "--strict"]
    command += ["--cache-dir", str(cache_dir), "--no-pretty", "--no-error-summary"]
    result = subprocess.run(
        [*command, "--no-color-output", *ACCEPTED, REJECTED],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode in (0, 1), result.stdout + result.stderr  # 2: mypy itself failed
    errors: dict[str, list[tuple[int, str]]] = {}
    for line in result.stdout.splitlines():
        match = re.match(r"(.+?):(\d+): (error|note): (.*)", line)
        assert match, line
        if match[3] == "error":
            errors.setdefault(Path(match[1]).as_posix(), []).append((int(match[2]), match[4]))
    return errors


def expected_errors(path: Path) -> list[tuple[int, str]]:
    """The ``# E: message`` comments of *path*, each for the next line that is not one."""
    expected, pending = [], []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        comment = re.match(r"\s*# E: (.*)", line)
        if comment:
            pending.append(comment[1])
        else:
            expected += [(number, message) for message in pending]
            pending = []
    return expected


def test_mypy_strict_accepts_the_typed_examples_and_receivers(
    mypy_errors: dict[str, list[tuple[int, str]]],
) -> None:
    assert {path: e for path, e in mypy_errors.items() if path != REJECTED} == {}


def test_mypy_strict_rejects_exactly_the_receivers_that_read_a_wrong_name_or_type(
    mypy_errors: dict[str, list[tuple[int, str]]],
) -> None:
    expected = expected_errors(ROOT / REJECTED)
    assert len(expected) == 15  # one per receiver in the file
    assert mypy_errors.get(REJECTED) == expected


def test_mypy_strict_accepts_a_scrub_rule_built_as_its_docstring_shows(
    mypy_errors: dict[str, list[tuple[int, str]]],
) -> None:
    # The docstring's example (the indented block after "::") stands line for line in
    # the file mypy checked, so this follows the docstring as it changes.
    doc = inspect.cleandoc(ScrubRule.__doc__ or "")
    block = doc.partition("::\n")[2].splitlines()
    example = [line.strip() for line in itertools.takewhile(lambda x: not x or x[0] == " ", block)]
    example = [line for line in example if line]
    assert len(example) == 3, example
    lines = (ROOT / SCRUB_RULE).read_text().splitlines()
    assert [line for line in example if line not in lines] == []
    assert mypy_errors.get(SCRUB_RULE) is None


def test_every_receiver_in_the_examples_is_typed() -> None:
    files = sorted((ROOT / "examples").rglob("*.py"))
    kwargs = [(f.name, k) for f in files for k in re.findall(r"\*\*kwargs: [^)]*", f.read_text())]
    assert len(kwargs) >= 9  # every example receiver, counted
    assert [k for k in kwargs if "Unpack[" not in k[1]] == []
