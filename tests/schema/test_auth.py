"""Tokens: missing (anonymous), wrong, malformed, expired, revoked."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from server.access.auth import revoke_token
from server.core.db import utcnow
from server.models import ApiToken
from server.models.enums import AccountRole

ME = "{ me { role researcher { nameEn } institution { nameEn } } }"


async def test_anonymous_and_signed_in_me(gql, make_token, factory):
    assert (await gql(ME))["me"] is None
    researcher = await factory.researcher(name_en="Suzuki Aiko")
    inst = await factory.institution()
    token = await make_token(
        AccountRole.RESEARCHER, researcher_id=researcher.id, institution_id=inst.id
    )
    me = (await gql(ME, token=token))["me"]
    assert me["role"] == "RESEARCHER"
    assert me["researcher"] == {"nameEn": "Suzuki Aiko"}
    assert me["institution"]["nameEn"] == inst.name_en


async def assert_unauthenticated(gql, headers: dict[str, str], reason: str) -> None:
    response = await gql.http.post("/graphql", json={"query": ME}, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert reason in error["message"]


async def test_wrong_and_malformed_tokens_get_401(gql):
    await assert_unauthenticated(gql, {"Authorization": "Bearer sh_nope"}, "invalid token")
    await assert_unauthenticated(gql, {"Authorization": "Basic dXNlcjpwYXNz"}, "Bearer")
    await assert_unauthenticated(gql, {"Authorization": "Bearer "}, "Bearer")


async def test_expired_token_gets_401(gql, make_token, sessions):
    token = await make_token(AccountRole.ADMIN)
    assert (await gql(ME, token=token))["me"]["role"] == "ADMIN"
    async with sessions() as session:
        row = (await session.scalars(select(ApiToken).order_by(ApiToken.id.desc()))).first()
        row.expires_at = utcnow() - dt.timedelta(seconds=1)
        await session.commit()
    await assert_unauthenticated(gql, {"Authorization": f"Bearer {token}"}, "expired")


async def test_revoked_token_gets_401(gql, make_token, sessions):
    token = await make_token(AccountRole.ADMIN)
    async with sessions() as session:
        row = (await session.scalars(select(ApiToken).order_by(ApiToken.id.desc()))).first()
        await revoke_token(session, row.id)
        await session.commit()
    await assert_unauthenticated(gql, {"Authorization": f"Bearer {token}"}, "revoked")


async def test_tokens_are_stored_hashed(make_token, sessions):
    token = await make_token(AccountRole.RESEARCHER)
    async with sessions() as session:
        rows = (await session.scalars(select(ApiToken))).all()
    assert rows and all(token not in (r.token_hash, r.prefix) for r in rows)
    assert any(r.prefix == token[:10] for r in rows)
