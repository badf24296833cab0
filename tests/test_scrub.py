from __future__ import annotations

import argparse
import collections
import copy
import dataclasses
import importlib
import subprocess
import sys
import types
from collections import OrderedDict, namedtuple
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reqsignals import ReqsignalsDeprecationWarning
from reqsignals.scrub import (
    DEFAULT_RULE,
    MASK,
    MAX_DEPTH,
    SENSITIVE_HEADERS,
    ScrubRule,
    is_sensitive_key,
    key_words,
    scrub_credentials,
    scrub_headers,
)

LONG = sorted(DEFAULT_RULE.long_words)
SHORT = sorted(DEFAULT_RULE.short_words)


def test_mask_is_twenty_asterisks() -> None:
    assert MASK == "*" * 20


@pytest.mark.parametrize("module", ["reqsignals.scrub", "reqsignals.auth.scrub"])
def test_scrubbed_is_a_deprecated_name_for_mask(module: str) -> None:
    with pytest.warns(
        ReqsignalsDeprecationWarning, match=rf"{module}\.SCRUBBED .* use {module}\.MASK"
    ):
        scrubbed = getattr(importlib.import_module(module), "SCRUBBED")
    assert scrubbed is MASK


# -- splitting -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "words"),
    [
        pytest.param("password", ["password"], id="plain"),
        pytest.param("new_password", ["new", "password"], id="underscore"),
        pytest.param("X-Api-Key", ["x", "api", "key"], id="dashes"),
        pytest.param("user.pin", ["user", "pin"], id="dot"),
        pytest.param("one time pass", ["one", "time", "pass"], id="spaces"),
        pytest.param("password2", ["password"], id="digit-suffix"),
        pytest.param("2fa3otp", ["fa", "otp"], id="digits-between"),
        pytest.param("accessToken", ["access", "token"], id="camel"),
        pytest.param("AccessToken", ["access", "token"], id="pascal"),
        pytest.param("XAPIKey", ["xapi", "key"], id="acronym-run-then-word"),
        pytest.param("userPIN", ["user", "pin"], id="acronym-at-end"),
        pytest.param("PINCode", ["pin", "code"], id="acronym-at-start"),
        pytest.param("PINs", ["pins"], id="acronym-plural"),
        pytest.param("userOTPsSent", ["user", "otps", "sent"], id="acronym-plural-then-word"),
        pytest.param("HTTP_X_API_KEY", ["http", "x", "api", "key"], id="environ-key"),
        pytest.param("clé_secrète", ["clé", "secrète"], id="non-ascii-run-kept-whole"),
        pytest.param("a/b[c]", ["a", "b", "c"], id="other-punctuation"),
        pytest.param("", [], id="empty"),
        pytest.param("__42__", [], id="no-letters"),
    ],
)
def test_key_words(key: str, words: list[str]) -> None:
    assert key_words(key) == words


# -- the default rule, word by word ------------------------------------------------------

SENSITIVE = [
    # long words, alone and run together with other words
    "password",
    "Password",
    "PASSWORD",
    "userpassword",
    "newPassword",
    "password2",
    "password_confirm",
    "passwd",
    "old_passwd",
    "passphrase",
    "secret",
    "secrets",
    "client_secret",
    "clientSecret",
    "token",
    "tokens",
    "accesstoken",
    "accessToken",
    "refresh-token",
    "csrfmiddlewaretoken",
    "apikey",
    "APIKEY",
    "api_key",
    "apiKey",
    "X-Api-Key",
    "XAPIKey",
    "privatekey",
    "signature",
    "request_signature",
    "authorization",
    "Authorization",
    "proxy_authorization",
    "credential",
    "credentials",
    "aws_credentials",
    "sessionid",
    "PHPSESSID",
    # short words, whole
    "pass",
    "pass2",
    "user_pass",
    "pwd",
    "PWD",
    "key",
    "keys",
    "Key",
    "ssh-key",
    "auth",
    "auth_header",
    "X-Auth-Token",
    "bearer",
    "jwt",
    "JWT",
    "cookie",
    "cookies",
    "Set-Cookie",
    "session",
    "sessions",
    "session_key",
    "otp",
    "otp_code",
    "totpOTP",
    "pin",
    "pins",
    "userPIN",
    "PINs",
    "userOTPs",
    "JWTs",
    "card.pin",
    "mfa",
    "mfa-code",
    "cvv",
    "card_cvv",
    "passes",
    # abbreviations and compounds real login, payment and two-factor forms send
    "pw",
    "new_pw",
    "newpwd",
    "oldPwd",
    "pswd",
    "passcode",
    "device_passcode",
    "passkey",
    "totp",
    "totp_code",
    "hotp",
    "otpcode",
    "mfacode",
    "verification_code",
    "verificationCode",
    "recovery_code",
    "backupcodes",
    "pincode",
    "pin_code",
    "privkey",
    "ssh_privkey",
    "authcode",
    "cvc",
    "card_cvc",
    "cvv2",
    "csc",
    "card_number",
    "cardNumber",
    "cc_number",
    "creditcard",
    "pan",
    "security_code",
    "sig",
]

