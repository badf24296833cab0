"""Names kept only so old code keeps working: the warning they give, and how they give it."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["ReqsignalsDeprecationWarning", "deprecated_names", "warn_deprecated"]


class ReqsignalsDeprecationWarning(DeprecationWarning):
    """A reqsignals name that will be removed; the message names the one to use instead.

    Filter on it to find every deprecated use in your code::

        import warnings
        from reqsignals import ReqsignalsDeprecationWarning

        warnings.simplefilter("error", ReqsignalsDeprecationWarning)
    """


def warn_deprecated(old: str, new: str, *, stacklevel: int = 3) -> None:
    """Warn that *old* is deprecated in favour of *new* (both written as users write them).

    The default *stacklevel* points at the caller of the function that calls this.
    """
    warnings.warn(
        f"{old} is deprecated and will be removed: use {new} instead",
        ReqsignalsDeprecationWarning,
        stacklevel=stacklevel,
    )


def deprecated_names(module: str, names: Mapping[str, tuple[str, Any]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) serving old names with a warning.

    Args:
        module: the module's ``__name__``.
        names: each old name, mapped to the name to use instead and the value to return.

    Example::

        __getattr__ = deprecated_names(__name__, {"SCRUBBED": ("MASK", MASK)})
    """

    def __getattr__(name: str) -> Any:
        try:
            new, value = names[name]
        except KeyError:
            raise AttributeError(f"module {module!r} has no attribute {name!r}") from None
        warn_deprecated(f"{module}.{name}", f"{module}.{new}")
        return value

    return __getattr__
