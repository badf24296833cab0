"""``ScrubRule`` built as its docstring shows, and from the other collections of words its
constructor takes: ``mypy --strict`` must find nothing here (``tests/test_types.py``).
"""

from __future__ import annotations

from reqsignals.scrub import DEFAULT_RULE, ScrubRule, scrub_credentials

form = {"username": "ada", "password": "correct horse", "ssn": "078-05-1120"}

# ScrubRule's docstring example, line for line.
rule = DEFAULT_RULE.extend(short_words={"ssn"})
only_passwords = ScrubRule(long_words={"password"}, short_words=set())
scrub_credentials(form, rule=rule)

# docs/credentials.md's.
rule = DEFAULT_RULE.extend(short_words={"ssn"}, long_words={"iban", "passport"})
rule = rule.without(short_words={"session"})
only_passwords = ScrubRule(long_words={"password"})

# Any collection of words; the rule keeps frozen sets.
from_lists = ScrubRule(long_words=["password"], short_words=["pin"])
from_tuples = ScrubRule(("password",), ("pin",))
from_frozensets = ScrubRule(long_words=frozenset({"password"}))
kept: frozenset[str] = from_lists.long_words | only_passwords.short_words