READABLE = [
    "username",
    "email",
    "monkey",
    "keyboard",
    "capital",
    "rapid",
    "spinach",
    "passenger",
    "passport",
    "author",
    "authors",
    "pinned",
    "sessional",
    "bypass",
    "turnkey",
    "jwtx",
    "cookiejar",
    "pinata",
    "compass",
    "next",
    "remember_me",
    "api",
    "otpauth",
    "upward",
    "stepwise",
    "footpath",
    "shotput",
    "panel",
    "company",
    "signal",
    "design",
    "zip_code",
    "country_code",
    "card_holder",
    "",
]


@pytest.mark.parametrize("key", SENSITIVE)
def test_default_rule_masks(key: str) -> None:
    assert is_sensitive_key(key)
    assert scrub_credentials({key: "hunter2"}) == {key: MASK}


@pytest.mark.parametrize("key", READABLE)
def test_default_rule_keeps_readable(key: str) -> None:
    assert not is_sensitive_key(key)
    assert scrub_credentials({key: "ada"}) == {key: "ada"}


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(42, id="int"),
        pytest.param(("password",), id="tuple"),
        pytest.param(None, id="none"),
        pytest.param(3.5, id="float"),
    ],
)
def test_non_string_keys_are_never_sensitive(key: object) -> None:
    assert not is_sensitive_key(key)
    assert scrub_credentials({key: "hunter2"}) == {key: "hunter2"}


@pytest.mark.parametrize(
    ("key", "sensitive"),
    [
        pytest.param(b"password", True, id="bytes-password"),
        pytest.param(bytearray(b"api_key"), True, id="bytearray-api-key"),
        pytest.param(b"monkey", False, id="bytes-monkey"),
    ],
)
def test_bytes_keys_are_checked_as_latin1(key: bytes, sensitive: bool) -> None:
    assert is_sensitive_key(key) is sensitive


# -- copying ---------------------------------------------------------------------------


def test_whole_value_under_a_sensitive_key_is_masked() -> None:
    data = {"credentials": {"username": "ada", "password": "x"}, "tokens": ["a", "b"]}
    assert scrub_credentials(data) == {"credentials": MASK, "tokens": MASK}


def test_nested_containers_are_copied_with_their_types() -> None:
    Pair = namedtuple("Pair", "left right")
    frozen = frozenset({"a"})
    data: dict[str, Any] = {
        "user": {"name": "ada", "password": "x"},
        "list": [{"token": "t"}, 1, "two"],
        "tuple": ({"pin": "1234"}, "keep"),
        "named": Pair({"otp": "9"}, 2),
        "ordered": OrderedDict(secret="s", plain="p"),
        "proxy": MappingProxyType({"pwd": "p"}),
        "set": {"a", "b"},
        "frozen": frozen,
        "object": (obj := object()),
    }
    out = scrub_credentials(data)
    assert out == {
        "user": {"name": "ada", "password": MASK},
        "list": [{"token": MASK}, 1, "two"],
        "tuple": ({"pin": MASK}, "keep"),
        "named": Pair({"otp": MASK}, 2),
        "ordered": {"secret": MASK, "plain": "p"},
        "proxy": {"pwd": MASK},
        "set": {"a", "b"},
        "frozen": frozen,
        "object": obj,
    }
    assert type(out["tuple"]) is tuple
    assert type(out["named"]) is Pair
    assert type(out["ordered"]) is dict
    assert type(out["proxy"]) is dict
    assert out["set"] is not data["set"]
    assert out["object"] is obj


