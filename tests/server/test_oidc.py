"""OIDC: JWTs signed by keys this test generates, the JWKS served by a real local HTTP
server; verified for real (signature, issuer, audience, expiry), mapped to accounts."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import select

from server.http.app import create_app
from server.models import Account, OidcIdentity
from tests.conftest import GraphQLClient

ISSUER = "https://idp.example.org/realms/satreps"
AUDIENCE = "satreps-hub"
ME = "{ me { role } }"


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    return {
        kid: rsa.generate_private_key(public_exponent=65537, key_size=2048)
        for kid in ("k1", "k2", "rogue")
    }


@pytest.fixture(scope="module")
def jwks_url(keys) -> Iterator[str]:
    """The issuer's published keys (k1, k2; not rogue) over real HTTP."""
    published = []
    for kid in ("k1", "k2"):
        jwk = json.loads(RSAAlgorithm.to_jwk(keys[kid].public_key()))
        published.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
    body = json.dumps({"keys": published}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()
    server.server_close()


def token(keys, kid: str = "k1", **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "iat": now,
        "exp": now + 300,
        "preferred_username": "aiko",
        "scope": "openid read write",
        **claims,
    }
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, keys[kid], algorithm="RS256", headers={"kid": kid})


@pytest.fixture
async def oidc(settings, sessions, jobs, events, jwks_url):
    changes = {"oidc_issuer": ISSUER, "oidc_jwks_url": jwks_url, "oidc_audience": AUDIENCE}
    app = create_app(
        settings.model_copy(update=changes), sessions=sessions, jobs=jobs, events=events
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield GraphQLClient(http)


async def rejected(gql: GraphQLClient, bearer: str, reason: str) -> None:
    response = await gql.post(ME, token=bearer)
    assert response.status_code == 401, response.text
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert reason in error["message"]


async def test_a_new_identity_gets_an_account_and_keeps_it(oidc, keys, sessions):
    assert (await oidc(ME, token=token(keys)))["me"] == {"role": "RESEARCHER"}
    assert (await oidc(ME, token=token(keys, kid="k2")))["me"] == {"role": "RESEARCHER"}
    async with sessions() as session:
        accounts = (await session.scalars(select(Account).where(Account.username == "aiko"))).all()
        identities = (await session.scalars(select(OidcIdentity))).all()
    assert len(accounts) == 1
    assert [(i.issuer, i.subject, i.account_id) for i in identities] == [
        (ISSUER, "user-1", accounts[0].id)
    ]


async def test_the_role_claim_names_a_new_accounts_role(oidc, keys):
    bearer = token(keys, sub="pm-7", preferred_username="kenji", satreps_role="program_manager")
    assert (await oidc(ME, token=bearer))["me"] == {"role": "PROGRAM_MANAGER"}
    await rejected(
        oidc, token(keys, sub="x", preferred_username="x", satreps_role="king"), "unknown role"
    )


async def test_scopes_come_from_the_scope_claim(oidc, keys):
    bearer = token(keys, sub="reader", preferred_username="reader", scope="openid profile")
    mutation = """mutation { createResearcher(input: {nameEn: "Someone"}) {
        errors { code } } }"""
    data = await oidc(mutation, token=bearer)
    assert data["createResearcher"]["errors"] == [{"code": "INSUFFICIENT_SCOPE"}]
    assert (await oidc(ME, token=bearer))["me"] == {"role": "RESEARCHER"}


async def test_bad_tokens_are_refused(oidc, keys):
    await rejected(oidc, token(keys, kid="rogue"), "invalid token")  # kid not in the JWKS
    forged = token(keys, kid="k1")
    header, payload, _ = forged.split(".")
    other = token(keys, kid="k1", sub="admin").split(".")[2]
    await rejected(oidc, f"{header}.{payload}.{other}", "invalid token")  # signature
    await rejected(oidc, token(keys, iss="https://evil.example.org"), "invalid token")
    await rejected(oidc, token(keys, aud="another-api"), "invalid token")
    await rejected(oidc, token(keys, exp=int(time.time()) - 3600), "expired")
    await rejected(oidc, token(keys, sub=None), "invalid token")
    # signed with the right key but with the "none" algorithm: never accepted
    unsigned = jwt.encode({"iss": ISSUER, "sub": "u", "exp": int(time.time()) + 60}, None, "none")
    await rejected(oidc, unsigned, "invalid token")


async def test_an_account_name_taken_by_a_local_account_is_refused(oidc, keys, make_token):
    from server.models.enums import AccountRole

    await make_token(AccountRole.ADMIN, user="root")
    await rejected(oidc, token(keys, sub="root-at-idp", preferred_username="root"), "belongs to")


async def test_api_tokens_still_work_beside_oidc(oidc, admin):
    assert (await oidc(ME, token=admin.token))["me"] == {"role": "ADMIN"}
