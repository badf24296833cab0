"""Password hashing for the built-in backends, through ``argon2-cffi``.

:class:`Argon2Hasher` wraps :class:`argon2.PasswordHasher` (Argon2id) with the small
interface the backends need (:class:`Hasher`): hash, verify without raising, tell when a
hash should be upgraded, and spend the same work for a user who does not exist.
Nothing here implements cryptography; ``argon2-cffi`` does (it comes with
reqsignals' ``auth`` extra).
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from argon2 import PasswordHasher

__all__ = ["MAX_PASSWORD_LENGTH", "Argon2Hasher", "Hasher"]

#: Passwords longer than this (characters for ``str``, bytes for ``bytes``) are refused
#: before any hashing, so a request cannot make the server hash megabytes.
MAX_PASSWORD_LENGTH = 4096


class Hasher(Protocol):
    """What a backend needs from a password hasher. :class:`Argon2Hasher` is one."""

    #: Longer passwords are refused without hashing.
    max_password_length: int

    def hash(self, password: str | bytes) -> str:
        """The encoded hash of *password*, salt and parameters included."""
        ...

    def verify(self, password_hash: str, password: str | bytes) -> bool:
        """True if *password* matches *password_hash*; never raises for a mismatch."""
        ...

    def needs_rehash(self, password_hash: str) -> bool:
        """True if *password_hash* was made with other parameters than this hasher's."""
        ...

    def dummy_verify(self, password: str | bytes) -> bool:
        """Do the work of :meth:`verify` against a hash no password matches; False."""
        ...


class Argon2Hasher:
    """Argon2id password hashing with ``argon2-cffi``; the default of the built-in backends.

    Args:
        time_cost, memory_cost, parallelism, hash_len, salt_len: passed to
            :class:`argon2.PasswordHasher`; those left out keep the library's defaults
            (RFC 9106's low-memory profile: 3 passes over 64 MiB, 4 lanes).
        max_password_length: longer passwords are refused without hashing
            (default :data:`MAX_PASSWORD_LENGTH`).
        password_hasher: an already configured :class:`argon2.PasswordHasher`, e.g.
            ``PasswordHasher.from_parameters(argon2.profiles.RFC_9106_HIGH_MEMORY)``;
            not together with the parameters above.

    Raises:
        ImportError: ``argon2-cffi`` is not installed.
        TypeError: both ``password_hasher`` and hashing parameters were given.

    Cheap parameters keep test suites fast (never use them in production)::

        hasher = Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1)
        encoded = hasher.hash("correct horse")
        assert hasher.verify(encoded, "correct horse")
    """

    def __init__(
        self,
        *,
        time_cost: int | None = None,
        memory_cost: int | None = None,
        parallelism: int | None = None,
        hash_len: int | None = None,
        salt_len: int | None = None,
        max_password_length: int = MAX_PASSWORD_LENGTH,
        password_hasher: PasswordHasher | None = None,
    ) -> None:
        try:
            import argon2
        except ImportError as exc:  # pragma: no cover - argon2-cffi is a test dependency
            raise ImportError("Argon2Hasher needs argon2-cffi: pip install argon2-cffi") from exc
        params: dict[str, Any] = {
            name: value
            for name, value in (
                ("time_cost", time_cost),
                ("memory_cost", memory_cost),
                ("parallelism", parallelism),
                ("hash_len", hash_len),
                ("salt_len", salt_len),
            )
            if value is not None
        }
        if password_hasher is not None and params:
            raise TypeError(
                "Argon2Hasher takes either password_hasher= or hashing parameters, not both; "
                "configure the argon2.PasswordHasher you pass instead"
            )
        if max_password_length < 1:
            raise ValueError(f"max_password_length must be positive, got {max_password_length}")
        self.max_password_length = max_password_length
        self._ph = (
            password_hasher if password_hasher is not None else argon2.PasswordHasher(**params)
        )
        # verify() raises these for a wrong password or a hash it cannot read; str
        # passwords that cannot be encoded (lone surrogates) raise UnicodeEncodeError.
        self._failures: tuple[type[Exception], ...] = (argon2.exceptions.Argon2Error, ValueError)
        self._dummy_hash: str | None = None

    def __repr__(self) -> str:
        ph = self._ph
        return (
            f"Argon2Hasher(time_cost={ph.time_cost}, memory_cost={ph.memory_cost}, "
            f"parallelism={ph.parallelism}, max_password_length={self.max_password_length})"
        )

    def _acceptable(self, password: object) -> bool:
        return isinstance(password, (str, bytes)) and len(password) <= self.max_password_length

    def hash(self, password: str | bytes) -> str:
        """Hash *password* with a fresh random salt; the result holds salt and parameters.

        Raises:
            TypeError: *password* is not ``str`` or ``bytes``.
            ValueError: *password* is longer than ``max_password_length``, or a ``str``
                that cannot be encoded as UTF-8.
        """
        if not isinstance(password, (str, bytes)):
            raise TypeError(f"a password is str or bytes, not {type(password).__name__}")
        if len(password) > self.max_password_length:
            raise ValueError(
                f"password is longer than {self.max_password_length} characters; "
                "refuse it before hashing, or raise Argon2Hasher(max_password_length=...)"
            )
        if isinstance(password, str):
            try:
                encoded: bytes | None = password.encode("utf-8")
            except UnicodeEncodeError:
                encoded = None
            if encoded is None:
                # The encode error's args hold the whole password: raised out here, the
                # new error neither carries nor chains it (not even as __context__).
                raise ValueError("password cannot be encoded as UTF-8 (it holds a lone surrogate)")
            password = encoded
        return self._ph.hash(password)

    def verify(self, password_hash: str, password: str | bytes) -> bool:
        """True if *password* matches *password_hash*, in constant time.

        Returns False, without raising, for a wrong password, an unreadable or
        foreign hash, a password that is not ``str``/``bytes``, and — without hashing
        anything — a password longer than ``max_password_length``.
        """
        if not self._acceptable(password) or not isinstance(password_hash, (str, bytes)):
            return False
        try:
            return bool(self._ph.verify(password_hash, password))
        except self._failures:
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """True if *password_hash* should be replaced by a hash with this hasher's parameters.

        An unreadable hash needs replacing too.
        """
        try:
            return bool(self._ph.check_needs_rehash(password_hash))
        except self._failures:
            return True

    def dummy_verify(self, password: str | bytes) -> bool:
        """Spend the work of one :meth:`verify` on a hash no password matches; return False.

        Backends call it when the user does not exist, so that an unknown username
        takes as long to refuse as a wrong password (Django ticket #20760). Over-long
        passwords are refused without hashing, exactly as :meth:`verify` does.
        """
        if not self._acceptable(password):
            return False
        if self._dummy_hash is None:
            # The first unknown user of this hasher makes the dummy hash, and that hash
            # is the one computation it spends: hashing and verifying each run Argon2
            # once with the same parameters. Verifying as well would make the first
            # unknown user cost twice a wrong password, a one-shot enumeration signal.
            # A race only hashes twice.
            self._dummy_hash = self._ph.hash(secrets.token_urlsafe(32))
            return False
        self.verify(self._dummy_hash, password)
        return False