def test_input_is_never_changed_and_never_shared() -> None:
    data = {"a": {"password": "x", "list": [[1], {"key": "k"}]}, "s": {1, 2}}
    before = copy.deepcopy(data)
    out = scrub_credentials(data)
    assert data == before
    out["a"]["list"][0].append(2)
    out["a"]["list"][1]["new"] = 1
    out["s"].add(3)
    assert data == before


def test_mapping_subclass_and_list_subclass_become_plain() -> None:
    class MyList(list[Any]):
        pass

    out = scrub_credentials({"l": MyList([{"secret": 1}])})
    assert type(out["l"]) is list
    assert out == {"l": [{"secret": MASK}]}


def test_self_referencing_dict_is_copied_with_the_same_cycle() -> None:
    data: dict[str, Any] = {"password": "x", "name": "ada"}
    data["self"] = data
    out = scrub_credentials(data)
    assert out["password"] == MASK
    assert out["self"] is out
    assert data["password"] == "x"
    assert data["self"] is data


def test_cycle_through_list_and_tuple() -> None:
    inner: list[Any] = [{"token": "t"}]
    tup = (inner, "x")
    inner.append(tup)
    data = {"t": tup, "again": tup}
    out = scrub_credentials(data)
    new_tup = out["t"]
    assert type(new_tup) is tuple
    assert new_tup[0][0] == {"token": MASK}
    assert new_tup[0][1] is new_tup
    assert out["again"] is new_tup
    assert inner[0] == {"token": "t"}


def test_shared_container_is_copied_once() -> None:
    shared = {"pin": "1"}
    out = scrub_credentials({"a": shared, "b": shared})
    assert out["a"] is out["b"]
    assert out["a"] == {"pin": MASK}


def test_containers_deeper_than_the_limit_are_masked_whole() -> None:
    data: dict[str, Any] = {"password": "top-secret"}
    for _ in range(10_000):
        data = {"n": data}
    out = scrub_credentials(data)
    depth = 0
    node: Any = out
    while isinstance(node, dict):
        node = node["n"]
        depth += 1
    assert depth == MAX_DEPTH
    assert node == MASK
    assert "top-secret" not in repr(out)


def test_rejects_non_mapping() -> None:
    with pytest.raises(TypeError, match="takes a mapping"):
        scrub_credentials([("password", "x")])  # type: ignore[arg-type]


# -- configuring -----------------------------------------------------------------------


def test_extend_adds_words() -> None:
    rule = DEFAULT_RULE.extend(short_words={"SSN"}, long_words=["iban"])
    data = {"ssn": "1", "user_ssn": "2", "ssns": "3", "lessn": "4", "myIBAN2": "5", "pin": "6"}
    assert scrub_credentials(data, rule=rule) == {
        "ssn": MASK,
        "user_ssn": MASK,
        "ssns": MASK,
        "lessn": "4",
        "myIBAN2": MASK,
        "pin": MASK,
    }
    # the default rule is untouched
    assert not is_sensitive_key("ssn")


def test_without_removes_words() -> None:
    rule = DEFAULT_RULE.without(short_words={"session"}, long_words={"signature"})
    assert not is_sensitive_key("session", rule)
    assert not is_sensitive_key("signature", rule)
    assert is_sensitive_key("password", rule)


def test_replacing_the_rule() -> None:
    rule = ScrubRule(long_words=frozenset({"password"}), short_words=frozenset())
    data = {"password": "p", "token": "t", "pin": "1"}
    assert scrub_credentials(data, rule=rule) == {"password": MASK, "token": "t", "pin": "1"}
    assert rule == ScrubRule(long_words=frozenset({"PASSWORD"}))
    assert "_short_forms" not in repr(rule)


