"""Browsers behind a reverse proxy: their own address and scheme, from the proxy's headers.

Behind nginx every request comes from the proxy's address, and over plain HTTP even when the
browser used HTTPS. The proxy says who it relayed for (``X-Forwarded-For: client, proxy1``,
each proxy adding the address it was reached from) and how (``X-Forwarded-Proto: https``), but
anyone can send those headers: they are believed only from the proxies named in the
``trusted_proxies`` setting. The client is the nearest address in the chain that is not itself
one of them (reading from the right, as each proxy appends), so a client cannot pose as
another by sending its own header ahead of the proxy's.

What the rest of the web side reads afterwards, ``request.remote`` and ``request.secure``, is
the client's: the per-address connection cap, the slowing of failed logins, the tickets bound to
an address, ``metrics_loopback_only`` and the resume cookie's ``Secure`` flag.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from aiohttp import hdrs, web

Network = IPv4Network | IPv6Network
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def networks(entries: Sequence[str]) -> list[Network]:
    """``["127.0.0.1", "10.0.0.0/8"]`` (the setting, checked when it was read) as networks."""
    return [ip_network(entry, strict=False) for entry in entries]


def _address(text: str) -> IPv4Address | IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.7:51234"
        text = text.split(":")[0]
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPv4Address | IPv6Address, trusted: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def client_of(peer: str | None, forwarded_for: Sequence[str], forwarded_proto: Sequence[str],
              scheme: str, trusted: Sequence[Network]) -> tuple[str | None, str]:
    """(address, scheme) of the client a request from ``peer`` was made for."""
    address = _address(peer) if peer else None
    if address is None or not _trusted(address, trusted):
        return peer, scheme  # not from a proxy of ours: its headers mean nothing
    chain = [part for header in forwarded_for for part in header.split(",") if part.strip()]
    client = address
    for entry in reversed(chain):
        hop = _address(entry)
        if hop is None:
            break  # garbled: believe no further than the last proxy that sent it
        client = hop
        if not _trusted(hop, trusted):
            break
    protos = [p.strip().lower() for header in forwarded_proto for p in header.split(",")]
    if protos and protos[-1] in ("http", "https"):
        scheme = protos[-1]  # as the nearest proxy was reached
    return str(client), scheme


def middleware(trusted: Sequence[Network]) -> Callable[[web.Request, Handler],
                                                        Awaitable[web.StreamResponse]]:
    @web.middleware
    async def forwarded(request: web.Request, handler: Handler) -> web.StreamResponse:
        remote, scheme = client_of(request.remote, request.headers.getall(hdrs.X_FORWARDED_FOR, []),
                                   request.headers.getall(hdrs.X_FORWARDED_PROTO, []),
                                   request.scheme, trusted)
        if remote != request.remote or scheme != request.scheme:
            request = request.clone(remote=remote, scheme=scheme)
        return await handler(request)
    return forwarded
