"""Helpers for testing code that sends or receives reqsignals signals.

:func:`capture` records every send of the given signals, in order::

    from reqsignals.testing import capture
    from reqsignals import request_finished

    with capture(request_finished) as sent:
        client.get("/")
    sent.assert_sent(request_finished, times=1, status=200)

Under pytest the ``sent_signals`` fixture (registered through the ``pytest11`` entry
point, so installing reqsignals is enough) is a :class:`Capture` of every built-in
signal for the duration of one test.
"""

from __future__ import annotations

import reprlib
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple

from .dispatch import Signal
from .signals import ALL_SIGNALS, request_finished, request_started

__all__ = ["Capture", "Sent", "capture"]

_MISSING = object()


class Sent(NamedTuple):
    """One recorded send."""

    signal: Signal
    sender: Any
    kwargs: dict[str, Any]

    @property
    def name(self) -> str | None:
        """The name of the signal sent."""
        return self.signal.name


class Capture:
    """The sends recorded by :func:`capture`, in the order they happened.

    Safe to fill from several threads (threaded servers) at once.
    """

    def __init__(self, signals: tuple[Signal, ...]) -> None:
        self.signals = signals
        self.sent: list[Sent] = []
        self._lock = threading.Lock()

    def _record(self, signal: Signal, sender: Any, **kwargs: Any) -> None:
        with self._lock:
            self.sent.append(Sent(signal, sender, kwargs))

    def __len__(self) -> int:
        return len(self.sent)

    def __iter__(self) -> Iterator[Sent]:
        return iter(list(self.sent))

    @property
    def names(self) -> list[str | None]:
        """The names of the signals sent, in order."""
        return [s.name for s in self.sent]

    def of(self, signal: Signal) -> list[Sent]:
        """The sends of *signal*, in order."""
        return [s for s in self.sent if s.signal is signal]

    def clear(self) -> None:
        """Forget everything recorded so far."""
        with self._lock:
            self.sent.clear()

    def assert_sent(
        self, signal: Signal, *, times: int | None = None, sender: Any = _MISSING, **kwargs: Any
    ) -> Sent:
        """Assert that *signal* was sent with these keyword arguments; return the last match.

        Args:
            signal: the signal expected.
            times: if given, the exact number of matching sends.
            sender: if given, the sender the send must have had.
            **kwargs: keyword arguments the send must have had, compared with ``==``
                (other keyword arguments are ignored).

        Raises:
            AssertionError: with the sends that were recorded, when nothing matches.
        """
        matches = [
            s
            for s in self.of(signal)
            if (sender is _MISSING or s.sender == sender)
            and all(k in s.kwargs and s.kwargs[k] == v for k, v in kwargs.items())
        ]
        if not matches or (times is not None and len(matches) != times):
            wanted = f"{times} send(s)" if times is not None else "a send"
            raise AssertionError(
                f"expected {wanted} of {signal!r} with {kwargs or 'any arguments'}"
                f"{'' if sender is _MISSING else f' from {sender!r}'}; "
                f"got {len(matches)} matching. Recorded: {self._describe()}"
                f"{self._unfinished_hint() if signal is request_finished else ''}"
            )
        return matches[-1]

    def assert_not_sent(self, signal: Signal) -> None:
        """Assert that *signal* was never sent."""
        if self.of(signal):
            raise AssertionError(f"{signal!r} was sent: {self._describe()}")

    def assert_order(self, *signals: Signal) -> None:
        """Assert that exactly these signals were sent, in this order."""
        got = [s.signal for s in self.sent]
        if got != list(signals):
            raise AssertionError(
                f"expected {[s.name for s in signals]}, got {[s.name for s in got]}"
            )

    def _describe(self) -> str:
        return ", ".join(_describe_send(s) for s in self.sent) or "nothing"

    def _unfinished_hint(self) -> str:
        """Why a request_finished may be missing: requests that started, never finished."""
        finished = {id(_request_of(s)) for s in self.of(request_finished)}
        unfinished = [s for s in self.of(request_started) if id(_request_of(s)) not in finished]
        if not unfinished:
            return ""
        return (
            f". {len(unfinished)} request(s) started and never finished: a WSGI request "
            "finishes when its response is closed, and nothing closed it. With Flask's "
            "(Werkzeug's) test client write 'with client.get(...) as response:' or pass "
            "buffered=True, or call response.close()"
        )


def _request_of(sent: Sent) -> Any:
    return sent.kwargs.get("environ", sent.kwargs.get("scope"))


def _describe_value(value: Any) -> str:
    """A short form of one recorded argument: an environ or a scope by its request line."""
    if isinstance(value, Mapping):
        if "REQUEST_METHOD" in value:
            return f"<environ {value['REQUEST_METHOD']} {value.get('PATH_INFO', '')}>"
        if value.get("type") in ("http", "websocket") and "path" in value:
            return f"<scope {value.get('method', value['type'])} {value['path']}>"
    return reprlib.repr(value)


def _describe_send(sent: Sent) -> str:
    values = {"sender": sent.sender, **sent.kwargs}
    args = ", ".join(f"{k}={_describe_value(v)}" for k, v in values.items())
    return f"{sent.name}({args})"


@contextmanager
def capture(*signals: Signal) -> Iterator[Capture]:
    """Record every send of *signals* (all built-in signals if none given) in the block.

    The recorder is connected strongly and disconnected when the block ends, even if
    it raises. It is a plain function, so it is heard by ``send``, ``send_robust``,
    ``asend`` and ``asend_robust`` alike.
    """
    chosen = signals or ALL_SIGNALS
    cap = Capture(chosen)
    connected = []
    try:
        for sig in chosen:

            def record(sender: Any, *, _sig: Signal = sig, **kwargs: Any) -> None:
                kwargs.pop("signal", None)
                cap._record(_sig, sender, **kwargs)

            sig.connect(record, weak=False)
            connected.append((sig, record))
        yield cap
    finally:
        for sig, record in connected:
            sig.disconnect(record)


if TYPE_CHECKING:
    import pytest
else:
    try:
        import pytest
    except ImportError:  # pragma: no cover - only without pytest installed
        pytest = None

if pytest is not None:

    @pytest.fixture
    def sent_signals() -> Iterator[Capture]:
        """Every built-in reqsignals signal sent during the test, in order."""
        with capture() as cap:
            yield cap
