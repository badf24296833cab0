"""The CSRF check's own origin behind a proxy, with the tools that really apply the
proxy's headers: uvicorn's ``--proxy-headers`` and Werkzeug's ``ProxyFix``.

The proxy terminates TLS for ``https://app.example`` and forwards plain HTTP with
``X-Forwarded-Proto`` (and ``X-Forwarded-Host``, for ProxyFix). The check must see
the origin the browser saw, exactly when the session cookie is marked ``Secure``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from werkzeug.middleware.proxy_fix import ProxyFix

from reqsignals.auth import MemoryStore, SessionAuth
from tests.helpers import servers
from tests.helpers.support import Server, run_server
from tests.live_apps.auth_apps import SECRET
from tests.live_apps.auth_csrf_apps import PASSWORD, make_backend, wsgi_app

FORM = {"username": "ada", "password": PASSWORD}
SEEN_BY_BROWSER = "https://app.example"


def uvicorn(*options: str) -> list[str]:
    return servers.uvicorn("tests.live_apps.auth_csrf_apps:served_asgi", *options, factory=True)


@pytest.fixture(scope="module")
def trusting() -> Iterator[Server]:
    with run_server(uvicorn("--proxy-headers", "--forwarded-allow-ips", "127.0.0.1")) as server:
        yield server


@pytest.fixture(scope="module")
def not_trusting() -> Iterator[Server]:
    with run_server(uvicorn("--no-proxy-headers")) as server:
        yield server


def post_through_proxy(url: str, origin: str) -> httpx.Response:
    # What nginx sends with `proxy_set_header Host $host` and X-Forwarded-Proto $scheme.
    headers = {"Host": "app.example", "X-Forwarded-Proto": "https", "Origin": origin}
    return httpx.post(f"{url}/login", data=FORM, headers=headers, timeout=10)


@pytest.mark.server
def test_uvicorn_proxy_headers_make_the_https_origin_our_own(trusting: Server) -> None:
    response = post_through_proxy(trusting.url, SEEN_BY_BROWSER)
    assert response.status_code == 200, response.text
    assert "Secure" in response.headers["set-cookie"]
    refused = post_through_proxy(trusting.url, "http://app.example")
    assert refused.status_code == 403
    assert "set-cookie" not in refused.headers


@pytest.mark.server
def test_without_proxy_headers_the_https_origin_is_foreign(not_trusting: Server) -> None:
    # The app cannot know it is served over HTTPS: it neither marks the cookie Secure
    # nor takes the browser's https origin for its own (trusted_origins would).
    refused = post_through_proxy(not_trusting.url, SEEN_BY_BROWSER)
    assert refused.status_code == 403
    plain = post_through_proxy(not_trusting.url, "http://app.example")
    assert plain.status_code == 200
    assert "Secure" not in plain.headers["set-cookie"]


def proxied(app: Any, proxy_fix: bool) -> httpx.Client:
    inner = ProxyFix(app, x_proto=1, x_host=1) if proxy_fix else app
    return httpx.Client(transport=httpx.WSGITransport(app=inner), base_url="http://10.0.0.5:8000")


@pytest.mark.parametrize("proxy_fix", [True, False], ids=["proxyfix", "no-proxyfix"])
def test_werkzeug_proxy_fix_applies_forwarded_proto_and_host(proxy_fix: bool) -> None:
    auth = SessionAuth(SECRET, MemoryStore(), backends=[make_backend()])
    headers = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "app.example",
        "Origin": SEEN_BY_BROWSER,
    }
    with proxied(wsgi_app(auth, []), proxy_fix) as client:
        response = client.post("/login", data=FORM, headers=headers)
        if proxy_fix:
            assert response.status_code == 200
            assert "Secure" in response.headers["set-cookie"]
        else:
            assert response.status_code == 403
            # The address the proxy connected to is the app's own origin without it.
            own = client.post("/login", data=FORM, headers={"Origin": "http://10.0.0.5:8000"})
            assert own.status_code == 200
