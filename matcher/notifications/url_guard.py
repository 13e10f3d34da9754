"""Where webhooks may point: http(s) URLs whose host resolves only to public addresses.

Checked when an endpoint is registered and again before every delivery, because DNS can change between the two
(DNS rebinding). ``PILOTMATCH_WEBHOOK_ALLOW_PRIVATE=true`` admits loopback and private networks (for an intranet
deployment or tests) but never link-local addresses, where cloud metadata services live.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from matcher.errors import InvalidInput


def check_webhook_url(url: str, *, allow_private: bool, resolve: bool = True) -> None:
    """Raise ``InvalidInput`` (field ``url``) if ``url`` may not receive webhooks."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise InvalidInput("Webhook URLs must use http or https.", field="url")
    if not parts.hostname:
        raise InvalidInput("The webhook URL has no host.", field="url")
    if parts.username or parts.password:
        raise InvalidInput("Webhook URLs must not carry credentials.", field="url")
    if not resolve:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise InvalidInput(f"The webhook host {parts.hostname!r} does not resolve.", field="url") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        reason = refused_reason(address, allow_private=allow_private)
        if reason:
            raise InvalidInput(
                f"The webhook host {parts.hostname!r} resolves to {address}, {reason}.", field="url"
            )


def refused_reason(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, *, allow_private: bool
) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_link_local:
        return "a link-local address (cloud metadata lives there), which is never allowed"
    if address.is_multicast or address.is_unspecified or address.is_reserved:
        return "a multicast, unspecified or reserved address"
    if not allow_private and (address.is_loopback or address.is_private):
        return "a loopback or private address (set PILOTMATCH_WEBHOOK_ALLOW_PRIVATE=true to allow it)"
    return None
