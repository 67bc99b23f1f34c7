"""API tokens and principals. Tokens are random, shown once and stored as sha256."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import utcnow
from server.errors import DomainError, NotFound
from server.models import Account, ApiToken, Institution, Researcher
from server.models.enums import AccountRole

TOKEN_PREFIX = "sh_"


@dataclass(frozen=True)
class Principal:
    account_id: int | None = None
    role: AccountRole | None = None
    researcher_id: int | None = None
    institution_id: int | None = None

    @property
    def is_authenticated(self) -> bool:
        return self.account_id is not None

    @property
    def is_admin(self) -> bool:
        return self.role == AccountRole.ADMIN

    @property
    def is_staff(self) -> bool:
        """Admins and program managers: they read all metadata and steer the programme."""
        return self.role in (AccountRole.ADMIN, AccountRole.PROGRAM_MANAGER)

    def has_role(self, *roles: AccountRole) -> bool:
        return self.role in roles


ANONYMOUS = Principal()


class AuthError(Exception):
    """The credentials presented are unusable (not the same as missing)."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def ensure_account(
    session: AsyncSession,
    username: str,
    role: AccountRole,
    *,
    researcher_id: int | None = None,
    institution_id: int | None = None,
) -> Account:
    if researcher_id is not None and await session.get(Researcher, researcher_id) is None:
        raise NotFound("researcher", "researcherId")
    if institution_id is not None and await session.get(Institution, institution_id) is None:
        raise NotFound("institution", "institutionId")
    account = await session.scalar(select(Account).where(Account.username == username))
    if account is None:
        account = Account(username=username, role=role)
        session.add(account)
    account.role = role
    if researcher_id is not None:
        account.researcher_id = researcher_id
    if institution_id is not None:
        account.institution_id = institution_id
    await session.flush()
    return account


async def issue_token(
    session: AsyncSession, account: Account, *, ttl: dt.timedelta, name: str | None = None
) -> tuple[ApiToken, str]:
    """Returns the row and the plaintext token; the plaintext is never stored."""
    if ttl <= dt.timedelta(0):
        raise DomainError.one("INVALID_EXPIRY", "token lifetime must be positive", "ttl")
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        account_id=account.id,
        token_hash=hash_token(plaintext),
        prefix=plaintext[:10],
        name=name,
        expires_at=utcnow() + ttl,
    )
    session.add(row)
    await session.flush()
    return row, plaintext


async def revoke_token(session: AsyncSession, token_id: int) -> ApiToken:
    row = await session.get(ApiToken, token_id)
    if row is None:
        raise NotFound("token")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        await session.flush()
    return row


async def authenticate(session: AsyncSession, token: str) -> Principal:
    row = await session.execute(
        select(ApiToken, Account)
        .join(Account, Account.id == ApiToken.account_id)
        .where(ApiToken.token_hash == hash_token(token))
    )
    found = row.first()
    if found is None:
        raise AuthError("invalid token")
    api_token, account = found
    if api_token.revoked_at is not None:
        raise AuthError("token revoked")
    if api_token.expires_at <= utcnow():
        raise AuthError("token expired")
    return Principal(
        account_id=account.id,
        role=account.role,
        researcher_id=account.researcher_id,
        institution_id=account.institution_id,
    )
