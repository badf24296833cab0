"""Credential scrubbing: copies of credentials and headers that are safe to log.

:func:`scrub_credentials` returns a deep copy of a mapping in which every value held
under a sensitive key is replaced by :data:`MASK`; :func:`scrub_headers` does the same
for HTTP headers in the shapes WSGI and ASGI apps hold them. ``user_login_failed``
receivers get credentials already scrubbed this way.

Which keys are sensitive is decided by a :class:`ScrubRule`. A key is split into
lower-case words at ``_``, ``-``, ``.``, spaces, digits, any other character that is not
a letter, and camelCase humps (``accessToken`` → ``access`` ``token``; an upper-case run
stays one word: ``XAPIKey`` → ``xapi`` ``key``). Then:

* a *long* word (``password``, ``token``, ``secret``…) makes the key sensitive wherever
  it appears in the words joined together: ``userpassword``, ``X-Api-Key`` (joined:
  ``xapikey``), ``refresh_token2``;
* a *short* word (``pass``, ``key``, ``pin``…) does so only as a whole word or its plural:
  ``pin`` and ``pins`` but not ``spinach``, ``key`` but not ``monkey`` or ``keyboard``.

This module uses the standard library only.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import dataclasses
import re
import types
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from typing import Any

from ._deprecation import deprecated_names

__all__ = [
    "DEFAULT_RULE",
    "MASK",
    "MAX_DEPTH",
    "SENSITIVE_HEADERS",
    "ScrubRule",
    "is_sensitive_key",
    "key_words",
    "scrub_credentials",
    "scrub_headers",
]

#: What a sensitive value is replaced by: twenty asterisks, as Django writes it.
MASK = "********************"

#: Containers nested deeper than this are replaced by :data:`MASK` as a whole, so
#: hostile input cannot exhaust the stack, and nothing below the limit leaks.
MAX_DEPTH = 64

#: Header names (lower case) masked by :func:`scrub_headers` whatever the rule says.
SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "x-auth-token",
    }
)

_MASK_BYTES = MASK.encode("ascii")

# Runs of letters (any script); digits, "_" and everything else separate words.
_LETTER_RUN = re.compile(r"[^\W\d_]+")
# Within an ASCII run: an acronym's plural ("PINs" in "userPINs", "OTPs"), an upper-case
# run not followed by lower case ("XAPI" in "XAPIKey"), a capitalised or lower-case word
# ("Key", "access").
_HUMP = re.compile(r"[A-Z]{2,}s(?![a-z])|[A-Z]+(?![a-z])|[A-Z]?[a-z]+")


def key_words(key: str) -> list[str]:
    """Split *key* into the lower-case words the scrub rules look at.

    >>> key_words("X-Api-Key")
    ['x', 'api', 'key']
    >>> key_words("newPassword2_confirm")
    ['new', 'password', 'confirm']
    >>> key_words("XAPIKey")
    ['xapi', 'key']
    """
    words: list[str] = []
    for run in _LETTER_RUN.findall(key):
        if run.isascii():
            words.extend(hump.lower() for hump in _HUMP.findall(run))
        else:
            words.append(run.lower())
    return words


def _word_set(words: Iterable[str], argument: str) -> frozenset[str]:
    if isinstance(words, (str, bytes)):
        raise TypeError(
            f"ScrubRule({argument}=...) takes a collection of words, not one string; "
            f"write {argument}={{{words!r}}}"
        )
    result = set()
    for word in words:
        if not isinstance(word, str) or not word.isalpha():
            raise ValueError(
                f"ScrubRule {argument} must be letters only, got {word!r}: keys are split "
                "at separators and digits before matching, so write 'apikey', not 'api_key'"
            )
        result.add(word.lower())
    return frozenset(result)


def _plural(word: str) -> str:
    return word + "es" if word.endswith(("s", "x", "z", "ch", "sh")) else word + "s"


@dataclasses.dataclass(frozen=True, init=False)
class ScrubRule:
    """Which keys are sensitive: long words matched anywhere, short words matched whole.

    Args:
        long_words: words that make a key sensitive wherever they appear in its words
            joined together (``"token"`` matches ``accessToken``, ``refreshtoken``,
            ``csrf_token2``).
        short_words: words that make a key sensitive only as a whole word or its simple
            plural (``"pin"`` matches ``pin``, ``user_pin``, ``PINs``; not ``spinach``).

    Words are letters only and compared case-insensitively. Any collection of words
    will do (a set, a list, a tuple); the rule keeps them as frozen sets of lower-case
    words, in :attr:`long_words` and :attr:`short_words`.

    Raises:
        TypeError: a single string was given instead of a collection of words.
        ValueError: a word holds something other than letters.

    A rule is immutable; :meth:`extend` and :meth:`without` return new rules.
    To replace the words altogether, build a new rule::

        rule = DEFAULT_RULE.extend(short_words={"ssn"})
        only_passwords = ScrubRule(long_words={"password"}, short_words=set())
        scrub_credentials(form, rule=rule)
    """

    long_words: frozenset[str]
    short_words: frozenset[str]
    _short_forms: frozenset[str] = dataclasses.field(
        init=False, repr=False, compare=False, hash=False
    )

    def __init__(self, long_words: Iterable[str] = (), short_words: Iterable[str] = ()) -> None:
        short = _word_set(short_words, "short_words")
        object.__setattr__(self, "long_words", _word_set(long_words, "long_words"))
        object.__setattr__(self, "short_words", short)
        object.__setattr__(self, "_short_forms", short | {_plural(word) for word in short})

    def extend(
        self, *, long_words: Iterable[str] = (), short_words: Iterable[str] = ()
    ) -> ScrubRule:
        """A new rule with these words added to this rule's."""
        return ScrubRule(
            long_words=self.long_words | _word_set(long_words, "long_words"),
            short_words=self.short_words | _word_set(short_words, "short_words"),
        )

    def without(
        self, *, long_words: Iterable[str] = (), short_words: Iterable[str] = ()
    ) -> ScrubRule:
        """A new rule with these words removed from this rule's."""
        return ScrubRule(
            long_words=self.long_words - _word_set(long_words, "long_words"),
            short_words=self.short_words - _word_set(short_words, "short_words"),
        )

    def __call__(self, key: str) -> bool:
        """True if *key* is sensitive under this rule."""
        words = key_words(key)
        if any(word in self._short_forms for word in words):
            return True
        joined = "".join(words)
        return any(word in joined for word in self.long_words)


