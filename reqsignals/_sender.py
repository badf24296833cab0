"""The ``sender`` option both middlewares share."""

from __future__ import annotations

from typing import Any

from .dispatch import _sender_key


class HasSender:
    """A ``sender`` attribute that keeps the dispatcher's key for it up to date.

    The middlewares look their receivers up by that key on every request, so it is
    worked out when ``sender`` is set (in ``__init__``, or later) rather than per
    request.
    """

    _sender: Any
    _key: Any

    @property
    def sender(self) -> Any:
        """The ``sender`` of every signal this middleware sends."""
        return self._sender

    @sender.setter
    def sender(self, sender: Any) -> None:
        self._sender = sender
        self._key = _sender_key(sender)