@pytest.mark.parametrize(
    ("long_words", "short_words"),
    [
        pytest.param({"Password"}, set(), id="sets"),
        pytest.param(["password", "PASSWORD"], [], id="lists"),
        pytest.param(("password",), (), id="tuples"),
        pytest.param(frozenset({"password"}), frozenset(), id="frozensets"),
        pytest.param({"password": 1}.keys(), {}.keys(), id="dict-keys"),
    ],
)
def test_any_collection_of_words_is_kept_as_a_frozen_set(
    long_words: Iterable[str], short_words: Iterable[str]
) -> None:
    rule = ScrubRule(long_words=long_words, short_words=short_words)
    assert (type(rule.long_words), type(rule.short_words)) == (frozenset, frozenset)
    assert (rule.long_words, rule.short_words) == (frozenset({"password"}), frozenset())
    assert rule == ScrubRule(long_words=frozenset({"password"}))
    assert repr(rule) == "ScrubRule(long_words=frozenset({'password'}), short_words=frozenset())"
    pins = dataclasses.replace(rule, short_words=frozenset({"PIN"}))
    assert (pins.short_words, pins("user_pins")) == (frozenset({"pin"}), True)


def test_plain_callable_rule() -> None:
    seen: list[str] = []

    def rule(key: str) -> bool:
        seen.append(key)
        return key.startswith("x")

    out = scrub_credentials({"xa": 1, "password": 2, 3: 4, b"xb": 5}, rule=rule)
    assert out == {"xa": MASK, "password": 2, 3: 4, b"xb": MASK}
    assert seen == ["xa", "password", "xb"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        pytest.param({"short_words": "pin"}, TypeError, "not one string", id="string"),
        pytest.param({"long_words": ["api_key"]}, ValueError, "letters only", id="separator"),
        pytest.param({"long_words": ["pass2"]}, ValueError, "letters only", id="digit"),
        pytest.param({"short_words": [""]}, ValueError, "letters only", id="empty"),
        pytest.param({"short_words": [3]}, ValueError, "letters only", id="not-str"),
    ],
)
def test_bad_words_are_rejected(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        ScrubRule(**kwargs)
    with pytest.raises(error, match=match):
        DEFAULT_RULE.extend(**kwargs)


def test_rule_is_frozen() -> None:
    with pytest.raises(AttributeError):
        DEFAULT_RULE.long_words = frozenset()  # type: ignore[misc]


def test_scrub_module_needs_no_third_party_package() -> None:
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'argon2', 'itsdangerous', 'redis'}:\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import reqsignals.scrub as s\n"
        "assert s.scrub_credentials({'password': 1}) == {'password': s.MASK}\n"
        "bad = {'argon2', 'itsdangerous', 'redis'} & set(sys.modules)\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# -- property tests --------------------------------------------------------------------

_SEPARATORS = ["_", "-", ".", " ", "1", "2", "__", "0"]
_AFFIXES = ["user", "new", "old", "current", "my", "x", "client", "confirm", "value", "raw"]


def _cased(draw: st.DrawFn, word: str) -> str:
    return draw(st.sampled_from([word.lower(), word.upper(), word.capitalize()]))


@st.composite
def sensitive_keys(draw: st.DrawFn) -> str:
    """A key the default rule must mask: a listed word with prefixes and suffixes."""
    if draw(st.booleans()):
        # Long words may sit anywhere, in any case, glued to other letters.
        word = draw(st.sampled_from(LONG))
        if draw(st.booleans()):
            word += "s"
        word = "".join(
            c.upper() if up else c
            for c, up in zip(
                word, draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
            )
        )
        glue = st.sampled_from(["", *_SEPARATORS])
        prefix = draw(st.sampled_from(["", *_AFFIXES]))
        suffix = draw(st.sampled_from(["", *_AFFIXES, "2", "123"]))
        return prefix + draw(glue) + word + draw(glue) + suffix
    # Short words must stand as a word: separated, or a camelCase hump.
    word = draw(st.sampled_from(SHORT))
    if draw(st.booleans()):
        word = word + "es" if word.endswith("s") else word + "s"
    style = draw(st.sampled_from(["sep", "camel", "alone"]))
    prefix = draw(st.sampled_from(_AFFIXES))
    suffix = draw(st.sampled_from(["", *_AFFIXES]))
    if style == "alone":
        return _cased(draw, word) + draw(st.sampled_from(["", "2", "_1"]))
    if style == "sep":
        sep = st.sampled_from(_SEPARATORS)
        tail = draw(sep) + _cased(draw, suffix) if suffix else ""
        return _cased(draw, prefix) + draw(sep) + _cased(draw, word) + tail
    # camelCase: lower-case prefix, then the word capitalised or upper-case, then a hump.
    hump = draw(st.sampled_from([word.capitalize(), word.upper()]))
    tail = suffix.capitalize() if suffix else ""
    if hump.isupper() and tail:
        tail = draw(st.sampled_from(_SEPARATORS)) + tail
    return prefix + hump + tail


