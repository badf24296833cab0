"""Cross-site request forgery protection, run by the session middleware before the app.

Every request with an unsafe method (anything but GET, HEAD, OPTIONS, TRACE) is checked:

1. ``Sec-Fetch-Site`` present: ``same-origin`` and ``none`` (typed in the address bar,
   a bookmark) pass; anything else fails unless the ``Origin`` is trusted.
2. Else ``Origin`` present: passes if it is the request's own origin (scheme, host and
   port, the scheme being ``https`` exactly when the session cookie is marked
   ``Secure``), or one of ``trusted_origins``; ``Origin: null`` fails.
3. Else (no browser sent this, or a very old one): passes, unless ``require_token``.

Every websocket handshake (ASGI) is checked by rules 1-3 too, whatever its method: a
page on another origin can open a websocket to the app, and the browser sends the
user's cookies with it (cross-site websocket hijacking). The token is not asked of a
handshake: a browser's ``WebSocket`` cannot send a header of its own.

With ``require_token=True`` every unsafe request also needs the session's token, in the
``X-CSRF-Token`` header or the ``csrf_token`` field of a urlencoded or multipart form
(a header with a token decides, and the form is not read; an empty header counts as
none); :func:`csrf_token` and :func:`csrf_input` put it into pages. A refused request is
answered ``403`` with a short plain-text body, the app is not called, and
:data:`~reqsignals.signals.csrf_failed` is sent.

Example::

    auth = SessionAuth(
        secret_key=os.environ["SESSION_SECRET"],
        csrf=CSRF(trusted_origins=["https://admin.example.com"], exempt=["/webhooks/"]),
    )
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from ..signals import csrf_failed
from ..types import Environ, Receive, Scope, Send, StartResponse
from ._formtoken import asgi_form_token, wsgi_form_token
from .sessions import get_session

__all__ = [
    "CSRF",
    "SAFE_METHODS",
    "TOKEN_FIELD",
    "TOKEN_HEADER",
    "csrf_input",
    "csrf_token",
]

#: Methods that must not change anything, so are never checked (RFC 9110 9.2.1).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
#: The request header that may carry the token.
TOKEN_HEADER = "X-CSRF-Token"
#: The form field that may carry the token.
TOKEN_FIELD = "csrf_token"
#: Where the session keeps the token's secret.
SECRET_KEY = "_csrf_secret"
#: The sender of ``csrf_failed``.
SENDER = "reqsignals.auth"

# The reasons a request is refused: fixed texts, never the attacker's header values,
# so they are safe in a log line and in the 403 body.
CROSS_SITE = "cross-site request (Sec-Fetch-Site: cross-site)"
SAME_SITE = "request from another origin of this site (Sec-Fetch-Site: same-site)"
UNKNOWN_SITE = "unrecognised Sec-Fetch-Site header"
NULL_ORIGIN = "request from an opaque origin (Origin: null)"
UNTRUSTED_ORIGIN = "request from an untrusted origin"
TOKEN_MISSING = "CSRF token missing"
TOKEN_INCORRECT = "CSRF token incorrect"

_NONCE_BYTES = 16
_TOKEN_LENGTH = 64  # base64 of a 16-byte nonce and a 32-byte HMAC-SHA256
_DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*\Z")
_DOT_SEGMENT = re.compile(r"(?:^|/)\.\.?(?:/|$)")
_HOST = re.compile(r"(\[[0-9a-f:.]+\]|[a-z0-9._~!$&'()*+,;=%-]+)(?::([0-9]{1,5}))?\Z")


def _origin(scheme: str, hostport: str) -> str | None:
    """``scheme://host[:port]`` in canonical form (lower case, no default port), or
    ``None`` if *hostport* is not a plain host and optional port."""
    scheme, hostport = scheme.lower(), hostport.lower()
    match = _HOST.match(hostport)
    if match is None or not _SCHEME.match(scheme):
        return None
    host, port = match.groups()
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{int(port)}"


def parse_origin(value: str) -> str | None:
    """The ``Origin`` header *value* in canonical form, or ``None`` when it is not an
    origin (``null``, a path or credentials in it, no scheme)."""
    scheme, sep, hostport = value.strip().partition("://")
    if not sep:
        return None
    return _origin(scheme, hostport)


def _http_scheme(scheme: str, secure: bool) -> str:
    # A websocket or a request the session cookie is marked Secure for counts as the
    # https (or http) origin a browser reports for the page that sent it.
    if secure:
        return "https"
    return "http" if scheme in ("http", "ws") else "https" if scheme == "wss" else scheme


def environ_origin(environ: Environ, *, secure: bool) -> str | None:
    """The origin a WSGI request was sent to, as PEP 3333 reconstructs its URL.

    A proxy's ``X-Forwarded-*`` headers count only once something the operator
    trusts (Werkzeug's ``ProxyFix``, the server's own option) has applied them to
    ``wsgi.url_scheme`` and ``HTTP_HOST``: the rule the ``Secure`` cookie flag follows.
    """
    scheme = _http_scheme(str(environ.get("wsgi.url_scheme", "http")), secure)
    host = environ.get("HTTP_HOST")
    if not host:
        host = f"{environ.get('SERVER_NAME', '')}:{environ.get('SERVER_PORT', '')}"
    return _origin(scheme, str(host))


def scope_origin(scope: Scope, *, secure: bool) -> str | None:
    """The origin an ASGI request was sent to: its ``Host`` header, else ``server``."""
    scheme = _http_scheme(str(scope.get("scheme", "http")), secure)
    for name, value in scope.get("headers", ()):
        if name == b"host":
            return _origin(scheme, value.decode("latin-1"))
    server = scope.get("server")
    if not server:
        return None
    host, port = server[0], server[1]
    return _origin(scheme, f"{host}:{port}" if port is not None else str(host))


def _exempt_prefix(prefix: object) -> str:
    if not isinstance(prefix, str) or not prefix.startswith("/"):
        raise ValueError(f"exempt takes path prefixes that start with '/', got {prefix!r}")
    if any(ord(c) < 0x20 or c == "\x7f" for c in prefix):
        raise ValueError(f"exempt path prefix {prefix!r} holds a control character")
    return prefix


def _trusted_origin(value: object) -> str:
    origin = parse_origin(value) if isinstance(value, str) else None
    if origin is None or (isinstance(value, str) and "*" in value):
        raise ValueError(
            "trusted_origins takes origins written scheme://host[:port] with no path, "
            f"e.g. 'https://admin.example.com', got {value!r}"
        )
    return origin


class CSRF:
    """The CSRF check's configuration: pass it as ``SessionAuth(..., csrf=CSRF(...))``.

    Args:
        trusted_origins: other origins allowed to send unsafe requests, written
            ``scheme://host[:port]`` (``"https://admin.example.com"``). A trusted
            origin passes rules 1 and 2 whatever ``Sec-Fetch-Site`` says.
        exempt: path prefixes that are never checked (webhooks that carry their own
            signature). ``"/hooks"`` exempts ``/hooks`` and ``/hooks/...``, not
            ``/hooksmith``, nor a path with a ``.`` or ``..`` segment. Compared with
            the full path (WSGI ``SCRIPT_NAME`` plus ``PATH_INFO``; the ASGI ``path``).
        require_token: also require the session's token (see :func:`csrf_token`) on
            every unsafe request, from browsers and other clients alike.

    Raises:
        ValueError: a trusted origin that is not an origin, or an exempt prefix that
            does not start with ``/``.
    """

    __slots__ = ("_exempt", "require_token", "trusted_origins")

    def __init__(
        self,
        *,
        trusted_origins: Iterable[str] = (),
        exempt: Iterable[str] = (),
        require_token: bool = False,
    ) -> None:
        if isinstance(trusted_origins, str) or isinstance(exempt, str):
            raise TypeError("trusted_origins and exempt take lists of strings, not one string")
        #: The trusted origins, in canonical form.
        self.trusted_origins = frozenset(_trusted_origin(o) for o in trusted_origins)
        self._exempt = tuple(_exempt_prefix(p) for p in exempt)
        self.require_token = bool(require_token)

    @property
    def exempt(self) -> tuple[str, ...]:
        """The exempt path prefixes."""
        return self._exempt

    def __repr__(self) -> str:
        return (
            f"CSRF(trusted_origins={sorted(self.trusted_origins)!r}, "
            f"exempt={list(self._exempt)!r}, require_token={self.require_token!r})"
        )

    def is_exempt(self, path: str) -> bool:
        """Whether *path* falls under one of the exempt prefixes.

        A path with a ``.`` or ``..`` segment never does: ``/hooks/../admin`` starts
        with ``/hooks/`` but names ``/admin`` to whatever resolves it after the check
        (a proxy, a static-file handler). Browsers resolve dot segments before they
        send a request, so only a decoded ``%2F`` puts one into a path.
        """
        for prefix in self._exempt:
            if path == prefix or path.startswith(prefix if prefix[-1] == "/" else prefix + "/"):
                return _DOT_SEGMENT.search(path) is None
        return False

    def check_headers(
        self, fetch_site: str | None, origin: str | None, own: str | None
    ) -> str | None:
        """Rules 1-3 for an unsafe request: ``None`` if it passes, else the reason.

        Args:
            fetch_site: the ``Sec-Fetch-Site`` header, if sent.
            origin: the ``Origin`` header, if sent.
            own: the request's own origin (:func:`environ_origin`, :func:`scope_origin`).
        """
        parsed = None if origin is None else parse_origin(origin)
        if fetch_site is not None:
            site = fetch_site.strip().lower()
            if site == "same-origin" or site == "none" or parsed in self.trusted_origins:
                return None
            return {"cross-site": CROSS_SITE, "same-site": SAME_SITE}.get(site, UNKNOWN_SITE)
        if origin is not None:
            if parsed is not None and (parsed == own or parsed in self.trusted_origins):
                return None
            return NULL_ORIGIN if origin.strip().lower() == "null" else UNTRUSTED_ORIGIN
        return None

    def check_environ(self, environ: Environ, *, secure: bool) -> str | None:
        """Rules 1-3 for a WSGI request (any method): ``None`` or the reason it fails."""
        if environ.get("REQUEST_METHOD", "GET") in SAFE_METHODS:
            return None
        if self._exempt and self.is_exempt(
            environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        ):
            return None
        fetch_site = environ.get("HTTP_SEC_FETCH_SITE")
        origin = environ.get("HTTP_ORIGIN")
        if fetch_site is None and origin is None:
            return None
        own = environ_origin(environ, secure=secure) if fetch_site is None else None
        return self.check_headers(fetch_site, origin, own)

    def check_scope(self, scope: Scope, *, secure: bool) -> str | None:
        """Rules 1-3 for an ASGI ``http`` request: ``None`` or the reason it fails."""
        if scope.get("method", "GET") in SAFE_METHODS:
            return None
        return self._check_scope_headers(scope, secure)

    def check_websocket(self, scope: Scope, *, secure: bool) -> str | None:
        """Rules 1-3 for an ASGI ``websocket`` handshake, which browsers send from any
        page with the user's cookies: ``None`` or the reason it fails."""
        return self._check_scope_headers(scope, secure)

    def _check_scope_headers(self, scope: Scope, secure: bool) -> str | None:
        if self._exempt and self.is_exempt(scope.get("path", "")):
            return None
        fetch_site = origin = None
        for name, value in scope.get("headers", ()):
            if name == b"sec-fetch-site":
                fetch_site = value.decode("latin-1")
            elif name == b"origin":
                origin = value.decode("latin-1")
        if fetch_site is None and origin is None:
            return None
        own = scope_origin(scope, secure=secure) if fetch_site is None else None
        return self.check_headers(fetch_site, origin, own)

    def environ_token_reason(self, environ: Environ, session: Mapping[str, Any]) -> str | None:
        """With ``require_token``, whether a WSGI request that passed rules 1-3 shows
        *session*'s token: ``None`` if it does (or need not), else the reason.

        A form body read for the token is handed to the app unchanged.
        """
        if not self.require_token or environ.get("REQUEST_METHOD", "GET") in SAFE_METHODS:
            return None
        if self._exempt and self.is_exempt(
            environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        ):
            return None
        # One token is checked, never both: the header's when it holds one, else the
        # form's. A wrong header token fails even with a right form token beside it; an
        # empty header is no token at all (a client that sends it blank by default).
        token = header_token_environ(environ)
        if token is None:
            token = wsgi_form_token(environ)
        return session_token_matches(session, token)

    async def scope_token_reason(
        self, scope: Scope, receive: Receive, session: Mapping[str, Any]
    ) -> tuple[str | None, Receive]:
        """The ASGI twin of :meth:`environ_token_reason`; also returns the ``receive``
        to give the app (it replays any body read for the token)."""
        if not self.require_token or scope.get("method", "GET") in SAFE_METHODS:
            return None, receive
        if self._exempt and self.is_exempt(scope.get("path", "")):
            return None, receive
        token = header_token_scope(scope)  # the header's, else the form's (see above)
        if token is None:
            token, receive = await asgi_form_token(scope, receive)
        return session_token_matches(session, token), receive


