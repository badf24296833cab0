"""Credential scrubbing, where it was before it moved up to :mod:`reqsignals.scrub`.

Scrubbing does not depend on auth; import it from :mod:`reqsignals.scrub` (no extra
needed). This module re-exports the same objects for code written against the old path.
"""

from __future__ import annotations

from .._deprecation import deprecated_names
from ..scrub import (
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

__getattr__ = deprecated_names(__name__, {"SCRUBBED": ("MASK", MASK)})