_BENIGN_KEYS = st.sampled_from(
    ["username", "email", "monkey", "keyboard", "capital", "rapid", "spinach", "passenger",
     "next", "remember", "author", "pinned", "name", "id", "data", "items"]
)  # fmt: skip


class Secrets:
    def __init__(self) -> None:
        self.count = 0

    def new(self) -> str:
        self.count += 1
        return f"S3CR3T-{self.count:06d}"


def _credentials(secrets: Secrets) -> st.SearchStrategy[Any]:
    leaf = st.one_of(st.integers(), st.text(alphabet="abc xyz", max_size=5), st.none())

    def secret_value(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        # A secret string, or a whole structure full of them.
        plain = st.builds(secrets.new)
        return st.one_of(plain, st.lists(plain, max_size=3), st.dictionaries(_BENIGN_KEYS, plain))

    def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        entries = st.one_of(
            st.tuples(sensitive_keys(), secret_value(children)),
            st.tuples(_BENIGN_KEYS, children),
        )
        return st.one_of(
            st.lists(entries, max_size=4).map(dict),
            st.lists(children, max_size=3),
            st.lists(children, max_size=3).map(tuple),
        )

    return st.recursive(leaf, extend, max_leaves=30)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


def _containers(value: Any) -> Iterator[int]:
    if isinstance(value, (dict, list, tuple)):
        if value != ():  # the empty tuple is a singleton in CPython
            yield id(value)
        for v in value.values() if isinstance(value, dict) else value:
            yield from _containers(v)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_property_no_secret_survives_at_any_depth(data: st.DataObject) -> None:
    secrets = Secrets()
    body = data.draw(_credentials(secrets))
    mapping = {"root": body, data.draw(sensitive_keys()): secrets.new()}
    before = copy.deepcopy(mapping)
    out = scrub_credentials(mapping)
    leaked = [s for s in _strings(out) if "S3CR3T-" in s]
    assert not leaked
    assert "S3CR3T-" not in repr(out)
    assert mapping == before
    assert not set(_containers(out)) & set(_containers(mapping))


@settings(max_examples=300, deadline=None)
@given(sensitive_keys())
def test_property_generated_keys_are_sensitive(key: str) -> None:
    assert is_sensitive_key(key), key_words(key)


@settings(max_examples=200, deadline=None)
@given(st.lists(_BENIGN_KEYS, min_size=1, max_size=3), st.sampled_from(["_", "-", "", "."]))
def test_property_readable_words_stay_readable(words: list[str], sep: str) -> None:
    key = sep.join(words)
    assert not is_sensitive_key(key)
    assert scrub_credentials({key: "v"}) == {key: "v"}


# -- headers ---------------------------------------------------------------------------


def test_scrub_headers_asgi_list() -> None:
    headers = [
        (b"host", b"example.com"),
        (b"authorization", b"Bearer abc"),
        (b"cookie", b"sessionid=abc"),
        (b"x-api-key", b"k"),
        (b"x-csrftoken", b"c"),
        (b"accept", b"*/*"),
        (b"cookie", b"second=1"),
    ]
    before = list(headers)
    out = scrub_headers(headers)
    assert out == [
        (b"host", b"example.com"),
        (b"authorization", MASK.encode()),
        (b"cookie", MASK.encode()),
        (b"x-api-key", MASK.encode()),
        (b"x-csrftoken", MASK.encode()),
        (b"accept", b"*/*"),
        (b"cookie", MASK.encode()),
    ]
    assert out is not headers
    assert headers == before


def test_scrub_headers_tuple_of_str_pairs_keeps_shape() -> None:
    headers = (("Set-Cookie", "a=b"), ("Content-Type", "text/plain"), ("X-Auth-Token", "t"))
    assert scrub_headers(headers) == (
        ("Set-Cookie", MASK),
        ("Content-Type", "text/plain"),
        ("X-Auth-Token", MASK),
    )


def test_scrub_headers_werkzeug_headers() -> None:
    from werkzeug.datastructures import Headers

    headers = Headers([("Authorization", "Basic x"), ("Accept", "a"), ("Cookie", "c")])
    assert scrub_headers(headers) == [("Authorization", MASK), ("Accept", "a"), ("Cookie", MASK)]
    assert headers["Authorization"] == "Basic x"


def test_scrub_headers_wsgi_environ() -> None:
    stream = object()
    environ = {
        "REQUEST_METHOD": "POST",
        "wsgi.input": stream,
        "HTTP_AUTHORIZATION": "Basic x",
        "HTTP_PROXY_AUTHORIZATION": "Basic y",
        "HTTP_COOKIE": "a=b",
        "HTTP_X_API_KEY": "k",
        "HTTP_X_SESSION_KEY": "s",
        "HTTP_HOST": "example.com",
        "HTTP_ACCEPT": "*/*",
        "QUERY_STRING": "a=1",
        "reqsignals.session": "kept: not a header",
        "HTTP_": "empty name",
    }
    before = dict(environ)
    out = scrub_headers(environ)
    assert out == {
        **before,
        "HTTP_AUTHORIZATION": MASK,
        "HTTP_PROXY_AUTHORIZATION": MASK,
        "HTTP_COOKIE": MASK,
        "HTTP_X_API_KEY": MASK,
        "HTTP_X_SESSION_KEY": MASK,
    }
    assert out["wsgi.input"] is stream
    assert environ == before


def test_scrub_headers_wsgi_environ_fixed_names_survive_a_lax_rule() -> None:
    environ = {"wsgi.version": (1, 0), "HTTP_AUTHORIZATION": "x", "HTTP_X_TOKEN": "t"}
    out = scrub_headers(environ, rule=lambda name: False)
    assert out == {"wsgi.version": (1, 0), "HTTP_AUTHORIZATION": MASK, "HTTP_X_TOKEN": "t"}


def test_scrub_headers_mapping_of_names() -> None:
    headers = {"Authorization": "x", "content-type": "y", b"cookie": b"c", 5: "five"}
    assert scrub_headers(headers) == {
        "Authorization": MASK,
        "content-type": "y",
        b"cookie": MASK.encode(),
        5: "five",
    }


def test_scrub_headers_starlette_headers_mapping() -> None:
    from starlette.datastructures import Headers

    headers = Headers(raw=[(b"authorization", b"x"), (b"accept", b"y")])
    assert scrub_headers(headers) == {"authorization": MASK, "accept": "y"}
    assert scrub_headers(headers.raw) == [(b"authorization", MASK.encode()), (b"accept", b"y")]


def test_scrub_headers_bytearray_value_stays_bytearray() -> None:
    out = scrub_headers([(b"cookie", bytearray(b"c"))])
    assert out == [(b"cookie", bytearray(MASK.encode()))]
    assert type(out[0][1]) is bytearray


@pytest.mark.parametrize("name", sorted(SENSITIVE_HEADERS))
def test_every_fixed_header_is_masked_even_with_a_lax_rule(name: str) -> None:
    assert scrub_headers([(name.title(), "v")], rule=lambda n: False) == [(name.title(), MASK)]


@pytest.mark.parametrize(
    "bad", [pytest.param("authorization", id="str"), pytest.param(b"x", id="bytes")]
)
def test_scrub_headers_rejects_strings(bad: Any) -> None:
    with pytest.raises(TypeError, match="header list"):
        scrub_headers(bad)


# -- every container is walked --------------------------------------------------------


@dataclasses.dataclass
class LoginForm:
    username: str
    password: str
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, slots=True)
class FrozenCard:
    holder: str
    cvc: str