# -- tokens --------------------------------------------------------------------------


def new_secret() -> str:
    """A new token secret: 32 random bytes from :mod:`secrets`, URL-safe text."""
    return secrets.token_urlsafe(32)


def _mac(secret: str, nonce: bytes) -> bytes:
    return hmac.new(secret.encode("ascii"), b"reqsignals.csrf:" + nonce, hashlib.sha256).digest()


def mask_token(secret: str) -> str:
    """A token for *secret*: a fresh random nonce and the secret's HMAC of it.

    Every call gives different bytes (so a compressed page does not leak the secret
    through its size, the BREACH attack), and none reveals the secret.
    """
    nonce = secrets.token_bytes(_NONCE_BYTES)
    return base64.urlsafe_b64encode(nonce + _mac(secret, nonce)).decode("ascii")


def token_matches(token: str, secret: str) -> bool:
    """Whether *token* was made by :func:`mask_token` for *secret* (constant time)."""
    if len(token) != _TOKEN_LENGTH or not token.isascii():
        return False
    try:
        raw = base64.urlsafe_b64decode(token)
    except (binascii.Error, ValueError):
        return False
    nonce, mac = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
    return hmac.compare_digest(mac, _mac(secret, nonce))


def session_token_matches(session: Mapping[str, Any], token: str | None) -> str | None:
    """``None`` if *token* belongs to *session*, else the reason it does not."""
    if not token:
        return TOKEN_MISSING
    secret = session.get(SECRET_KEY)
    if not isinstance(secret, str) or not secret.isascii() or not token_matches(token, secret):
        return TOKEN_INCORRECT
    return None


