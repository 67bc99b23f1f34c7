"""API tokens and principals. Tokens are random, shown once and stored as sha256."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.errors import AccessErrorCode
from server.core.db import utcnow
from server.core.errors import DomainError, NotFound
from server.core.global_ids import global_id
from server.models import Account, ApiToken, Institution, Researcher
from server.models.enums import AccountRole

log = logging.getLogger(__name__)

TOKEN_PREFIX = "sh_"
# read: queries and subscriptions; write: the research graph's mutations; upload: datasets
# and their files; admin: an admin account's powers (without it an admin acts as nobody).
SCOPES = ("read", "write", "upload", "admin")
ALL_SCOPES = frozenset(SCOPES)
LAST_USED_EVERY = dt.timedelta(minutes=1)


def default_scopes(role: AccountRole) -> tuple[str, ...]:
    return SCOPES if role == AccountRole.ADMIN else ("read", "write", "upload")


def parse_scopes(raw: str | list[str] | tuple[str, ...] | None) -> frozenset[str]:
    """Scopes from a space-separated string or a list; unknown names are refused."""
    words = raw.split() if isinstance(raw, str) else list(raw or [])
    if unknown := sorted(set(words) - ALL_SCOPES):
        raise DomainError.one(
            AccessErrorCode.INVALID_SCOPE,
            f"unknown scopes {unknown}; known: {' '.join(SCOPES)}",
            "scopes",
        )
    return frozenset(words)


@dataclass(frozen=True)
class Principal:
    account_id: int | None = None
    role: AccountRole | None = None
    researcher_id: int | None = None
    institution_id: int | None = None
    username: str | None = None
    scopes: frozenset[str] = ALL_SCOPES

    @property
    def is_authenticated(self) -> bool:
        return self.account_id is not None

    @property
    def is_admin(self) -> bool:
        return self.has_role(AccountRole.ADMIN)

    @property
    def is_staff(self) -> bool:
        """Admins and program managers: they read all metadata and steer the programme."""
        return self.has_role(AccountRole.ADMIN, AccountRole.PROGRAM_MANAGER)

    def has_role(self, *roles: AccountRole) -> bool:
        """The account has one of the roles; an admin's powers also need the admin scope."""
        if self.role not in roles:
            return False
        return self.role != AccountRole.ADMIN or "admin" in self.scopes

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def actor(self) -> str:
        return self.username or ("anonymous" if self.account_id is None else f"#{self.account_id}")


ANONYMOUS = Principal()


class AuthError(Exception):
    """The credentials presented are unusable (not the same as missing)."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class AccountChange:
    what: str  # role, researcher, institution
    before: str
    after: str

    def __str__(self) -> str:
        return f"{self.what} {self.before} -> {self.after}"


def _link(type_name: str, pk: int | None) -> str:
    return "none" if pk is None else f"{type_name} {global_id(type_name, pk)} ({pk})"


def _changes(
    account: Account, role: AccountRole, researcher_id: int | None, institution_id: int | None
) -> list[AccountChange]:
    changes = []
    if account.role != role:
        changes.append(AccountChange("role", account.role.value, role.value))
    for what, type_name, old, new in (
        ("researcher", "Researcher", account.researcher_id, researcher_id),
        ("institution", "Institution", account.institution_id, institution_id),
    ):
        if new is not None and new != old:
            changes.append(AccountChange(what, _link(type_name, old), _link(type_name, new)))
    return changes


async def provision_account(
    session: AsyncSession,
    username: str,
    role: AccountRole,
    *,
    researcher_id: int | None = None,
    institution_id: int | None = None,
    update_existing: bool = False,
) -> tuple[Account, bool, list[AccountChange]]:
    """The account of that name, created if new: (account, created, what changed). An
    existing account whose role or links would change is refused (ACCOUNT_EXISTS, saying
    what would change: its tokens would act as the changed account) unless `update_existing`."""
    if researcher_id is not None and await session.get(Researcher, researcher_id) is None:
        raise NotFound("researcher", "researcherId")
    if institution_id is not None and await session.get(Institution, institution_id) is None:
        raise NotFound("institution", "institutionId")
    account = await session.scalar(select(Account).where(Account.username == username))
    if account is None:
        account = Account(
            username=username, role=role, researcher_id=researcher_id, institution_id=institution_id
        )
        session.add(account)
        await session.flush()
        return account, True, []
    changes = _changes(account, role, researcher_id, institution_id)
    if changes and not update_existing:
        raise DomainError.one(
            AccessErrorCode.ACCOUNT_EXISTS,
            f"account {username!r} exists and would change ({'; '.join(map(str, changes))});"
            " its tokens would act as the changed account: ask for it with --update-account",
            "user",
        )
    account.role = role
    if researcher_id is not None:
        account.researcher_id = researcher_id
    if institution_id is not None:
        account.institution_id = institution_id
    await session.flush()
    return account, False, changes


async def ensure_account(
    session: AsyncSession,
    username: str,
    role: AccountRole,
    *,
    researcher_id: int | None = None,
    institution_id: int | None = None,
) -> Account:
    """The account of that name, created or changed to match (tests' and benchmarks'
    fixtures; the command line refuses silent changes: provision_account)."""
    account, _, _ = await provision_account(
        session,
        username,
        role,
        researcher_id=researcher_id,
        institution_id=institution_id,
        update_existing=True,
    )
    return account


async def active_tokens(session: AsyncSession, account: Account) -> int:
    now = utcnow()
    return int(
        await session.scalar(
            select(func.count()).where(
                ApiToken.account_id == account.id,
                ApiToken.revoked_at.is_(None),
                ApiToken.expires_at > now,
            )
        )
        or 0
    )


async def issue_token(
    session: AsyncSession,
    account: Account,
    *,
    ttl: dt.timedelta,
    name: str | None = None,
    scopes: list[str] | tuple[str, ...] | None = None,
) -> tuple[ApiToken, str]:
    """Returns the row and the plaintext token; the plaintext is never stored.
    Scopes default to all the account's role can use."""
    if ttl <= dt.timedelta(0):
        raise DomainError.one(
            AccessErrorCode.INVALID_EXPIRY, "token lifetime must be positive", "ttl"
        )
    chosen = parse_scopes(scopes) if scopes else frozenset(default_scopes(account.role))
    if not chosen:
        raise DomainError.one(
            AccessErrorCode.INVALID_SCOPE, "a token needs at least one scope", "scopes"
        )
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        account_id=account.id,
        token_hash=hash_token(plaintext),
        prefix=plaintext[:10],
        name=name,
        expires_at=utcnow() + ttl,
        scopes=" ".join(s for s in SCOPES if s in chosen),
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


