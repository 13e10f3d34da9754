"""The HTTP transport for webhook deliveries: it connects only to addresses it has just checked.

Checking a URL and then letting the HTTP client resolve the name again leaves a gap: a name can answer a public
address to the check and 127.0.0.1 to the connection (DNS rebinding). Here the name is resolved once, inside the
transport, at the moment a connection is opened; every address is judged by ``url_guard.checked_addresses``
and the socket is opened to one of those addresses, never to the name. The URL keeps the name, so the ``Host``
header, TLS SNI and certificate verification all use it.

httpx has no public hook for a network backend, so ``PinnedTransport`` is httpx's own ``HTTPTransport`` with its
httpcore connection pool rebuilt around ``PinnedBackend``; a test (``test_webhook_security``) fails if a new httpx
stops honouring it.
"""

from __future__ import annotations

import time
import typing

import httpcore
import httpx

from matcher.notifications.url_guard import Resolver, checked_addresses


class PinnedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, connecting to checked addresses of the host instead of the host name."""

    def __init__(self, *, allow_private: bool, resolve: Resolver | None = None) -> None:
        self.allow_private = allow_private
        self.resolve = resolve

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        # Raises InvalidInput if any address is refused; httpcore and httpx pass it through unchanged.
        addresses = checked_addresses(host, port, allow_private=self.allow_private, resolve=self.resolve)
        deadline = None if timeout is None else time.monotonic() + timeout
        error: Exception | None = None
        for address in addresses:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            try:
                return super().connect_tcp(str(address), port, remaining, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error or httpcore.ConnectTimeout(f"could not connect to {host} in time")


class PinnedTransport(httpx.HTTPTransport):
    """httpx's transport whose connections go only to addresses ``PinnedBackend`` checked."""

    def __init__(
        self,
        *,
        allow_private: bool,
        resolve: Resolver | None = None,
        limits: httpx.Limits = httpx.Limits(max_connections=20, max_keepalive_connections=10),
    ) -> None:
        super().__init__(trust_env=False, limits=limits)
        self._pool.close()
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PinnedBackend(allow_private=allow_private, resolve=resolve),
        )


def delivery_client(timeout: float, *, allow_private: bool, resolve: Resolver | None = None) -> httpx.Client:
    """An HTTP client for deliveries: pinned, checked connections; no redirects; no proxy from the environment."""
    return httpx.Client(
        transport=PinnedTransport(allow_private=allow_private, resolve=resolve),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
    )
