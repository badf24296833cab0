"""The one rule that tells a WSGI app from an ASGI 3 app.

:func:`reqsignals.wrap`, ``reqsignals run``, the session-auth middleware and both
signals middlewares all ask :func:`detect`, so they never disagree about an app.
"""

from __future__ import annotations

import inspect
from typing import Any, Literal

from .dispatch import is_async_callable

Interface = Literal["wsgi", "asgi"]

_FIX_ASGI2 = (
    "wrap it with asgiref.compatibility.guarantee_single_callable(app) to make an ASGI 3 app"
)


def detect(app: Any) -> tuple[Interface, bool]:
    """Whether *app* is a WSGI or an ASGI 3 app, and whether that is certain.

    The call signature decides: ``app(scope, receive, send)`` is ASGI and
    ``app(environ, start_response)`` is WSGI, whatever the app is (a function, an
    object with ``__call__``, a :func:`functools.partial`, or a class whose instances
    are the response iterable, as in PEP 3333's example). Coroutine-ness alone is a
    poor guide, since wrappers and decorators hide it (Sentry #947, uvicorn #900), so
    it is asked only when the signature cannot tell: a ``*args`` wrapper takes both,
    a builtin has none to read. The answer is then a guess (the second item False):
    ASGI for a coroutine function or an object with ``async def __call__``, else WSGI.
    asgiref's ``_asgi_single_callable`` marker is certain ASGI.

    Raises:
        TypeError: *app* is not callable; is an ASGI 2 (double-callable) app; or is a
            class rather than an app instance (other than a PEP 3333 class app).
    """
    if not callable(app):
        raise TypeError(
            f"{app!r} is not a WSGI or ASGI application (it is not callable): expected a "
            "callable such as a Flask, Django, Starlette or FastAPI app object"
        )
    if getattr(app, "_asgi_single_callable", False):
        return "asgi", True
    if getattr(app, "_asgi_double_callable", False):
        raise TypeError(f"{app!r} is marked as an ASGI 2 (double-callable) app: {_FIX_ASGI2}")
    if inspect.isclass(app):
        if hasattr(app, "__await__"):  # the class itself is the app: Cls(scope, receive, send)
            return "asgi", True
        if hasattr(app, "__iter__") and _class_takes(app, 2):
            # PEP 3333's own example: Cls(environ, start_response) is the response.
            return "wsgi", True
        raise TypeError(
            f"got the class {app.__qualname__}, not an app: pass an instance "
            f"({app.__qualname__}(...)); if instances of it take only the scope, it is an "
            f"ASGI 2 app: {_FIX_ASGI2}"
        )
    try:
        # The signature of the callable itself: a decorator's `*args` wrapper is what
        # gets called, whatever `__wrapped__` says (Werkzeug's Request.application).
        signature = inspect.signature(app, follow_wrapped=False)
    except (TypeError, ValueError):  # builtins and C callables: nothing to read
        return ("asgi" if is_async_callable(app) else "wsgi"), False
    three, two = _binds(signature, 3), _binds(signature, 2)
    if three != two:
        return ("asgi" if three else "wsgi"), True
    if not three and _binds(signature, 1):
        raise TypeError(
            f"{app!r} takes only the scope, so it looks like an ASGI 2 (double-callable) "
            f"app: {_FIX_ASGI2}"
        )
    if not three:
        raise TypeError(
            f"{app!r} cannot be called with three arguments (ASGI: scope, receive, send) "
            "nor with two (WSGI: environ, start_response)"
        )
    return ("asgi" if is_async_callable(app) else "wsgi"), False


def _class_takes(cls: type, count: int) -> bool:
    """Whether ``cls(...)`` takes *count* positional arguments, and not one more."""
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return False
    return _binds(signature, count) and not _binds(signature, count + 1)


def _binds(signature: inspect.Signature, count: int) -> bool:
    try:
        signature.bind(*range(count))
    except TypeError:
        return False
    return True