def csrf_token(request: Any) -> str:
    """The CSRF token for this request's session, for a form field or a request header.

    Each call returns different text for the same secret; every one of them is valid
    until the secret changes — at login, and when the session is flushed (logout). The
    first call in a session creates the secret, so the session is saved.

    Args:
        request: a Starlette/FastAPI or Werkzeug/Flask request, an ASGI scope or a WSGI
            environ, with the session middleware installed.

    Raises:
        RuntimeError: the session middleware is not installed.

    Example::

        headers = {"X-CSRF-Token": csrf_token(request)}
    """
    session = get_session(request)
    secret = session.get(SECRET_KEY)
    if not isinstance(secret, str):
        secret = session[SECRET_KEY] = new_secret()
    return mask_token(secret)


class _HTML(str):
    """Text that template engines (Jinja2, through MarkupSafe) insert unescaped."""

    __slots__ = ()

    def __html__(self) -> str:
        return str(self)


def csrf_input(request: Any) -> str:
    """The hidden ``<input>`` that carries :func:`csrf_token` in a form.

    The result is marked safe for Jinja2 and MarkupSafe (it has ``__html__``); put it
    first in the form, so the middleware finds it before a large file field.

    Example::

        <form method="post" action="/login">{{ csrf_input(request) }} ...</form>
    """
    return _HTML(f'<input type="hidden" name="{TOKEN_FIELD}" value="{csrf_token(request)}">')


