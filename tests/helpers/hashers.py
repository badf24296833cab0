"""One cheap, real argon2 hasher for every test, and a PasswordHasher that counts its work.

Production costs (argon2-cffi's defaults) take tens of milliseconds a hash; these take
about one. The tests and the servers they start use the same costs, so a login never
rehashes a password because the two disagree.
"""

from __future__ import annotations

import threading
from typing import Any, Literal

import argon2

from reqsignals.auth.hashers import Argon2Hasher

#: argon2 costs low enough for tests: one pass over 1 MiB, one lane. The keyword
#: arguments of both ``argon2.PasswordHasher`` and ``Argon2Hasher``.
CHEAP_COST: dict[str, Any] = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}


def cheap_hasher(**options: Any) -> Argon2Hasher:
    """An ``Argon2Hasher`` with :data:`CHEAP_COST` (and any other *options*)."""
    return Argon2Hasher(**CHEAP_COST, **options)


class CountingPasswordHasher(argon2.PasswordHasher):
    """The real argon2 hasher (at :data:`CHEAP_COST` unless told), counting its work.

    ``hashes`` and ``verifies`` count the calls (``computations`` is both), ``threads``
    holds the ids of the threads they ran in; ``reset()`` starts the counts again.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**{**CHEAP_COST, **kwargs})
        self.hashes = 0
        self.verifies = 0
        self.threads: set[int] = set()

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.hashes += 1
        self.threads.add(threading.get_ident())
        return super().hash(password, salt=salt)

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verifies += 1
        self.threads.add(threading.get_ident())
        return super().verify(hash, password)

    @property
    def computations(self) -> int:
        """Every Argon2 run so far: the hashes and the verifications."""
        return self.hashes + self.verifies

    def reset(self) -> None:
        """Start counting again from zero."""
        self.hashes = self.verifies = 0
        self.threads.clear()
