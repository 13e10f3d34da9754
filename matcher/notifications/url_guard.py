"""Where webhooks may point: well-formed http(s) URLs whose host resolves only to public addresses.

A URL is parsed and normalised once, at registration, with httpx's own URL parser (the parser that later sends
to it, so what was checked is what is sent). Control and whitespace characters are refused, never stripped.

Addresses are judged by ``refused_reason``: only global unicast addresses are admitted. IPv6 forms that carry an
IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible ``::a.b.c.d``, 6to4 ``2002::/16`` and NAT64
``64:ff9b::/96``) are judged by the IPv4 address inside. ``PILOTMATCH_WEBHOOK_ALLOW_PRIVATE=true`` admits loopback
and private networks (RFC 1918, unique-local ``fc00::/7``, carrier-grade NAT ``100.64.0.0/10``) for an intranet
deployment or tests, but never link-local addresses or cloud metadata services.

The check is repeated at every connection, by the delivery transport (``matcher.notifications.transport``), which
resolves the name once, judges every address and connects only to those: a name that rebinds to another address
after the check cannot redirect a delivery.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import unicodedata
from collections.abc import Callable, Sequence

import httpx

from matcher.errors import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: ``(host, port) -> addresses``; the default asks the system resolver (``socket.getaddrinfo``).
Resolver = Callable[[str, int], Sequence[str]]

MAX_URL_LENGTH = 2000

_NET = ipaddress.ip_network
#: Cloud metadata services outside link-local space: Alibaba Cloud's 100.100.100.200 (inside carrier-grade NAT
#: space) and AWS's IPv6 instance metadata endpoint (inside unique-local space). Never admitted.
METADATA_ADDRESSES = (_NET("100.100.100.200/32"), _NET("fd00:ec2::254/128"))
#: Never admitted, whatever the settings: link-local (169.254.0.0/16 holds the metadata service of most clouds)
#: and deprecated IPv6 site-local.
NEVER_ADMITTED = (_NET("169.254.0.0/16"), _NET("fe80::/10"), _NET("fec0::/10"))
#: Admitted only with ``webhook_allow_private``.
PRIVATE_NETWORKS = (
    _NET("127.0.0.0/8"),
    _NET("10.0.0.0/8"),
    _NET("172.16.0.0/12"),
    _NET("192.168.0.0/16"),
    _NET("100.64.0.0/10"),
    _NET("::1/128"),
    _NET("fc00::/7"),
)
#: Not global, whatever this Python's ``ipaddress`` tables say (they changed within 3.11 and 3.12 releases).
NOT_GLOBAL = (
    _NET("0.0.0.0/8"),
    _NET("100.64.0.0/10"),
    _NET("192.0.0.0/24"),
    _NET("192.0.2.0/24"),
    _NET("198.18.0.0/15"),
    _NET("198.51.100.0/24"),
    _NET("203.0.113.0/24"),
    _NET("224.0.0.0/4"),
    _NET("240.0.0.0/4"),
    _NET("::/8"),
    _NET("100::/64"),
    _NET("2001::/23"),
    _NET("2001:db8::/32"),
    _NET("2002::/16"),
    _NET("fc00::/7"),
    _NET("fe80::/10"),
    _NET("fec0::/10"),
    _NET("ff00::/8"),
)
_IPV4_COMPATIBLE = _NET("::/96")
_NAT64 = _NET("64:ff9b::/96")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_AUTHORITY = re.compile(r"^[^:/?#]*://([^/?#]*)")


def normalise_webhook_url(url: str) -> str:
    """Parse ``url`` and return its normal form, or raise ``InvalidInput`` (field ``url``).

    The normal form has a lower-case scheme and host, the host in IDNA (punycode) form, no default port, no
    ``.``/``..`` path segments, non-ASCII characters percent-encoded, and no fragment (it is never sent). Refused:
    control, whitespace and invisible formatting characters anywhere (tab, CR, LF, NUL, DEL, ...), schemes other
    than http and https, credentials, ports outside 1-65535, IPv4 literals in brackets or in shorthand forms
    (``127.1``, ``0x7f.1``, ``2130706433``), IPv6 zone identifiers and host names that are not letters, digits and
    hyphens. Never raises anything but ``InvalidInput`` for a string.
    """
    if not isinstance(url, str):
        raise InvalidInput("The webhook URL must be a string.", field="url")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"The webhook URL is longer than {MAX_URL_LENGTH} characters.", field="url")
    for position, ch in enumerate(url):
        if ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zs", "Zl", "Zp"):
            raise InvalidInput(
                f"The webhook URL contains a control, whitespace or invisible character (U+{ord(ch):04X}) at "
                f"position {position}; percent-encode it.",
                field="url",
            )
    _check_port_text(url)
    try:
        parsed = httpx.URL(url)
        scheme, host, port = parsed.scheme, parsed.raw_host.decode("ascii"), parsed.port
    except Exception as exc:  # httpx.InvalidURL, and whatever IDNA or int() raise inside the parser
        raise InvalidInput(f"The webhook URL cannot be parsed: {exc}", field="url") from None
    if scheme not in ("http", "https"):
        raise InvalidInput("Webhook URLs must use http or https.", field="url")
    if parsed.userinfo:
        raise InvalidInput("Webhook URLs must not carry credentials.", field="url")
    if not host:
        raise InvalidInput("The webhook URL has no host.", field="url")
    if port is not None and not 1 <= port <= 65535:
        raise InvalidInput(f"The webhook URL's port {port} is not between 1 and 65535.", field="url")
    host = _normal_host(host)
    if port in ({"http": 80, "https": 443}[scheme], None):
        port = None
    try:
        normal = str(httpx.URL(scheme=scheme, host=host, port=port, raw_path=parsed.raw_path or b"/"))
    except Exception as exc:
        raise InvalidInput(f"The webhook URL cannot be parsed: {exc}", field="url") from None
    if len(normal) > MAX_URL_LENGTH:
        raise InvalidInput(
            f"The webhook URL is longer than {MAX_URL_LENGTH} characters once encoded.", field="url"
        )
    return normal


def _check_port_text(url: str) -> None:
    """Refuse a port that is not plain digits (``+80``): httpx reads it as a number and drops the text."""
    match = _AUTHORITY.match(url)
    if match is None:
        return  # no authority at all: the parser below reports what is missing
    host_port = match.group(1).rpartition("@")[2]
    port_text = host_port.rpartition("]")[2] if host_port.startswith("[") else host_port
    if ":" in port_text:
        digits = port_text.rpartition(":")[2]
        if digits and not (digits.isascii() and digits.isdigit()):
            raise InvalidInput(f"The webhook URL's port {digits!r} is not a number.", field="url")


def _normal_host(host: str) -> str:
    """A host as it is stored: an IP literal in its compressed form, or a lower-case IDNA name (``host`` is
    httpx's ASCII form, punycode for international names)."""
    if ":" in host:  # httpx accepts brackets only around IPv6 literals
        if "%" in host:
            raise InvalidInput("Webhook URLs must not carry an IPv6 zone identifier.", field="url")
        try:
            return str(ipaddress.IPv6Address(host))
        except ValueError:
            raise InvalidInput(
                f"The webhook URL's host {host!r} is not an IPv6 address.", field="url"
            ) from None
    name = host.lower()
    labels = name.removesuffix(".").split(".")
    if _NUMERIC_LABEL.match(labels[-1]):
        # A host ending in a number is an IPv4 address; only the dotted-quad form is accepted, because resolvers
        # read shorthand forms (127.1, 0x7f.1, 2130706433) differently.
        try:
            return str(ipaddress.IPv4Address(name))
        except ValueError:
            raise InvalidInput(
                f"The webhook URL's host {host!r} is not a dotted-quad IPv4 address.", field="url"
            ) from None
    if len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise InvalidInput(
            f"The webhook URL's host {host!r} is not a valid host name (letters, digits and hyphens).",
            field="url",
        )
    return name


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries and is routed to (mapped, compatible, 6to4, NAT64), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refused_reason(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why a webhook may not be sent to ``address``, or None if it may."""
    inner = embedded_ipv4(address)
    if inner is not None:
        reason = refused_reason(inner, allow_private=allow_private)
        return f"which carries {inner}, {reason}" if reason else None
    if any(address in net for net in METADATA_ADDRESSES):
        return "a cloud metadata address, which is never allowed"
    if address.is_link_local or any(address in net for net in NEVER_ADMITTED):
        return "a link-local or site-local address (cloud metadata lives there), which is never allowed"
    if address.is_loopback or any(address in net for net in PRIVATE_NETWORKS):
        if allow_private:
            return None
        return "a loopback or private address (set PILOTMATCH_WEBHOOK_ALLOW_PRIVATE=true to allow it)"
    if address.is_multicast or address.is_unspecified or address.is_reserved:
        return "a multicast, unspecified or reserved address"
    if not address.is_global or any(address in net for net in NOT_GLOBAL):
        return "not a public address"
    return None


def system_resolver(host: str, port: int) -> list[str]:
    """Ask the system resolver for the addresses of ``host``; raises ``OSError`` if it does not resolve."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


def checked_addresses(
    host: str, port: int, *, allow_private: bool, resolve: Resolver | None = None
) -> list[IPAddress]:
    """Resolve ``host`` once and return its addresses, each judged admissible; raise ``InvalidInput`` (field
    ``url``) if it does not resolve or if any address is refused (one bad address spoils the name)."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            answers = (resolve or system_resolver)(host, port)
            addresses = list(dict.fromkeys(ipaddress.ip_address(a) for a in answers))
        except (OSError, UnicodeError, ValueError) as exc:
            raise InvalidInput(f"The webhook host {host!r} does not resolve ({exc}).", field="url") from None
        if not addresses:
            raise InvalidInput(f"The webhook host {host!r} does not resolve.", field="url")
    for address in addresses:
        reason = refused_reason(address, allow_private=allow_private)
        if reason:
            raise InvalidInput(f"The webhook host {host!r} resolves to {address}, {reason}.", field="url")
    return addresses


def check_webhook_url(
    url: str, *, allow_private: bool, resolve: bool = True, resolver: Resolver | None = None
) -> str:
    """Normalise ``url`` and, with ``resolve``, check that its host resolves only to admissible addresses;
    return the normal form or raise ``InvalidInput`` (field ``url``)."""
    normal = normalise_webhook_url(url)
    if resolve:
        parsed = httpx.URL(normal)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        # The ASCII (punycode) name is the one deliveries connect to; decoding it back to Unicode can fail (an
        # invalid ``xn--`` label) or name another host (IDNA 2003 maps "ß" to "ss").
        checked_addresses(
            parsed.raw_host.decode("ascii"), port, allow_private=allow_private, resolve=resolver
        )
    return normal
