"""Where a webhook may go: http(s) URLs whose host resolves to public addresses only
(server-side request forgery). Checked when a subscription is made, and again at every
delivery after resolving the name, and the request then connects to the address checked
(a name that resolves elsewhere the second time gains nothing)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from server.core.errors import DomainError, ErrorCode
from server.notifications.errors import NotificationErrorCode

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_URL = 2000


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str  # as written (the Host header, TLS server name)
    port: int
    address: str  # the checked address to connect to


def is_public(address: IPAddress) -> bool:
    """Globally routable unicast: not private, loopback, link-local, multicast, reserved,
    unspecified, shared (100.64/10), documentation, nor an IPv4-mapped one of those."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return is_public(address.ipv4_mapped)
    return address.is_global and not address.is_multicast


def parse_url(url: str, field: str = "url") -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL, or DomainError."""
    text = url.strip()
    if len(text) > MAX_URL:
        raise DomainError.one(ErrorCode.TOO_LONG, f"a URL has at most {MAX_URL} characters", field)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise DomainError.one(ErrorCode.INVALID_URL, f"not a URL: {error}", field) from error
    if parts.scheme not in ("http", "https"):
        raise DomainError.one(
            NotificationErrorCode.URL_SCHEME_NOT_ALLOWED,
            f"a webhook URL is http or https, not {parts.scheme or 'none'!r}",
            field,
        )
    if not parts.hostname or parts.username or parts.password:
        raise DomainError.one(
            ErrorCode.INVALID_URL, "a webhook URL names a host and no credentials", field
        )
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        literal = ipaddress.ip_address(host)
        return [literal]
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    seen: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in seen:
            seen.append(address)
    return seen


async def check_target(url: str, *, allow_private: bool, field: str = "url") -> Target:
    """The URL's target with an address to connect to: every address the name resolves to
    must be public (one private among them is refused: a resolver may rotate), unless the
    operator allows private ones (SATREPS_WEBHOOK_ALLOW_PRIVATE)."""
    scheme, host, port = parse_url(url, field)
    try:
        addresses = await resolve(host, port)
    except OSError as error:
        raise DomainError.one(
            NotificationErrorCode.UNRESOLVABLE_HOST, f"{host} does not resolve: {error}", field
        ) from error
    if not addresses:
        raise DomainError.one(
            NotificationErrorCode.UNRESOLVABLE_HOST, f"{host} has no address", field
        )
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise DomainError.one(
                    NotificationErrorCode.PRIVATE_ADDRESS,
                    f"{host} resolves to {address}, which is not a public address",
                    field,
                )
    return Target(url.strip(), scheme, host, port, str(addresses[0]))
