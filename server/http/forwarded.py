"""The public base URL of each request, and the proxy headers that shape it.

Only a trusted proxy (`Settings.trusted_proxies`) is believed: its X-Forwarded-For and
X-Forwarded-Proto set the caller's address and scheme (uvicorn's ProxyHeadersMiddleware),
its X-Forwarded-Host and X-Forwarded-Prefix the host and path the client used. The base URL
is `Settings.public_base_url` when set, else what the request shows; every URL the server
hands out (uploads, downloads, exports) is absolute under it."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

STATE_KEY = "public_base_url"
_HOST = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$"
)
_PREFIX = re.compile(r"^(?:/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*/?$")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# the headers a base URL depends on (the first of each counts)
_FORWARDED = (b"host", b"x-forwarded-proto", b"x-forwarded-host", b"x-forwarded-prefix")
_KEPT = 1024  # addresses and base URLs kept, each


def base_url(scope: Scope) -> str:
    """The request's public base URL (set by ForwardedHeaders; "" when not behind it)."""
    return str(scope.get("state", {}).get(STATE_KEY, ""))


class ForwardedHeaders:
    def __init__(
        self, app: ASGIApp, *, trusted_proxies: list[str], public_base_url: str | None
    ) -> None:
        self.proxied = ProxyHeadersMiddleware(app, trusted_hosts=trusted_proxies)  # type: ignore[arg-type]
        self.any = "*" in trusted_proxies
        self.networks = [ipaddress.ip_network(p, strict=False) for p in trusted_proxies if p != "*"]
        self.public_base_url = public_base_url
        self._trusted: dict[str, bool] = {}  # client address -> a trusted proxy
        self._bases: dict[tuple[Any, ...], str] = {}  # what a base URL depends on -> it

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope.setdefault("state", {})[STATE_KEY] = self.public_base_url or self._seen(scope)
        await self.proxied(scope, receive, send)  # type: ignore[arg-type]

    def trusted(self, scope: Scope) -> bool:
        client = scope.get("client")
        if not client:
            return False
        if self.any:
            return True
        known = self._trusted.get(client[0])
        if known is None:
            try:
                address = ipaddress.ip_address(client[0])
            except ValueError:
                known = False
            else:
                known = any(address in network for network in self.networks)
            if len(self._trusted) >= _KEPT:
                self._trusted.clear()
            self._trusted[client[0]] = known
        return known

    def _seen(self, scope: Scope) -> str:
        """The base URL the request shows, worked out once for each combination of what
        it depends on (clients send the same few)."""
        wanted = dict.fromkeys(_FORWARDED)
        for name, value in scope.get("headers", ()):
            if name in wanted and wanted[name] is None:
                wanted[name] = bytes(value)
        trusted = self.trusted(scope)
        server = scope.get("server")  # a list from some servers and test clients
        key = (
            scope.get("scheme"),
            scope.get("root_path", ""),
            tuple(server) if server else None,
            trusted,
            *(wanted.values() if trusted else (wanted[b"host"],)),
        )
        seen = self._bases.get(key)
        if seen is None:
            headers = {k.decode(): v.decode("latin-1") for k, v in wanted.items() if v is not None}
            seen = self._work_out(scope, headers, trusted)
            if len(self._bases) >= _KEPT:
                self._bases.clear()
            self._bases[key] = seen
        return seen

    def _work_out(self, scope: Scope, headers: dict[str, str], trusted: bool) -> str:
        scheme = str(scope.get("scheme") or "http")
        scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
        hosts = [headers.get("host", "")]
        prefix = ""
        if trusted:
            proto = _first(headers.get("x-forwarded-proto", "")).lower()
            scheme = proto if proto in ("http", "https") else scheme
            hosts.insert(0, _first(headers.get("x-forwarded-host", "")))
            forwarded = _first(headers.get("x-forwarded-prefix", ""))
            prefix = forwarded.rstrip("/") if _PREFIX.match(forwarded) else ""
        host = next((h for h in hosts if _HOST.match(h)), None) or _server(scope, scheme)
        if host is None:
            return ""
        return f"{scheme}://{host}{prefix}{scope.get('root_path', '').rstrip('/')}"


def _server(scope: Scope, scheme: str) -> str | None:
    """host[:port] of the socket the request came in on (no usable Host header)."""
    server = scope.get("server")
    if not server:
        return None
    name = f"[{server[0]}]" if ":" in server[0] else server[0]
    default = server[1] in (None, _DEFAULT_PORTS.get(scheme))
    return str(name if default else f"{name}:{server[1]}")


def _first(value: str) -> str:
    """The first hop's value of a comma-separated forwarded header (the client's side)."""
    return value.split(",", 1)[0].strip()
