"""Notifications by e-mail on real parts, on SQLite and PostgreSQL: a real SMTP server
(aiosmtpd) receives each recipient's mail in their language, a bounce stops further mail, the
daily digest gathers an account's waiting items; preferences through GraphQL; the message
catalogues hold every message of the code. Webhooks and the outbox are in
test_notifications.py."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.access.auth import Principal, ensure_account
from server.core.config import Settings
from server.models import Delivery, NotificationPreference
from server.models.enums import AccountRole, MemberRole
from server.notifications import service
from server.notifications.dispatch import Dispatcher
from server.notifications.messages import catalogues
from tests.factories import Factory
from tests.fixtures.dispatching import (
    announce,
    mail_settings,
    notify_settings,
    quiet_project,
    rows,
    settle,
)
from tests.fixtures.notify import Smtp, text_of

_seq = itertools.count(1)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Loopback receivers allowed (tests only), retries without waiting."""
    return notify_settings(tmp_path)


# ---- e-mail --------------------------------------------------------------------------------


async def member_account(
    sessions: async_sessionmaker[AsyncSession],
    factory: Factory,
    project_id: int,
    *,
    email: str,
    language: str = "en",
    mode: str = "each",
) -> Principal:
    person = await factory.researcher()
    await factory.member(project_id, person.id, MemberRole.MEMBER)
    async with sessions() as session:
        account = await ensure_account(
            session, f"mail-{next(_seq)}", AccountRole.RESEARCHER, researcher_id=person.id
        )
        await session.commit()
    principal = Principal(
        account_id=account.id, role=AccountRole.RESEARCHER, researcher_id=person.id
    )
    async with sessions() as session:
        await service.set_preferences(session, principal, email=email, language=language, mode=mode)
        await session.commit()
    return principal


async def test_email_in_each_recipients_language_and_a_bounce_stops_further_mail(
    sessions, factory, settings, smtp_server: Smtp
):
    mailing = mail_settings(settings, smtp_server)
    project = await quiet_project(sessions, factory, mailing)
    await member_account(sessions, factory, project.id, email="en@example.org")
    await member_account(sessions, factory, project.id, email="ja@example.org", language="ja-JP")
    bouncer = await member_account(sessions, factory, project.id, email="bounce@example.org")
    await member_account(sessions, factory, project.id, email="quiet@example.org", mode="none")
    await announce(sessions, project.id)
    await settle(sessions, mailing)

    box = smtp_server.mailbox
    [en] = box.to("en@example.org")
    [ja] = box.to("ja@example.org")
    assert en["Subject"] == "Version 1 of dataset 7 was published"
    assert "is published and can be cited" in text_of(en)
    assert ja["Content-Language"] == "ja"
    assert str(ja["Subject"]) == "データセット 7 のバージョン 1 が公開されました"
    assert "公開され、引用できるようになりました" in text_of(ja)
    assert en["X-Satreps-Delivery"] != ja["X-Satreps-Delivery"]
    assert box.to("quiet@example.org") == [] and box.refused == ["bounce@example.org"]
    [bounced] = await rows(sessions, Delivery, Delivery.account_id == bouncer.account_id)
    assert (bounced.state, bounced.last_code, bounced.last_status) == (
        "failed",
        "EMAIL_BOUNCED",
        550,
    )
    [pref] = await rows(
        sessions, NotificationPreference, NotificationPreference.account_id == bouncer.account_id
    )
    assert pref.bounced_at is not None and "550" in (pref.bounce_message or "")

    await announce(sessions, project.id)  # the bounced address is not tried again
    await settle(sessions, mailing)
    assert box.refused == ["bounce@example.org"] and len(box.to("en@example.org")) == 2
    suppressed = await rows(sessions, Delivery, Delivery.account_id == bouncer.account_id)
    assert [(d.state, d.last_code) for d in suppressed] == [
        ("failed", "EMAIL_BOUNCED"),
        ("failed", "EMAIL_SUPPRESSED"),
    ]
    async with sessions() as session:  # setting the address again clears the bounce
        pref = await service.set_preferences(session, bouncer, email="bounce@example.org")
        await session.commit()
    assert pref.bounced_at is None


async def test_the_daily_digest_gathers_an_accounts_waiting_items_into_one_mail(
    sessions, factory, settings, smtp_server: Smtp
):
    mailing = mail_settings(settings, smtp_server)
    project = await quiet_project(sessions, factory, mailing)
    await member_account(
        sessions, factory, project.id, email="digest@example.org", language="ja", mode="digest"
    )
    await announce(sessions, project.id, n=2)
    await settle(sessions, mailing)
    assert smtp_server.mailbox.messages == []
    dispatcher = Dispatcher(mailing, sessions)
    assert await dispatcher.send_digests() == 1
    assert await dispatcher.send_digests() == 0  # nothing sent twice
    [digest] = smtp_server.mailbox.to("digest@example.org")
    assert str(digest["Subject"]) == "SATREPS Hub: 本日の通知 2 件"
    body = text_of(digest)
    assert "データセット 7 のバージョン 1" in body and "データセット 7 のバージョン 2" in body
    assert {d.state for d in await rows(sessions, Delivery)} == {"delivered"}


async def test_preferences_through_graphql(gql, make_token):
    me = gql.as_(await make_token(AccountRole.RESEARCHER))
    set_ = """mutation($input: NotificationPreferencesInput!) {
      setNotificationPreferences(input: $input) {
        preferences { mode email language } errors { field code }
      }
    }"""
    done = (
        await me(set_, {"input": {"mode": "DIGEST", "language": "ja-jp", "email": "a@example.org"}})
    )["setNotificationPreferences"]
    assert done == {
        "preferences": {"mode": "DIGEST", "email": "a@example.org", "language": "ja-JP"},
        "errors": [],
    }
    bad = (await me(set_, {"input": {"email": "not-an-address"}}))["setNotificationPreferences"]
    assert bad["errors"] == [{"field": "email", "code": "INVALID_EMAIL"}]
    read = await me("{ notificationPreferences { mode email language } }")
    assert read["notificationPreferences"]["mode"] == "DIGEST"


# ---- the messages' catalogues --------------------------------------------------------------


def test_the_template_and_catalogues_hold_every_message_of_the_code():
    """notifications.pot is what `pybabel extract -k N_` finds (README), and each language's
    catalogue has every message of it."""
    from babel.messages.extract import extract_from_file
    from babel.messages.pofile import read_po

    from server.notifications.messages import LOCALES_DIR

    package = Path(__file__).parents[2] / "server" / "notifications"
    found = {
        message
        for name in ("events.py", "messages.py")
        for _, message, _, _ in extract_from_file("python", package / name, keywords={"N_": None})
    }
    with (LOCALES_DIR / "notifications.pot").open("rb") as f:
        template = {m.id for m in read_po(f) if m.id}
    assert template == found
    for language, messages in catalogues().items():
        assert set(messages) == found, language