#: The rule used unless another is given: the fields real login, payment and
#: two-factor forms send. Compounds people write as one word (``sessionid``,
#: ``passcode``, ``privkey``, ``newpwd``, ``cardnumber``, ``securitycode``) are long
#: words, matched anywhere; abbreviations that are also pieces of ordinary words
#: (``pw`` in "upward", ``pin`` in "spinach", ``otp`` in "footpath") are short words,
#: matched whole.
DEFAULT_RULE = ScrubRule(
    long_words=frozenset(
        {
            # passwords
            "password",
            "passwd",
            "passphrase",
            "passcode",
            "passkey",
            "pwd",
            "pswd",
            "pword",
            # secrets, keys and tokens
            "secret",
            "token",
            "apikey",
            "privatekey",
            "privkey",
            "signature",
            "authorization",
            "credential",
            "sessionid",
            "sessid",
            "authcode",
            # one-time and recovery codes
            "totp",
            "otpcode",
            "mfacode",
            "verificationcode",
            "recoverycode",
            "backupcode",
            "pincode",
            # payment cards
            "cardnumber",
            "ccnumber",
            "creditcard",
            "securitycode",
        }
    ),
    short_words=frozenset(
        {
            "pass",
            "pw",
            "key",
            "auth",
            "bearer",
            "jwt",
            "cookie",
            "session",
            "otp",
            "hotp",
            "pin",
            "mfa",
            "cvv",
            "cvc",
            "csc",
            "pan",
            "sig",
        }
    ),
)

Rule = Callable[[str], bool]