def principal_of(account: Account, scopes: frozenset[str]) -> Principal:
    return Principal(
        account_id=account.id,
        role=account.role,
        researcher_id=account.researcher_id,
        institution_id=account.institution_id,
        username=account.username,
        scopes=scopes,
    )


# built once: constructing the statement costs more than running it. The compiled read
# path's fast plans add their fields to it (schema/compiled/fast.py), so a request with a
# known token is one statement; TOKEN_WIDTH columns of the token and its account come first.
TOKEN_LOOKUP = (
    select(
        ApiToken.id,
        ApiToken.revoked_at,
        ApiToken.expires_at,
        ApiToken.last_used_at,
        ApiToken.scopes,
        Account.id,
        Account.role,
        Account.researcher_id,
        Account.institution_id,
        Account.username,
    )
    .join(Account, Account.id == ApiToken.account_id)
    .where(ApiToken.token_hash == bindparam("token_hash", ""))
)
TOKEN_WIDTH = 10


@dataclass(frozen=True)
class TokenCheck:
    principal: Principal
    token_id: int
    stale: bool  # its last-used time is due to be written


def check_token(row: Any, now: dt.datetime | None = None) -> TokenCheck:
    """The principal of a row of TOKEN_LOOKUP, or AuthError (revoked, expired)."""
    token_id, revoked_at, expires_at, last_used_at, scopes, *account = row[:TOKEN_WIDTH]
    if revoked_at is not None:
        raise AuthError("token revoked")
    now = now or utcnow()
    if expires_at <= now:
        raise AuthError("token expired")
    account_id, role, researcher_id, institution_id, username = account
    principal = Principal(
        account_id=account_id,
        role=role,
        researcher_id=researcher_id,
        institution_id=institution_id,
        username=username,
        scopes=frozenset(scopes.split()),
    )
    stale = last_used_at is None or last_used_at <= now - LAST_USED_EVERY
    return TokenCheck(principal, token_id, stale)


async def authenticate(session: AsyncSession, token: str) -> Principal:
    """The principal of an API token, in one small SELECT of the columns it needs. Notes
    when the token was last used (at most once a minute, so a busy client costs one small
    UPDATE a minute, not one per request) and marks the session as written then."""
    found = (await session.execute(TOKEN_LOOKUP, {"token_hash": hash_token(token)})).first()
    if found is None:
        raise AuthError("invalid token")
    now = utcnow()
    check = check_token(found, now)
    if check.stale:
        note = (
            update(ApiToken)
            .where(
                ApiToken.id == check.token_id,
                or_(
                    ApiToken.last_used_at.is_(None),
                    ApiToken.last_used_at <= now - LAST_USED_EVERY,
                ),
            )
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        try:
            async with session.begin_nested():
                await session.execute(note)
        except OperationalError as error:
            # SQLite refuses a reading transaction the write lock at once while another
            # connection writes (server/core/db.py, begin_write): the note waits for the
            # token's next request rather than failing this one
            if "database is locked" not in str(error):
                raise
            log.info("token %s: last use not noted, the database is busy", check.token_id)
        else:
            mark_written(session)
    return check.principal


_WROTE = "satreps.auth.wrote"


def mark_written(session: AsyncSession) -> None:
    """Authentication wrote (a last-used time, a new identity): the caller commits it."""
    session.info[_WROTE] = True


def take_written(session: AsyncSession) -> bool:
    """Whether authentication wrote since last asked (and forget it)."""
    return bool(session.info.pop(_WROTE, False))
