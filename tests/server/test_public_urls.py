"""Every URL the API hands out is absolute: under SATREPS_PUBLIC_BASE_URL, else under what
the request shows (Host; X-Forwarded-Proto/-Host/-Prefix only from a trusted proxy)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fixtures.clients import app_client
from tests.schema.test_uploads import START, draft_version

BODY = b"a,b\n1,2\n"
PROXY_HEADERS = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "hub.example.org, internal:8080",
    "X-Forwarded-Prefix": "/satreps",
    "X-Forwarded-For": "203.0.113.9",
}


async def put_url(
    http: httpx.AsyncClient, token: str, version: str, headers: dict[str, str] | None = None
) -> str:
    variables = {"v": version, "name": "a.csv", "size": len(BODY), "sha": None}
    response = await http.post(
        "/graphql",
        json={"query": START, "variables": variables},
        headers={"Authorization": f"Bearer {token}", **(headers or {})},
    )
    started = response.json()["data"]["startUpload"]
    assert started["errors"] == [], started
    return str(started["instructions"]["putUrl"])


@pytest.fixture
async def world(admin, factory) -> tuple[str, str]:
    return await draft_version(admin, factory), admin.token


def served(settings, sessions, jobs, events, **changes: Any):
    return app_client(settings.model_copy(update=changes), sessions, jobs, events)


async def test_urls_are_absolute_under_the_request_host(client, world):
    version, token = world
    url = await put_url(client, token, version)
    assert url.startswith("http://testserver/uploads/"), url
    # and the URL works as given
    assert (await client.put(url, content=BODY)).status_code == 200


async def test_a_trusted_proxy_sets_scheme_host_and_prefix(client, world):
    version, token = world  # the test client connects from 127.0.0.1, trusted by default
    url = await put_url(client, token, version, PROXY_HEADERS)
    assert url.startswith("https://hub.example.org/satreps/uploads/"), url


async def test_an_untrusted_client_cannot_choose_the_urls(settings, sessions, jobs, events, world):
    version, token = world
    async with served(settings, sessions, jobs, events, trusted_proxies=["10.0.0.0/8"]) as http:
        url = await put_url(http, token, version, PROXY_HEADERS)
    assert url.startswith("http://testserver/uploads/"), url


async def test_the_public_base_url_setting_wins(settings, sessions, jobs, events, world):
    version, token = world
    public = "https://data.satreps.example/hub"
    async with served(settings, sessions, jobs, events, public_base_url=public + "/") as http:
        url = await put_url(http, token, version, PROXY_HEADERS)
    assert url.startswith(public + "/uploads/"), url


async def test_forwarded_for_of_a_trusted_proxy_is_the_client_address(
    settings, sessions, jobs, events, admin
):
    log = """{ auditLog(filter: {action: "createTheme"}, last: 5) { nodes { client } } }"""
    create = """mutation { createTheme(input: {name: "Proxy test"}) { errors { code } } }"""
    headers = {"Authorization": f"Bearer {admin.token}", "X-Forwarded-For": "203.0.113.9"}
    for trusted, expected in ((["127.0.0.1"], "203.0.113.9"), ([], "127.0.0.1")):
        async with served(settings, sessions, jobs, events, trusted_proxies=trusted) as http:
            await http.post("/graphql", json={"query": create}, headers=headers)
            body = (await http.post("/graphql", json={"query": log}, headers=headers)).json()
        assert body["data"]["auditLog"]["nodes"][-1]["client"] == expected, body


def test_settings_refuse_bad_values():
    from pydantic import ValidationError

    from server.core.config import Settings

    for bad in ({"public_base_url": "hub.example.org"}, {"public_base_url": "https://h/?a=1"}):
        with pytest.raises(ValidationError):
            Settings(**bad)
    with pytest.raises(ValidationError):
        Settings(trusted_proxies="10.0.0.0/8,not-an-address")
    assert Settings(trusted_proxies="10.0.0.0/8, ::1").trusted_proxies == ["10.0.0.0/8", "::1"]


@pytest.mark.parametrize(
    ("client", "headers", "expected"),
    [
        # a trusted proxy's headers, first hop first
        (
            "10.0.0.5",
            {"x-forwarded-proto": "https", "x-forwarded-host": "a.example:8443, b"},
            "https://a.example:8443",
        ),
        # what a trusted proxy sends that is no host, scheme or path is ignored
        (
            "10.0.0.5",
            {
                "x-forwarded-proto": "gopher",
                "x-forwarded-host": "evil.example/path",
                "x-forwarded-prefix": "no-slash",
            },
            "http://api.internal",
        ),
        ("10.0.0.5", {"x-forwarded-prefix": "/hub/"}, "http://api.internal/hub"),
        # anyone else's are not read at all
        ("192.0.2.1", {"x-forwarded-host": "a.example"}, "http://api.internal"),
        # no usable Host header: the socket's address
        ("192.0.2.1", {"host": "bad host"}, "http://127.0.0.1:8000"),
    ],
)
async def test_the_base_url_a_request_shows(client: str, headers: dict[str, str], expected: str):
    from server.http.forwarded import ForwardedHeaders, base_url

    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(base_url(scope))

    middleware = ForwardedHeaders(app, trusted_proxies=["10.0.0.0/8"], public_base_url=None)
    raw = {"host": "api.internal", **headers}
    scope = {
        "type": "http",
        "scheme": "http",
        "client": (client, 5000),
        "server": ("127.0.0.1", 8000),
        "headers": [(k.encode(), v.encode()) for k, v in raw.items()],
        "root_path": "",
    }
    await middleware(scope, None, None)
    assert seen == [expected]


async def test_base_urls_are_kept_apart_by_what_they_depend_on():
    """One middleware, many requests: a base URL worked out before is reused only for the
    same scheme, socket, trust and headers (a list for the socket, as some servers give)."""
    from server.http.forwarded import ForwardedHeaders, base_url

    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(base_url(scope))

    middleware = ForwardedHeaders(app, trusted_proxies=["10.0.0.0/8"], public_base_url=None)

    def scope(client: str, server: Any, **headers: str) -> dict[str, Any]:
        raw = [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
        return {"type": "http", "scheme": "http", "client": (client, 1), "server": server,
                "headers": raw, "root_path": ""}  # fmt: skip

    socket = ["127.0.0.1", 8000]
    for request in (
        scope("10.0.0.5", socket, host="api", x_forwarded_host="a.example"),
        scope("192.0.2.1", socket, host="api", x_forwarded_host="a.example"),
        scope("10.0.0.5", socket, host="api", x_forwarded_host="b.example"),
        scope("10.0.0.5", socket, host="api", x_forwarded_host="a.example"),
        scope("192.0.2.1", socket, host="bad host"),
        scope("192.0.2.1", ["127.0.0.1", 9000], host="bad host"),
    ):
        await middleware(request, None, None)
    assert seen == [
        "http://a.example",
        "http://api",
        "http://b.example",
        "http://a.example",
        "http://127.0.0.1:8000",
        "http://127.0.0.1:9000",
    ]