def _key_text(key: object) -> str | None:
    if isinstance(key, str):
        return key
    if isinstance(key, (bytes, bytearray)):
        return bytes(key).decode("latin-1")
    return None


def is_sensitive_key(key: object, rule: Rule = DEFAULT_RULE) -> bool:
    """True if values under *key* must be masked.

    Args:
        key: a mapping key. ``str`` keys are checked, and ``bytes`` keys decoded as
            Latin-1 (as HTTP header names are); keys of any other type (ints, tuples)
            are never sensitive.
        rule: a :class:`ScrubRule`, or any callable taking the key as a ``str`` and
            returning a bool.

    >>> is_sensitive_key("accessToken"), is_sensitive_key("monkey")
    (True, False)
    """
    text = _key_text(key)
    return text is not None and bool(rule(text))


def scrub_credentials(mapping: Mapping[Any, Any], *, rule: Rule = DEFAULT_RULE) -> dict[Any, Any]:
    """A deep copy of *mapping* in which every value under a sensitive key is :data:`MASK`.

    The whole value under a sensitive key is masked, even a dict or a list. Every
    container is walked and copied at every depth: mappings (other mappings become
    dicts), lists, deques and other sequences (which become lists), tuples and named
    tuples (which keep their type), sets and frozensets (a member that cannot stay
    hashable once scrubbed, such as a mapping, is masked), and dataclasses, namespace
    objects and other objects with a ``__dict__`` or ``__slots__`` (shallow-copied with
    their attributes scrubbed; one with nothing to scrub, such as a UUID, is kept).
    Field and attribute names are judged like keys. What cannot be copied safely (an
    exception, an object that refuses to be copied) is masked whole rather than passed
    through; classes, functions and modules, and values with no attributes of their
    own (numbers, strings, dates) are kept as they are. The
    caller's objects are never changed, and self-referencing containers are copied
    with the same shape. Containers nested more than :data:`MAX_DEPTH` deep are
    masked whole.

    Args:
        mapping: the credentials, e.g. the keyword arguments given to ``authenticate``.
        rule: a :class:`ScrubRule` or a callable ``rule(key: str) -> bool``.

    Raises:
        TypeError: *mapping* is not a mapping.

    >>> scrub_credentials({"username": "ada", "password": "hunter2"})
    {'username': 'ada', 'password': '********************'}
    """
    if not isinstance(mapping, Mapping):
        raise TypeError(
            f"scrub_credentials() takes a mapping, got {type(mapping).__name__}; "
            "pass the credentials as a dict"
        )
    copied = _Scrubber(rule).copy(mapping, 0)
    assert isinstance(copied, dict)
    return copied


# Values with nothing inside to scrub; str, bytes and the like are also Sequences.
_ATOMS = (str, bytes, bytearray, memoryview, int, float, complex, range, type(None))
# Objects with a __dict__ that are code or namespaces of code, not data: passed as is.
_CODE = (type, types.ModuleType, types.FunctionType, types.MethodType, types.BuiltinFunctionType)