class FrozenMapping(Mapping[str, Any]):
    """A hashable mapping, so that it can sit in a set."""

    def __init__(self, **items: Any) -> None:
        self._items = items

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(tuple(self._items.items()))


class Refuses:
    """An object that cannot be copied."""

    def __init__(self) -> None:
        self.secret_ish = "hunter2"

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError("not copyable")


Credentials = namedtuple("Credentials", "user password")


class SlottedLogin:
    """A credentials object with slots and no ``__dict__`` (what attrs makes by default)."""

    __slots__ = ("__pin", "nested", "password", "username")

    def __init__(self, username: str, password: str, nested: Any = None) -> None:
        self.username, self.password, self.nested = username, password, nested
        self.__pin = "hunter2"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SlottedLogin) and all(
            getattr(self, n, None) == getattr(other, n, None) for n in self.__slots__
        )


class LoginWithExtras(SlottedLogin):
    """A subclass without slots: a ``__dict__`` beside its base's slots."""


class SlottedRefuses:
    __slots__ = ("password",)

    def __init__(self) -> None:
        self.password = "hunter2"

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError("not copyable")


class SlottedUnreadable(SlottedRefuses):
    __slots__ = ()

    def __getattribute__(self, name: str) -> Any:
        if name == "password":
            raise RuntimeError("hunter2")
        return super().__getattribute__(name)

    def __reduce_ex__(self, protocol: Any) -> Any:
        return object.__reduce_ex__(self, protocol)


