"""Where a connector may connect: never to link-local or cloud metadata addresses, and to
loopback or private ones only when ``CONNECTOR_ALLOW_PRIVATE`` is on (the emulator demo).

A connector's ``base_url`` is chosen by a staff user, and the hub makes requests to it from
inside the network: left unchecked it is a way to probe internal services (the cloud metadata
service at 169.254.169.254, a database at 127.0.0.1:5432). The address is checked twice:

- when the connector is configured (API, admin, CLI): ``check_base_url`` raises
  ``ForbiddenAddress`` naming the reason, which the callers turn into a 400 on ``base_url``;
- when a connection is opened: ``GuardedTransport`` resolves the host itself, refuses if any
  address it resolves to is forbidden, and connects to the checked address — so a name that
  resolves somewhere harmless at configuration and somewhere internal later (DNS rebinding)
  is refused too.
"""

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from django.conf import settings

from fleetwatch.connectors.http import VendorError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata services that do not sit in the link-local ranges.
METADATA = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack, …
    ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    ipaddress.ip_address("192.0.0.192"),  # Oracle Cloud (classic)
}


class ForbiddenAddress(VendorError):
    """The vendor's address is one the hub must not connect to (not retried)."""


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (a seam for tests)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))  # typed str | int; an IP is text


def forbidden_reason(address: str, *, allow_private: bool | None = None) -> str | None:
    """Why the hub may not connect to ``address`` (an IP), or None when it may."""
    if allow_private is None:
        allow_private = settings.CONNECTOR_ALLOW_PRIVATE
    ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA:
        return f"{ip} is a cloud metadata address"
    if ip.is_link_local:
        return f"{ip} is a link-local address"
    if ip.is_unspecified or ip.is_multicast:
        return f"{ip} is not a unicast address"
    if not ip.is_global and not allow_private:
        kind = "loopback" if ip.is_loopback else "private"
        return (
            f"{ip} is a {kind} address (allowed only with FLEETWATCH_CONNECTOR_ALLOW_PRIVATE=true)"
        )
    return None


def check_host(host: str, port: int) -> str:
    """The first address of ``host`` the hub may connect to; ForbiddenAddress when any address
    it resolves to is forbidden (one bad answer is enough: the resolver picks)."""
    try:
        addresses = [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        try:
            addresses = resolve(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror or exc}") from None
    for address in addresses:
        if reason := forbidden_reason(address):
            raise ForbiddenAddress(f"refused to connect to {host}: {reason}")
    if not addresses:
        raise httpcore.ConnectError(f"cannot resolve {host}")
    return addresses[0]


def check_base_url(url: str) -> None:
    """At configuration: ForbiddenAddress naming why ``url`` may not be a vendor's base URL.

    A name that does not resolve now is accepted (it is checked again on every connection)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ForbiddenAddress("Enter an http:// or https:// URL with a host name.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ForbiddenAddress("The port is not a number between 0 and 65535.") from None
    try:
        check_host(parts.hostname, port)
    except httpcore.ConnectError:
        pass


class GuardedBackend(httpcore.SyncBackend):
    """Connects only to addresses ``check_host`` allows, and to exactly the one it checked."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        address = check_host(host, port)
        return super().connect_tcp(address, port, timeout, local_address, socket_options)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport with the guarded network backend (TLS still verifies the host
    name: httpcore sends the URL's host as the server name, not the address)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        pool = self._pool
        if not isinstance(pool, httpcore.ConnectionPool):  # pragma: no cover - proxies
            raise TypeError("GuardedTransport does not support proxies")
        pool._network_backend = GuardedBackend()