class _Scrubber:
    """One deep copy: the rule and the memo of containers already copied."""

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        # id(original) -> (original, copy); the original is kept so its id stays unique.
        self.memo: dict[int, tuple[object, object]] = {}

    def copy(self, value: Any, depth: int) -> Any:
        if isinstance(value, _ATOMS):
            return value
        seen = self.memo.get(id(value))
        if seen is not None:
            return seen[1]
        if depth >= MAX_DEPTH:
            return MASK
        if isinstance(value, Mapping):
            result: dict[Any, Any] = {}
            self.memo[id(value)] = (value, result)
            for key, item in value.items():
                sensitive = is_sensitive_key(key, self.rule)
                result[key] = MASK if sensitive else self.copy(item, depth + 1)
            return result
        if isinstance(value, tuple):
            return self._tuple(value, depth)
        if isinstance(value, (list, collections.deque, Sequence)):
            # Lists stay lists and deques deques; other sequences become lists.
            items: list[Any] = []
            copied: Any = items
            if isinstance(value, collections.deque):
                copied = collections.deque(maxlen=value.maxlen)
            self.memo[id(value)] = (value, copied)
            items.extend(self.copy(item, depth + 1) for item in value)
            if copied is not items:
                copied.extend(items)
            return copied
        if isinstance(value, Set):
            return self._set(value, depth)
        if isinstance(value, BaseException):
            return MASK  # its args may hold anything (a UnicodeError holds the text)
        if dataclasses.is_dataclass(value) or hasattr(value, "__dict__"):
            if isinstance(value, _CODE):
                return value
            return self._object(value, depth)
        if _slot_names(type(value)):
            return self._slotted(value, depth)
        return value  # value types written in C: Decimal, datetime, ...

    def _tuple(self, value: tuple[Any, ...], depth: int) -> Any:
        fields = getattr(value, "_fields", None)
        if isinstance(fields, tuple) and len(fields) == len(value):
            # A named tuple: its field names are judged like keys.
            members = [
                MASK if is_sensitive_key(name, self.rule) else self.copy(item, depth + 1)
                for name, item in zip(fields, value, strict=True)
            ]
        else:
            members = [self.copy(item, depth + 1) for item in value]
        # A tuple inside a cycle was already copied while copying its members.
        seen = self.memo.get(id(value))
        if seen is not None:
            return seen[1]
        make = getattr(type(value), "_make", None) if fields is not None else None
        try:
            copied = make(members) if make is not None else tuple(members)
        except Exception:
            return MASK  # a tuple subclass that cannot be rebuilt: not passed through
        self.memo[id(value)] = (value, copied)
        return copied

    def _set(self, value: Set[Any], depth: int) -> Any:
        members = []
        for item in value:
            copied = self.copy(item, depth + 1)
            try:
                hash(copied)
            except TypeError:
                copied = MASK  # a hashable mapping, copied to a dict: cannot be a member
            members.append(copied)
        return frozenset(members) if isinstance(value, frozenset) else set(members)

    def _object(self, value: Any, depth: int) -> Any:
        """A dataclass, a namespace or any object with a ``__dict__``: a shallow copy
        whose attributes are scrubbed, their names judged like keys. What cannot be
        copied that way is masked whole, never passed through."""
        try:
            if dataclasses.is_dataclass(value):
                names = [f.name for f in dataclasses.fields(value)]
                names += [n for n in getattr(value, "__dict__", {}) if n not in names]
            else:
                names = list(vars(value))
            names += [n for n in _slot_names(type(value)) if n not in names and hasattr(value, n)]
            copied = copy.copy(value)
        except Exception:
            return MASK
        if copied is value:  # a singleton (an enum member): nothing can be changed
            for name in names:
                item = getattr(value, name, None)
                if is_sensitive_key(name, self.rule) or self.copy(item, depth + 1) is not item:
                    return MASK
            return value
        self.memo[id(value)] = (value, copied)
        try:
            for name in names:
                item = getattr(value, name)
                new = MASK if is_sensitive_key(name, self.rule) else self.copy(item, depth + 1)
                if new is not item:
                    object.__setattr__(copied, name, new)
        except Exception:
            self.memo[id(value)] = (value, MASK)
            # A copy already reached through a cycle must not keep what was not scrubbed.
            with contextlib.suppress(Exception):
                vars(copied).clear()
            return MASK
        return copied

    def _slotted(self, value: Any, depth: int) -> Any:
        """An object whose attributes live in ``__slots__`` (attrs makes them by default):
        kept as it is when nothing in it is sensitive (a UUID), else a shallow copy with
        its attributes scrubbed, or masked whole if it cannot be copied."""
        self.memo[id(value)] = (value, MASK)  # a cycle back to it meanwhile is masked
        try:
            names = [n for n in _slot_names(type(value)) if hasattr(value, n)]
            items = [(name, getattr(value, name)) for name in names]
        except Exception:
            return MASK
        scrubbed = [
            (name, item, MASK if is_sensitive_key(name, self.rule) else self.copy(item, depth + 1))
            for name, item in items
        ]
        if all(new is item for _, item, new in scrubbed):
            self.memo[id(value)] = (value, value)
            return value
        try:
            copied = copy.copy(value)
            for name, item, new in scrubbed:
                if new is not item:
                    object.__setattr__(copied, name, new)
        except Exception:
            return MASK
        self.memo[id(value)] = (value, copied)
        return copied


