"""Finding the ``csrf_token`` field in a request body without taking the body from the app.

The body is read only as far as the field (the rest streams to the app as it comes),
kept in memory up to :data:`SPOOL_SIZE` and in a temporary file past that, and handed
to the app again unchanged: WSGI through a replacement ``wsgi.input``, ASGI through a
``receive`` that replays what was read. Forms are parsed by python-multipart, the
streaming parser Starlette uses.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import IO, Any
from urllib.parse import unquote_plus

from ..types import Environ, Message, Receive, Scope

__all__ = ["asgi_form_token", "wsgi_form_token"]

#: Bytes of body kept in memory before the rest goes to a temporary file.
SPOOL_SIZE = 1024 * 1024
CHUNK = 64 * 1024
# A token is 64 characters; a longer field value is no token and is not collected.
_MAX_VALUE = 256
_FIELD = b"csrf_token"
_URLENCODED = b"application/x-www-form-urlencoded"
_MULTIPART = b"multipart/form-data"


class _Finder:
    """Feeds body chunks to a form parser until the ``csrf_token`` field is complete."""

    def __init__(self, content_type: str) -> None:
        from python_multipart.multipart import (
            MultipartParser,
            QuerystringParser,
            parse_options_header,
        )

        self.token: str | None = None
        self.failed = False
        self._name = bytearray()
        self._value = bytearray()
        self._header = bytearray()
        self._header_value = bytearray()
        self._is_token = False
        self._parse_options = parse_options_header
        kind, options = parse_options_header(content_type)
        self.parser: Any = None
        if kind == _URLENCODED:
            self.parser = QuerystringParser(
                {
                    "on_field_start": self._start,
                    "on_field_name": self._on_name,
                    "on_field_data": self._on_value,
                    "on_field_end": self._field_end,
                }
            )
        elif kind == _MULTIPART and options.get(b"boundary"):
            try:
                self.parser = MultipartParser(
                    options[b"boundary"],
                    {
                        "on_part_begin": self._start,
                        "on_header_field": self._on_header,
                        "on_header_value": self._on_header_value,
                        "on_header_end": self._header_end,
                        "on_part_data": self._on_value,
                        "on_part_end": self._part_end,
                    },
                )
            except Exception:  # a boundary it refuses (over 256 bytes): no token in it
                self.failed = True

    @property
    def done(self) -> bool:
        return self.parser is None or self.token is not None or self.failed

    def feed(self, chunk: bytes) -> None:
        if self.done or not chunk:
            return
        try:
            self.parser.write(chunk)
        except Exception:  # a malformed form has no token; the app judges the rest
            self.failed = True

    def end(self) -> None:
        """The body is over: a last urlencoded field ends only here."""
        if self.done:
            return
        try:
            self.parser.finalize()
        except Exception:
            self.failed = True

    # urlencoded

    def _start(self) -> None:
        del self._name[:], self._value[:], self._header[:], self._header_value[:]
        self._is_token = False

    def _on_name(self, data: bytes, start: int, end: int) -> None:
        if len(self._name) <= _MAX_VALUE:
            self._name += data[start:end]

    def _on_value(self, data: bytes, start: int, end: int) -> None:
        if len(self._value) <= _MAX_VALUE:
            self._value += data[start:end]

    def _field_end(self) -> None:
        if unquote_plus(self._name.decode("latin-1")) == _FIELD.decode():
            self._found(unquote_plus(self._value.decode("latin-1")))

    # multipart

    def _on_header(self, data: bytes, start: int, end: int) -> None:
        self._header += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        if bytes(self._header).strip().lower() == b"content-disposition":
            _, options = self._parse_options(bytes(self._header_value))
            self._is_token = options.get(b"name") == _FIELD and b"filename" not in options
        del self._header[:], self._header_value[:]

    def _part_end(self) -> None:
        if self._is_token:
            self._found(self._value.decode("latin-1"))
        del self._value[:]

    def _found(self, value: str) -> None:
        if self.token is None and len(value) <= _MAX_VALUE:
            self.token = value.strip()


def _wants_body(content_type: str | None) -> bool:
    if not content_type:
        return False
    kind = content_type.split(";", 1)[0].strip().lower().encode("latin-1", "replace")
    return kind in (_URLENCODED, _MULTIPART)


# -- WSGI ----------------------------------------------------------------------------


class _ReplayInput:
    """``wsgi.input`` that yields the bytes read already, then the rest of the stream."""

    def __init__(self, head: IO[bytes], rest: Any, left: int | None) -> None:
        self._head = head  # closed once read, or with this object
        self._head_done = False
        self._rest = rest
        self._left = left  # bytes the original stream still owes; None: read to EOF

    def __del__(self) -> None:  # an app that never reads the whole body
        self._head.close()

    def _read_head(self, size: int) -> bytes:
        if self._head_done:
            return b""
        data = self._head.read(size) if size >= 0 else self._head.read()
        if size < 0 or len(data) < size:
            self._head_done = True
            self._head.close()
        return data

    def _read_rest(self, size: int) -> bytes:
        if self._left is not None:
            size = self._left if size < 0 else min(size, self._left)
            if size <= 0:
                return b""
        data: bytes = self._rest.read(size) if size >= 0 else self._rest.read()
        if self._left is not None:
            self._left -= len(data)
        return data

    def read(self, size: int | None = -1) -> bytes:
        size = -1 if size is None else size
        data = self._read_head(size)
        if size < 0 or len(data) < size:
            data += self._read_rest(size - len(data) if size >= 0 else -1)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        size = -1 if size is None else size
        line = b""
        if not self._head_done:
            line = self._head.readline(size) if size >= 0 else self._head.readline()
            if line.endswith(b"\n") or (size >= 0 and len(line) >= size):
                return line
            self._head_done = True
            self._head.close()
        if self._left is not None and self._left <= 0:
            return line
        limit = size - len(line) if size >= 0 else -1
        if self._left is not None:
            limit = self._left if limit < 0 else min(limit, self._left)
        more: bytes = self._rest.readline(limit)
        if self._left is not None:
            self._left -= len(more)
        return line + more

    def readlines(self, hint: int = -1) -> list[bytes]:
        lines, total = [], 0
        for line in self:
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> Iterator[bytes]:
        while True:
            line = self.readline()
            if not line:
                return
            yield line


def wsgi_form_token(environ: Environ) -> str | None:
    """The ``csrf_token`` field of a WSGI form body, or ``None``.

    The bytes read are put back: ``environ["wsgi.input"]`` is replaced by a stream that
    gives the app the whole body, unchanged, and ``CONTENT_LENGTH`` stays as it was.
    """
    content_type = environ.get("CONTENT_TYPE")
    if not _wants_body(content_type):
        return None
    try:
        left: int | None = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if not left:
        if not environ.get("wsgi.input_terminated"):
            return None  # PEP 3333: without a length, the body is not to be read
        left = None
    assert content_type is not None
    finder = _Finder(content_type)
    stream = environ["wsgi.input"]
    head = tempfile.SpooledTemporaryFile(max_size=SPOOL_SIZE)  # noqa: SIM115 - the replay's
    while not finder.done and (left is None or left > 0):
        chunk = stream.read(CHUNK if left is None else min(CHUNK, left))
        if not chunk:
            break
        if left is not None:
            left -= len(chunk)
        head.write(chunk)
        finder.feed(chunk)
    finder.end()  # a no-op once the token is found; else the body is over
    head.seek(0)
    environ["wsgi.input"] = _ReplayInput(head, stream, left)
    return finder.token


# -- ASGI ----------------------------------------------------------------------------


async def asgi_form_token(scope: Scope, receive: Receive) -> tuple[str | None, Receive]:
    """The ``csrf_token`` field of an ASGI form body, and the ``receive`` to give the app.

    The returned ``receive`` replays the body messages read (their bytes unchanged,
    re-cut into chunks of up to 64 KiB), then reads on from the server.
    """
    content_type = None
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            content_type = value.decode("latin-1")
            break
    if not _wants_body(content_type):
        return None, receive
    assert content_type is not None
    finder = _Finder(content_type)
    head = tempfile.SpooledTemporaryFile(max_size=SPOOL_SIZE)  # noqa: SIM115 - the replay's
    more = True
    last: Message | None = None  # a message that ended the body early (a disconnect)
    while more and not finder.done:
        message = await receive()
        if message["type"] != "http.request":
            last = message
            break
        chunk = message.get("body", b"")
        more = bool(message.get("more_body", False))
        head.write(chunk)
        finder.feed(chunk)
    finder.end()
    head.seek(0)
    return finder.token, _Replay(head, more and last is None, last, receive)


class _Replay:
    """An ASGI ``receive`` that gives the body read so far, then reads on."""

    def __init__(self, head: IO[bytes], more: bool, last: Message | None, receive: Receive):
        self._head: IO[bytes] | None = head
        self._more = more  # the server has more body to send after what was read
        self._last = last
        self._receive = receive
        head.seek(0, 2)
        self._end = head.tell()
        head.seek(0)

    def __del__(self) -> None:  # an app that never reads the whole body
        if self._head is not None:
            self._head.close()

    async def __call__(self) -> Message:
        head = self._head
        if head is not None:
            chunk = head.read(CHUNK)
            at_end = head.tell() >= self._end
            if at_end:
                self._head = None
                head.close()
            return {
                "type": "http.request",
                "body": chunk,
                "more_body": self._more or self._last is not None or not at_end,
            }
        if self._last is not None:
            message, self._last = self._last, None
            return message
        return await self._receive()