class UnsetSlot:
    __slots__ = ("password", "username")

    def __init__(self) -> None:
        self.username = "ada"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UnsetSlot) and other.username == self.username


@pytest.mark.parametrize(
    ("value", "check"),
    [
        pytest.param(
            frozenset({FrozenMapping(password="hunter2")}),
            lambda out: out == frozenset({MASK}),
            id="mapping-in-frozenset",
        ),
        pytest.param(
            {FrozenMapping(user="ada")},
            lambda out: out == {MASK},
            id="mapping-in-set",
        ),
        pytest.param(
            frozenset({("password", "ada")}),
            lambda out: out == frozenset({("password", "ada")}),
            id="tuple-in-frozenset-is-data-not-a-key",
        ),
        pytest.param(
            Credentials("ada", "hunter2"),
            lambda out: type(out) is Credentials and out == Credentials("ada", MASK),
            id="namedtuple-field-names",
        ),
        pytest.param(
            collections.deque([{"token": "hunter2"}], maxlen=5),
            lambda out: (
                type(out) is collections.deque
                and list(out) == [{"token": MASK}]
                and out.maxlen == 5
            ),
            id="deque",
        ),
        pytest.param(
            collections.UserList([{"pin": "hunter2"}]),
            lambda out: out == [{"pin": MASK}],
            id="other-sequence",
        ),
        pytest.param(
            LoginForm("ada", "hunter2", {"otp": "hunter2"}),
            lambda out: (
                type(out) is LoginForm
                and (out.username, out.password, out.extra) == ("ada", MASK, {"otp": MASK})
            ),
            id="dataclass",
        ),
        pytest.param(
            FrozenCard("ada", "hunter2"),
            lambda out: type(out) is FrozenCard and (out.holder, out.cvc) == ("ada", MASK),
            id="frozen-slotted-dataclass",
        ),
        pytest.param(
            types.SimpleNamespace(user="ada", pwd="hunter2", nested=[{"secret": "hunter2"}]),
            lambda out: vars(out) == {"user": "ada", "pwd": MASK, "nested": [{"secret": MASK}]},
            id="namespace",
        ),
        pytest.param(
            argparse.Namespace(username="ada", passcode="hunter2"),
            lambda out: vars(out) == {"username": "ada", "passcode": MASK},
            id="argparse-namespace",
        ),
        pytest.param(
            SlottedLogin("ada", "hunter2", [{"token": "hunter2"}]),
            lambda out: (
                type(out) is SlottedLogin
                and (out.username, out.password, out.nested) == ("ada", MASK, [{"token": MASK}])
                and out._SlottedLogin__pin == MASK  # type: ignore[attr-defined]
            ),
            id="slotted-object",
        ),
        pytest.param(
            LoginWithExtras("ada", "hunter2"),
            lambda out: (
                type(out) is LoginWithExtras and (out.username, out.password) == ("ada", MASK)
            ),
            id="slots-of-a-base-class",
        ),
        pytest.param(
            UnsetSlot(),
            lambda out: type(out) is UnsetSlot and out.username == "ada",
            id="slot-never-set",
        ),
        pytest.param(SlottedRefuses(), lambda out: out == MASK, id="uncopyable-slotted-object"),
        pytest.param(SlottedUnreadable(), lambda out: out == MASK, id="unreadable-slot"),
        pytest.param(Refuses(), lambda out: out == MASK, id="uncopyable-object"),
        pytest.param(
            UnicodeEncodeError("utf-8", "hunter2", 0, 1, "bad"),
            lambda out: out == MASK,
            id="exception",
        ),
    ],
)
def test_every_container_is_walked(value: Any, check: Any) -> None:
    uncopyable = (Refuses, SlottedRefuses, SlottedUnreadable)
    before = copy.deepcopy(value) if not isinstance(value, uncopyable) else None
    out = scrub_credentials({"form": value})["form"]
    assert check(out), out
    assert "hunter2" not in repr(out)
    if before is not None and not isinstance(value, BaseException):
        assert value == before  # the caller's object is never changed


