"""Who is calling: the client's address, behind trusted proxies only, and its agent."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from django.conf import settings
from django.http import HttpRequest

# Enough for any real browser's User-Agent; longer ones are cut, not refused.
USER_AGENT_LENGTH = 256


def client_ip(request: HttpRequest) -> str | None:
    """Return the client's IP address, or None when the peer's is not one."""
    return client_ip_of(request.META)


def client_ip_of(environ: Mapping[str, str]) -> str | None:
    """Return the client's IP address from a WSGI environ (`request.META`).

    X-Forwarded-For is believed only when the peer (REMOTE_ADDR) is a trusted
    proxy (DJANGO_TRUSTED_PROXIES), and only as far as trusted proxies added to
    it: read from the right, the first address that is not a trusted proxy is the
    client. Anyone else's header is ignored, so nobody picks their own address.
    """
    peer = _ip(environ.get("REMOTE_ADDR", ""))
    if peer is None or not _trusted(peer):
        return str(peer) if peer else None
    forwarded = environ.get("HTTP_X_FORWARDED_FOR", "")
    for hop in reversed([part.strip() for part in forwarded.split(",")]):
        address = _ip(hop)
        if address is None:
            break  # a malformed hop: nothing to its left can be believed
        if not _trusted(address):
            return str(address)
        peer = address
    return str(peer)


def user_agent(request: HttpRequest) -> str:
    value = request.headers.get("User-Agent", "").replace("\x00", "")
    return value[:USER_AGENT_LENGTH]


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(address) -> bool:
    return any(address in network for network in settings.TRUSTED_PROXIES)
