"""What each request of the fault-injection load does, decided by its id alone.

The served apps (``tests/live_apps/reliability_served.py``) and the load test both call these
functions, so the test knows exactly how many faults the server saw: no randomness,
no sampling, exact counts.

Out of every 40 request ids:

* 4 are clients that leave mid-stream (10 %): the app streams, the client reads the
  first chunk and closes the connection;
* 1 raises before the response starts and 1 after it started (5 % app exceptions);
* 1 meets a sync receiver that raises and 1 an async one (5 % of the sends of
  ``request_started`` and of ``request_finished``); their responses must be intact;
* the rest are plain responses whose body the client checks byte for byte.
"""

from __future__ import annotations

import hashlib

#: The header that carries the request id, as clients send it.
ID_HEADER = "x-req-id"

OK = "ok"
DISCONNECT = "disconnect"
RAISE_BEFORE = "raise-before"
RAISE_AFTER = "raise-after"

#: The largest request id the served apps keep counters for (exclusive).
MAX_IDS = 10_000

#: A streamed response for a disconnecting client: up to this many chunks, this far
#: apart, so it ends by itself if a server never notices that the client left.
STREAM_CHUNKS = 50
STREAM_CHUNK = b"s" * 4096
STREAM_PAUSE = 0.004


def kind(i: int) -> str:
    """What request *i* does."""
    r = i % 40
    if r % 10 == 0:
        return DISCONNECT
    if r == 5:
        return RAISE_BEFORE
    if r == 25:
        return RAISE_AFTER
    return OK


def receiver_fault(i: int) -> str | None:
    """``"sync"`` or ``"async"`` when a receiver raises for request *i*, else None."""
    r = i % 40
    return "sync" if r == 15 else "async" if r == 35 else None


def body(i: int) -> bytes:
    """The exact body of an ``OK`` response to request *i*: 64 B to 16 KiB."""
    size = 64 + (i * 7919) % 16_320
    seed = hashlib.sha256(str(i).encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def chunked(i: int) -> bool:
    """Whether the ``OK`` body of request *i* is sent in several chunks."""
    return i % 3 == 1


def chunks(data: bytes) -> list[bytes]:
    """*data* in four pieces (the last ones may be empty)."""
    step = len(data) // 4 + 1
    return [data[n : n + step] for n in range(0, len(data), step)]


class AppFault(RuntimeError):
    """The exception the apps raise on purpose."""


class ReceiverFault(RuntimeError):
    """The exception the faulty receivers raise on purpose."""