def _slot_names(cls: type) -> list[str]:
    """The attribute names the ``__slots__`` of *cls* and its bases declare (private
    names mangled, as Python stores them)."""
    names: list[str] = []
    for klass in cls.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if not isinstance(name, str) or name in ("__dict__", "__weakref__"):
                continue
            if name.startswith("__") and not name.endswith("__"):
                name = f"_{klass.__name__.lstrip('_')}{name}"
            if name not in names:
                names.append(name)
    return names


def _mask_like(value: object) -> object:
    if isinstance(value, bytearray):
        return bytearray(_MASK_BYTES)
    return _MASK_BYTES if isinstance(value, bytes) else MASK


def _header_sensitive(name: str, rule: Rule) -> bool:
    return name.lower() in SENSITIVE_HEADERS or bool(rule(name))


def _is_environ(headers: Mapping[Any, Any]) -> bool:
    return "wsgi.version" in headers or "REQUEST_METHOD" in headers


def scrub_headers(headers: Any, *, rule: Rule = DEFAULT_RULE) -> Any:
    """A copy of *headers* with sensitive header values masked, in the same shape.

    Masked always: ``Authorization``, ``Proxy-Authorization``, ``Cookie``,
    ``Set-Cookie``, ``X-Api-Key``, ``X-Auth-Token`` (see :data:`SENSITIVE_HEADERS`);
    and any header whose name is sensitive under *rule* (``X-CSRFToken``,
    ``X-Session-Key``…). A masked ``bytes`` value becomes ``bytes``.

    Args:
        headers: one of

            * an ASGI header list ``[(b"name", b"value"), ...]`` (or any iterable of
              pairs, e.g. a Werkzeug ``Headers``): a list of pairs comes back, a tuple
              of pairs as a tuple;
            * a WSGI environ (a mapping with ``wsgi.version`` or ``REQUEST_METHOD``):
              a shallow copy comes back in which ``HTTP_*`` keys are checked as header
              names (``HTTP_X_API_KEY`` is ``X-Api-Key``) and other keys are left alone;
            * any other mapping of header names to values: a dict comes back (one value
              per name; pass ``headers.raw`` or ``list(headers.items())`` to keep
              repeated headers).

        rule: a :class:`ScrubRule` or a callable ``rule(name: str) -> bool``.

    The input is never changed. The query string and body are not headers and are not
    scrubbed.
    """
    if isinstance(headers, Mapping):
        if _is_environ(headers):
            environ: dict[Any, Any] = {}
            for key, value in headers.items():
                name = key[5:].replace("_", "-") if _is_http_key(key) else None
                environ[key] = (
                    _mask_like(value) if name and _header_sensitive(name, rule) else value
                )
            return environ
        result: dict[Any, Any] = {}
        for key, value in headers.items():
            name = _key_text(key)
            sensitive = name is not None and _header_sensitive(name, rule)
            result[key] = _mask_like(value) if sensitive else value
        return result
    if isinstance(headers, (str, bytes)):
        raise TypeError(
            "scrub_headers() takes a header list, a WSGI environ or a mapping of header "
            f"names to values, not {type(headers).__name__}"
        )
    pairs = []
    for raw_name, value in headers:
        name = _key_text(raw_name)
        sensitive = name is not None and _header_sensitive(name, rule)
        pairs.append((raw_name, _mask_like(value) if sensitive else value))
    return tuple(pairs) if isinstance(headers, tuple) else pairs


def _is_http_key(key: object) -> bool:
    return isinstance(key, str) and key.startswith("HTTP_")


__getattr__ = deprecated_names(__name__, {"SCRUBBED": ("MASK", MASK)})
