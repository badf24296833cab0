"""The client address a failed login is counted against.

By default it is the connection's peer: the ASGI scope's ``client`` or the WSGI
``REMOTE_ADDR``. Behind reverse proxies that you name in ``trusted_proxies`` it is the
right-most address of ``X-Forwarded-For`` that is not one of them: each trusted proxy
appends the address of the peer it heard from, so that entry was written by a proxy
you trust, and every entry left of it may have been made up by the client.

IPv6 clients are counted per ``/64`` network, the smallest block a home or a cloud
host is given, so an attacker cannot rotate through its own addresses to escape the
count.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["ProxyList", "client_address", "normalise_address"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address

#: The longest ``X-Forwarded-For`` value read (a header of many KB is no real chain).
MAX_FORWARDED_LENGTH = 4096


@functools.lru_cache(maxsize=4096)  # peers repeat: parse each address once
def _ip(text: str) -> _Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "192.0.2.1:8080"
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def normalise_address(text: str) -> str | None:
    """The form an address is counted under: IPv4 as is, IPv6 as its ``/64`` network,
    IPv4-mapped IPv6 as the IPv4 address; ``None`` for what is not an IP address."""
    address = _ip(text)
    return None if address is None else _counted(address)


@functools.lru_cache(maxsize=4096)
def _counted(address: _Address) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class ProxyList:
    """The reverse proxies whose ``X-Forwarded-For`` entries are believed.

    Args:
        proxies: addresses or networks (``"10.0.0.0/8"``, ``"127.0.0.1"``, ``"::1"``).

    Raises:
        ValueError: an entry is not an address or a network.
        TypeError: a single string was given instead of a list of them.
    """

    def __init__(self, proxies: Iterable[str]) -> None:
        if isinstance(proxies, (str, bytes)):
            raise TypeError(
                f"trusted_proxies takes a list of addresses or networks, got the string "
                f"{proxies!r}: write trusted_proxies=[{proxies!r}]"
            )
        networks: list[_Network] = []
        for entry in proxies:
            try:
                networks.append(ipaddress.ip_network(str(entry).strip(), strict=False))
            except ValueError:
                raise ValueError(
                    f"trusted_proxies entry {entry!r} is not an IP address or network "
                    "(e.g. '10.0.0.1' or '10.0.0.0/8')"
                ) from None
        self.networks = tuple(networks)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __repr__(self) -> str:
        return f"ProxyList({[str(n) for n in self.networks]!r})"

    def trusts(self, address: _Address) -> bool:
        """Whether *address* is one of the trusted proxies."""
        return any(address.version == n.version and address in n for n in self.networks)


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
#: A dotted quad as servers write it (``"192.0.2.1"``): counted as it is, unparsed.
_plain_ipv4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}").fullmatch


def _space(request: Any) -> Mapping[str, Any]:
    for attr in ("scope", "environ"):
        space = getattr(request, attr, None)
        if isinstance(space, Mapping):
            return space
    return request if isinstance(request, Mapping) else {}


def _peer_and_forwarded(space: Mapping[str, Any]) -> tuple[str | None, str]:
    if "type" in space:  # an ASGI scope
        client = space.get("client")
        peer = str(client[0]) if client else None
        values = [
            v.decode("latin-1") for k, v in space.get("headers", ()) if k == b"x-forwarded-for"
        ]
        return peer, ",".join(values)
    return space.get("REMOTE_ADDR") or None, space.get("HTTP_X_FORWARDED_FOR", "")


def client_address(request: Any, trusted: ProxyList) -> str | None:
    """The address *request* is counted against, or ``None`` when the server gave none
    (a Unix socket, a test request without a client).

    With no trusted proxies the header is never read: any client can send one. With
    them, the header counts only when the peer itself is a trusted proxy; then the
    entries are read from the right, trusted proxies skipped, and the first other one
    is the client. An entry that is not an address stops the walk at the proxy that
    wrote it (a broken chain is never an address the client picked).
    """
    peer, forwarded = _peer_and_forwarded(_space(request))
    if peer is None:
        return None
    if not trusted and _plain_ipv4(peer):
        return peer  # the common case, without parsing: a server writes it canonically
    peer_ip = _ip(peer)
    if peer_ip is None:
        return peer[:100]  # not an IP (a test server's name): counted as it is
    if not trusted or not trusted.trusts(peer_ip) or not forwarded:
        return _counted(peer_ip)
    if len(forwarded) > MAX_FORWARDED_LENGTH:  # keep the right end, whole entries only
        forwarded = forwarded[-MAX_FORWARDED_LENGTH:].partition(",")[2]
    found = peer_ip
    for entry in reversed(forwarded.split(",")):
        ip = _ip(entry)
        if ip is None:
            break
        found = ip
        if not trusted.trusts(ip):
            break
    return _counted(found)