def test_code_and_plain_values_are_kept_as_they_are() -> None:
    import decimal
    import uuid

    values = [len, LoginForm, types, decimal.Decimal("1.5"), uuid.uuid4(), 3, "x", None]
    out = scrub_credentials({"v": values})["v"]
    assert all(a is b for a, b in zip(out, values, strict=True))


def test_an_enum_member_is_kept_or_masked_never_changed() -> None:
    import enum

    class Colour(enum.Enum):
        RED = "red"

    assert scrub_credentials({"c": Colour.RED}) == {"c": Colour.RED}
    assert Colour.RED.value == "red"


def test_objects_in_cycles_are_copied_with_the_same_shape() -> None:
    node = types.SimpleNamespace(name="a", token="hunter2")
    node.me = node
    out = scrub_credentials({"n": node})["n"]
    assert out.me is out
    assert out.token == MASK
    assert node.token == "hunter2"


def test_the_signal_log_line_of_a_failed_login_with_a_dataclass_has_no_password() -> None:
    # What the review saw: a dataclass of credentials reached the log with the password.
    from reqsignals.log import SignalLog
    from reqsignals.signals import user_login_failed

    line = SignalLog(as_json=False).format(
        user_login_failed,
        "reqsignals.auth",
        {"credentials": scrub_credentials({"form": LoginForm("ada", "hunter2")})},
    )
    assert "hunter2" not in line
    assert "ada" in line


@dataclasses.dataclass
class Account:
    """A user model of an app's own, with no ``username``: its repr holds the hash."""

    id: int
    email: str
    password_hash: str


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_the_signal_log_line_of_a_login_names_the_user_without_its_repr(as_json: bool) -> None:
    from reqsignals.log import SignalLog
    from reqsignals.signals import user_logged_in

    log = SignalLog(as_json=as_json)
    user = Account(7, "ada@example.com", "$argon2id$v=19$secret-hash")
    line = log.format(user_logged_in, Account, {"request": {}, "user": user})
    assert "secret-hash" not in line
    assert "ada@example.com" in line
    anonymous = log.format(user_logged_in, Account, {"request": {}, "user": object()})
    assert "object at 0x" not in anonymous

    class Detached:
        id = 3

        @property
        def username(self) -> str:
            raise RuntimeError("the instance is not bound to a session")

    assert "Detached#3" in log.format(user_logged_in, Detached, {"request": {}, "user": Detached()})


class Unbuildable(tuple):  # type: ignore[type-arg]
    """A named-tuple look-alike whose _make refuses the scrubbed members."""

    _fields = ("user", "token")

    @classmethod
    def _make(cls, members: Any) -> Any:
        raise TypeError("no")


class Guarded:
    """An instance attribute shadowed by a read-only property: it cannot be set."""

    def __init__(self) -> None:
        self.__dict__["note"] = {"password": "hunter2"}

    @property
    def note(self) -> Any:
        return self.__dict__["note"]


def test_what_cannot_be_rebuilt_or_set_is_masked_whole() -> None:
    assert scrub_credentials({"t": Unbuildable(("ada", "hunter2"))}) == {"t": MASK}
    assert scrub_credentials({"g": Guarded()}) == {"g": MASK}


def test_a_singleton_holding_a_secret_is_masked() -> None:
    import enum

    class Key(enum.Enum):
        A = 1

    Key.A.secret = "hunter2"  # type: ignore[attr-defined]
    assert scrub_credentials({"k": Key.A}) == {"k": MASK}
    assert Key.A.secret == "hunter2"  # type: ignore[attr-defined]
