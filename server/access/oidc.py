"""OpenID Connect: JWTs from one configured issuer, verified with its published keys (JWKS),
mapped to accounts by (issuer, subject).

A known identity acts as its account (the database holds its role); a new one gets an
account named by a claim, with the role from a claim or the default. Scopes come from the
token's `scope` claim (only ours: read write upload admin; none of ours means read only).
"""

from __future__ import annotations

import asyncio

import jwt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.auth import (
    LAST_USED_EVERY,
    SCOPES,
    AuthError,
    Principal,
    mark_written,
    principal_of,
)
from server.core.config import Settings
from server.core.db import utcnow
from server.models import Account, OidcIdentity
from server.models.enums import AccountRole

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]


class OidcVerifier:
    def __init__(self, settings: Settings) -> None:
        if not settings.oidc_issuer or not settings.oidc_jwks_url:
            raise ValueError("OIDC needs both SATREPS_OIDC_ISSUER and SATREPS_OIDC_JWKS_URL")
        self.issuer = settings.oidc_issuer
        self.audience = settings.oidc_audience
        self.username_claim = settings.oidc_username_claim
        self.role_claim = settings.oidc_role_claim
        self.default_role = AccountRole(settings.oidc_default_role)
        lifespan = max(settings.oidc_jwks_cache_seconds, 1)
        self._keys = jwt.PyJWKClient(
            settings.oidc_jwks_url,
            cache_jwk_set=settings.oidc_jwks_cache_seconds > 0,
            lifespan=lifespan,
            timeout=10,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcVerifier | None:
        return cls(settings) if settings.oidc_issuer else None

    async def claims(self, token: str) -> dict[str, object]:
        """Verified claims: signature by a key of the issuer's JWKS, iss, exp, aud."""
        try:
            # the JWKS fetch is blocking I/O (cached afterwards)
            key = await asyncio.to_thread(self._keys.get_signing_key_from_jwt, token)
            return dict(
                jwt.decode(
                    token,
                    key.key,
                    algorithms=ALGORITHMS,
                    issuer=self.issuer,
                    audience=self.audience,
                    options={
                        "require": ["exp", "iss", "sub"],
                        "verify_aud": self.audience is not None,
                    },
                    leeway=30,
                )
            )
        except jwt.PyJWKClientConnectionError:
            raise AuthError("the identity provider's keys are unreachable") from None
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except (jwt.PyJWKClientError, jwt.InvalidTokenError) as error:
            raise AuthError(f"invalid token: {error}") from None

    async def authenticate(self, session: AsyncSession, token: str) -> Principal:
        claims = await self.claims(token)
        subject = str(claims["sub"])
        found = (
            await session.execute(
                select(OidcIdentity, Account)
                .join(Account, Account.id == OidcIdentity.account_id)
                .where(OidcIdentity.issuer == self.issuer, OidcIdentity.subject == subject)
            )
        ).first()
        now = utcnow()
        if found is None:
            account = await self._new_account(session, claims, subject)
        else:
            identity, account = found
            if identity.last_seen_at <= now - LAST_USED_EVERY:
                identity.last_seen_at = now
                await session.flush()
                mark_written(session)
        return principal_of(account, _scopes(claims.get("scope")))

    async def _new_account(
        self, session: AsyncSession, claims: dict[str, object], subject: str
    ) -> Account:
        username = str(claims.get(self.username_claim) or f"oidc:{subject}")[:100]
        if await session.scalar(select(Account.id).where(Account.username == username)):
            raise AuthError(f"the account name {username!r} belongs to another account")
        raw_role = claims.get(self.role_claim)
        try:
            role = AccountRole(str(raw_role)) if raw_role is not None else self.default_role
        except ValueError:
            raise AuthError(f"unknown role {raw_role!r} in claim {self.role_claim}") from None
        account = Account(username=username, role=role)
        session.add(account)
        await session.flush()
        session.add(OidcIdentity(account_id=account.id, issuer=self.issuer, subject=subject))
        await session.flush()
        mark_written(session)
        return account


def _scopes(raw: object) -> frozenset[str]:
    words = str(raw).split() if isinstance(raw, str) else []
    ours = frozenset(w for w in words if w in SCOPES)
    return ours or frozenset({"read"})


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and not token.startswith("sh_")