def rotate(session: Any) -> None:
    """Drop the session's token secret (login calls it): tokens issued before are dead,
    and the next :func:`csrf_token` makes a new secret."""
    if SECRET_KEY in session:
        del session[SECRET_KEY]


# -- refusing ------------------------------------------------------------------------


def _refusal(reason: str) -> tuple[bytes, list[tuple[str, str]]]:
    body = f"Forbidden: {reason}.\n".encode()
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("X-Content-Type-Options", "nosniff"),
        ("Cache-Control", "no-store"),
    ]
    return body, headers


def refuse_wsgi(environ: Environ, start_response: StartResponse, reason: str) -> list[bytes]:
    """Send ``csrf_failed`` and answer the WSGI request ``403``."""
    csrf_failed.send_robust(SENDER, request=environ, reason=reason)
    body, headers = _refusal(reason)
    start_response("403 Forbidden", headers)
    return [body]


async def refuse_asgi(scope: Scope, send: Send, reason: str) -> None:
    """Send ``csrf_failed`` and answer the ASGI request ``403``."""
    await csrf_failed.asend_robust(SENDER, request=scope, reason=reason)
    body, headers = _refusal(reason)
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [(n.lower().encode(), v.encode()) for n, v in headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


#: The websocket close code for a connection refused by policy (RFC 6455, 7.4.1).
_POLICY_VIOLATION = 1008


async def refuse_websocket(scope: Scope, receive: Receive, send: Send, reason: str) -> None:
    """Send ``csrf_failed`` and deny the websocket handshake: ``websocket.close`` before
    ``websocket.accept``, which the server answers with HTTP ``403``."""
    await csrf_failed.asend_robust(SENDER, request=scope, reason=reason)
    message = await receive()  # the handshake's websocket.connect
    if message.get("type") == "websocket.connect":
        await send({"type": "websocket.close", "code": _POLICY_VIOLATION})


def header_token_environ(environ: Environ) -> str | None:
    """The token of a WSGI request's ``X-CSRF-Token`` header, if it has one: ``None``
    when the header is absent, empty or only whitespace."""
    value = environ.get("HTTP_X_CSRF_TOKEN")
    return (value.strip() or None) if isinstance(value, str) else None


def header_token_scope(scope: Scope) -> str | None:
    """The token of an ASGI request's ``X-CSRF-Token`` header, if it has one: ``None``
    when the header is absent, empty or only whitespace (the first one sent counts)."""
    for name, value in scope.get("headers", ()):
        if name == b"x-csrf-token":
            token = str(value.decode("latin-1")).strip()
            return token or None
    return None
