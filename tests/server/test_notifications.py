"""Notifications on real parts, on SQLite and PostgreSQL: the outbox written in the caller's
transaction, webhooks POSTed to a real HTTP receiver that checks each signature, e-mail
through a real SMTP server (aiosmtpd) in each recipient's language, and the faults: a
receiver that answers 500 forever or hangs, a dispatcher killed mid-delivery, a bounce."""

from __future__ import annotations

import asyncio
import itertools
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.access.auth import Principal, ensure_account
from server.core.config import Settings
from server.core.errors import DomainError
from server.core.global_ids import global_id
from server.models import (
    Delivery,
    DeliveryAttempt,
    NotificationPreference,
    OutboxEvent,
    WebhookSubscription,
)
from server.models.enums import AccountRole, MemberRole
from server.notifications import service
from server.notifications.dispatch import Dispatcher, fan_out
from server.notifications.events import EVENTS, emit
from server.notifications.messages import catalogues
from server.storage import store_from_settings
from tests.factories import Factory
from tests.fixtures.notify import Receiver, ReceiverServer, Smtp, text_of
from tests.fixtures.provenance import dataset_draft, process, publish, send, team, worker_ctx
from workers.notifications import deliver_notifications_job

_seq = itertools.count(1)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Loopback receivers allowed (tests only), retries without waiting."""
    return Settings(
        database_url="sqlite+aiosqlite:///unused.db",
        object_dir=tmp_path / "objects",
        prov_copy_window_seconds=0.05,
        webhook_allow_private=True,
        webhook_backoff_seconds=0.01,
        webhook_backoff_max_seconds=0.02,
        webhook_timeout_seconds=2.0,
        notify_claim_seconds=30.0,
    )


def mail_settings(settings: Settings, smtp: Smtp) -> Settings:
    return settings.model_copy(
        update={"smtp_host": smtp.host, "smtp_port": smtp.port, "smtp_tls": "none"}
    )


async def settle(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    """Run a dispatcher until no delivery is due or waiting for a retry."""
    dispatcher = Dispatcher(settings, sessions)
    try:
        for _ in range(500):
            made = await dispatcher.run_once()
            async with sessions() as session:
                waiting = await session.scalar(
                    select(func.count(Delivery.id))
                    .join(WebhookSubscription, isouter=True)
                    .where(
                        Delivery.state == "pending",
                        (WebhookSubscription.enabled.is_(True)) | (Delivery.account_id.isnot(None)),
                    )
                )
            if not waiting and not made:
                return
            if not made:
                await asyncio.sleep(0.02)
        raise AssertionError("deliveries still pending")
    finally:
        await dispatcher.aclose()


async def quiet_project(
    sessions: async_sessionmaker[AsyncSession], factory: Factory, settings: Settings
) -> Any:
    """A project whose creation's own events (its phase changes) are already fanned out."""
    project = await factory.project()
    while await fan_out(sessions, settings):
        pass
    return project


async def subscribe(
    sessions: async_sessionmaker[AsyncSession],
    factory: Factory,
    settings: Settings,
    project_id: int,
    receiver: Receiver,
    events: list[str] | None = None,
) -> WebhookSubscription:
    async with sessions() as session:
        created = await service.create_webhook(
            session,
            factory.principal,
            settings,
            url=receiver.url,
            project_id=project_id,
            events=events,
        )
        await session.commit()
    receiver.secret = created.secret
    return created.subscription


async def announce(
    sessions: async_sessionmaker[AsyncSession], project_id: int, n: int = 1, **payload: Any
) -> None:
    async with sessions() as session:
        for i in range(n):
            emit(
                session,
                "version.published",
                project_id=project_id,
                dataset_id=7,
                payload={"number": i + 1, **payload},
            )
        await session.commit()


async def rows(sessions: async_sessionmaker[AsyncSession], model: Any, *where: Any) -> list[Any]:
    async with sessions() as session:
        key = getattr(model, "id", None) or model.account_id
        return list(await session.scalars(select(model).where(*where).order_by(key)))


# ---- the outbox ----------------------------------------------------------------------------


async def test_an_event_is_written_with_the_callers_work_or_not_at_all(sessions):
    marker = {"marker": "rolled-back"}
    async with sessions() as session:
        emit(session, "upload.ready", upload_id=1, payload=marker)
        await session.rollback()
    async with sessions() as session:
        emit(session, "upload.ready", upload_id=2, payload={"marker": "kept"})
        await session.commit()
    kept = await rows(sessions, OutboxEvent, OutboxEvent.event == "upload.ready")
    assert [r.payload["marker"] for r in kept] == ["kept"]
    async with sessions() as session:
        with pytest.raises(DomainError) as refused:
            emit(session, "upload.exploded", payload={})
    assert refused.value.details[0].code == "UNKNOWN_EVENT"


async def test_the_registered_events_include_the_access_events():
    assert {
        "access.requested",
        "access.approved",
        "access.denied",
        "access.expiring",
        "access.revoked",
    } <= set(EVENTS)


async def test_every_event_has_english_and_japanese_messages_with_the_same_placeholders():
    found = catalogues()
    assert {"en", "ja"} <= set(found)
    for kind in EVENTS.values():
        for msgid in (kind.subject, kind.body):
            ja = found["ja"].get(msgid)
            assert ja and ja != msgid, msgid
            assert set(re.findall(r"\{\w+\}", ja)) == set(re.findall(r"\{\w+\}", msgid))


async def test_a_phase_change_is_an_event(sessions, factory):
    project = await factory.project()
    changes = await rows(
        sessions,
        OutboxEvent,
        OutboxEvent.event == "project.phase_changed",
        OutboxEvent.project_id == project.id,
    )
    assert changes[-1].payload["to_phase"] == "implementation"
    assert changes[0].payload["accountId"] == factory.principal.account_id


async def test_upload_ready_and_version_published_are_events_of_the_dataset(
    sessions, factory, settings
):
    who = await team(sessions, factory)
    dataset_id, version_id = await dataset_draft(sessions, who)
    store = store_from_settings(settings)
    await store.ensure_buckets()
    upload_id = await send(sessions, store, who, version_id)
    assert await process(worker_ctx(sessions, store, settings), upload_id) == "ready"
    await publish(sessions, who, version_id)
    while await fan_out(sessions, settings):
        pass
    ready = await rows(sessions, OutboxEvent, OutboxEvent.upload_id == upload_id)
    assert [(r.event, r.payload["filename"]) for r in ready] == [("upload.ready", "levels.csv")]
    # the fan-out filled in what the state machine did not know
    assert (ready[0].dataset_id, ready[0].project_id) == (dataset_id, who.project_id)
    published = await rows(
        sessions,
        OutboxEvent,
        OutboxEvent.event == "version.published",
        OutboxEvent.dataset_id == dataset_id,
    )
    assert published[0].payload["number"] == 1


# ---- webhooks ------------------------------------------------------------------------------

CREATE = """mutation($input: CreateWebhookInput!) {
  createWebhook(input: $input) {
    webhook { id url enabled events } secret errors { field code message }
  }
}"""
DELIVERIES = """query($id: ID!) {
  webhookDeliveries(webhookId: $id) {
    deliveryId event state attempts lastStatus
    log { attempt ok status code response }
  }
}"""
REDELIVER = """mutation($id: String!) {
  redeliverWebhook(deliveryId: $id) { deliveryId errors { code } }
}"""


async def test_a_signed_webhook_reaches_a_real_receiver_and_can_be_redelivered(
    sessions, factory, settings, admin, receivers: ReceiverServer
):
    project = await quiet_project(sessions, factory, settings)
    receiver = receivers.add("ok")
    created = (
        await admin(
            CREATE,
            {"input": {"url": receiver.url, "projectId": global_id("Project", project.id)}},
        )
    )["createWebhook"]
    assert created["errors"] == [] and created["secret"].startswith("whsec_")
    receiver.secret = created["secret"]
    await announce(sessions, project.id, title="River levels")
    await settle(sessions, settings)

    [got] = receiver.got
    assert got.signed and got.event == "version.published"
    assert got.body["deliveryId"] == got.delivery_id
    assert got.body["data"] == {"number": 1, "title": "River levels"}
    assert got.body["projectId"] == project.id
    [delivery] = (await admin(DELIVERIES, {"id": created["webhook"]["id"]}))["webhookDeliveries"]
    assert delivery["deliveryId"] == got.delivery_id
    assert (delivery["state"], delivery["lastStatus"]) == ("delivered", 204)
    assert delivery["log"] == [
        {"attempt": 1, "ok": True, "status": 204, "code": None, "response": ""}
    ]

    again = (await admin(REDELIVER, {"id": got.delivery_id}))["redeliverWebhook"]
    assert again == {"deliveryId": got.delivery_id, "errors": []}
    await settle(sessions, settings)
    assert [g.delivery_id for g in receiver.got] == [got.delivery_id] * 2
    assert all(g.signed for g in receiver.got)
    missing = (await admin(REDELIVER, {"id": "no-such-delivery"}))["redeliverWebhook"]
    assert missing["errors"] == [{"code": "NOT_FOUND"}]


async def test_only_the_projects_managers_subscribe(
    sessions, factory, settings, gql, make_token, receivers
):
    project = await quiet_project(sessions, factory, settings)
    outsider = gql.as_(await make_token(AccountRole.RESEARCHER))
    answer = (
        await outsider(
            CREATE,
            {
                "input": {
                    "url": receivers.add("x").url,
                    "projectId": global_id("Project", project.id),
                }
            },
        )
    )["createWebhook"]
    assert [e["code"] for e in answer["errors"]] == ["FORBIDDEN"]
    assert await rows(sessions, WebhookSubscription) == []


async def test_the_audit_log_names_a_webhook_by_the_id_the_api_gives_it(
    sessions, factory, settings, admin
):
    """issue 18 item 18: a webhook's audit rows carry its Webhook global id (not the model's
    name, WebhookSubscription, which no query answers)."""
    project = await quiet_project(sessions, factory, settings)
    url = "http://127.0.0.1:9/hook"  # never called: nothing is announced
    created = (
        await admin(CREATE, {"input": {"url": url, "projectId": global_id("Project", project.id)}})
    )["createWebhook"]
    webhook = created["webhook"]["id"]
    toggle = """mutation($id: ID!) { setWebhookEnabled(id: $id, enabled: false) { errors { code } }
        deleteWebhook(id: $id) { errors { code } } }"""
    assert (await admin(toggle, {"id": webhook})) == {
        "setWebhookEnabled": {"errors": []},
        "deleteWebhook": {"errors": []},
    }
    log = """query($id: ID) { auditLog(filter: {targetId: $id}) {
        nodes { action targetType targetId } } }"""
    assert (await admin(log, {"id": webhook}))["auditLog"]["nodes"] == [
        {"action": action, "targetType": "Webhook", "targetId": webhook}
        for action in ("createWebhook", "setWebhookEnabled", "deleteWebhook")
    ]


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://example.org/hook", "URL_SCHEME_NOT_ALLOWED"),
        ("javascript:alert(1)", "URL_SCHEME_NOT_ALLOWED"),
        ("http://127.0.0.1:9/hook", "PRIVATE_ADDRESS"),
        ("http://localhost/hook", "PRIVATE_ADDRESS"),
        ("http://10.1.2.3/hook", "PRIVATE_ADDRESS"),
        ("http://169.254.169.254/latest/meta-data", "PRIVATE_ADDRESS"),
        ("http://[::1]/hook", "PRIVATE_ADDRESS"),
        ("http://[::ffff:192.168.0.1]/hook", "PRIVATE_ADDRESS"),
        ("http://100.64.0.1/hook", "PRIVATE_ADDRESS"),
        ("http://user:pw@example.org/hook", "INVALID_URL"),
        ("http://no-such-host.invalid/hook", "UNRESOLVABLE_HOST"),
    ],
)
async def test_a_webhook_url_must_be_http_and_public_without_the_operator_setting(
    sessions, factory, settings, url, code
):
    project = await quiet_project(sessions, factory, settings)
    strict = settings.model_copy(update={"webhook_allow_private": False})
    async with sessions() as session:
        with pytest.raises(DomainError) as refused:
            await service.create_webhook(
                session, factory.principal, strict, url=url, project_id=project.id
            )
        await session.rollback()
    assert refused.value.details[0].code == code
    assert await rows(sessions, WebhookSubscription) == []  # nothing half-written


async def test_an_address_checked_at_subscription_is_checked_again_at_delivery(
    sessions, factory, settings, receivers
):
    project = await quiet_project(sessions, factory, settings)
    receiver = receivers.add("ok")
    await subscribe(sessions, factory, settings, project.id, receiver)
    await announce(sessions, project.id)
    strict = settings.model_copy(update={"webhook_allow_private": False, "webhook_max_attempts": 1})
    await settle(sessions, strict)
    assert receiver.calls == 0
    [delivery] = await rows(sessions, Delivery)
    assert (delivery.state, delivery.last_code) == ("failed", "PRIVATE_ADDRESS")


async def test_a_receiver_that_answers_500_forever_ends_disabled_with_every_attempt_logged(
    sessions, factory, settings, receivers
):
    project = await quiet_project(sessions, factory, settings)
    broken = receivers.add("broken", "fail")
    sub = await subscribe(sessions, factory, settings, project.id, broken)
    failing = settings.model_copy(update={"webhook_disable_after": 3, "webhook_max_attempts": 10})
    await announce(sessions, project.id)
    await settle(sessions, failing)

    [after] = await rows(sessions, WebhookSubscription, WebhookSubscription.id == sub.id)
    assert not after.enabled and after.consecutive_failures == 3
    assert "3 consecutive failed attempts" in (after.disabled_reason or "")
    [delivery] = await rows(sessions, Delivery)
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("pending", 3, 500)
    log = await rows(sessions, DeliveryAttempt)
    assert [(a.attempt, a.ok, a.status, a.code, a.response) for a in log] == [
        (n, False, 500, "HTTP_ERROR", "receiver broken") for n in (1, 2, 3)
    ]
    assert broken.calls == 3
    [notice] = await rows(sessions, OutboxEvent, OutboxEvent.event == "webhook.disabled")
    assert notice.recipients == [factory.principal.account_id]
    assert notice.payload["subscription_id"] == sub.id
    # a disabled webhook is not redelivered until enabled again
    async with sessions() as session:
        with pytest.raises(DomainError) as refused:
            await service.redeliver(session, factory.principal, delivery.delivery_id)
    assert refused.value.details[0].code == "WEBHOOK_DISABLED"


async def test_a_receiver_that_hangs_times_out_and_holds_up_no_other(
    sessions, factory, settings, receivers
):
    project = await quiet_project(sessions, factory, settings)
    stuck, fine = receivers.add("stuck", "hang"), receivers.add("fine")
    await subscribe(sessions, factory, settings, project.id, stuck)
    await subscribe(sessions, factory, settings, project.id, fine)
    await announce(sessions, project.id)
    quick = settings.model_copy(update={"webhook_timeout_seconds": 0.5, "webhook_max_attempts": 1})
    await settle(sessions, quick)

    assert len(fine.got) == 1 and fine.got[0].signed
    log = await rows(sessions, DeliveryAttempt)
    assert [(a.ok, a.code) for a in log] == [(True, None), (False, "TIMEOUT")]  # in this order:
    # the fine receiver's outcome was recorded before the stuck one's attempt ended


async def test_a_dispatcher_killed_mid_delivery_is_replaced_with_the_same_delivery_id(
    sessions, factory, settings, receivers
):
    project = await quiet_project(sessions, factory, settings)
    receiver = receivers.add("slow-once", "hang_first")
    await subscribe(sessions, factory, settings, project.id, receiver)
    await announce(sessions, project.id)
    short = settings.model_copy(update={"notify_claim_seconds": 0.5})
    first = Dispatcher(short, sessions, owner="worker-a")
    killed = asyncio.create_task(first.run_once())
    for _ in range(500):
        if receiver.calls:
            break
        await asyncio.sleep(0.01)
    killed.cancel()  # the worker dies holding the claim: nothing recorded
    with pytest.raises(asyncio.CancelledError):
        await killed
    await first.aclose()
    [held] = await rows(sessions, Delivery)
    assert (held.state, held.claimed_by, held.attempts) == ("pending", "worker-a", 1)

    second = Dispatcher(short, sessions, owner="worker-b")
    assert await second.run_once() == 0  # the claim still holds
    await asyncio.sleep(0.6)
    assert await second.run_once() == 1
    await second.aclose()
    [done] = await rows(sessions, Delivery)
    assert (done.state, done.attempts) == ("delivered", 2)
    assert receiver.seen[done.delivery_id] == 2  # seen twice, with one delivery id
    assert [g.delivery_id for g in receiver.got] == [done.delivery_id]
    assert [(a.worker, a.ok) for a in await rows(sessions, DeliveryAttempt)] == [("worker-b", True)]


async def test_the_cron_finds_its_work_in_the_database_not_in_redis(
    sessions, factory, settings, receivers
):
    """The worker's cron body gets no Redis at all: whatever a flushed Redis held, the
    outbox rows and due deliveries are found in the database."""
    project = await quiet_project(sessions, factory, settings)
    receiver = receivers.add("ok")
    await subscribe(sessions, factory, settings, project.id, receiver)
    await announce(sessions, project.id, n=3)
    ctx = worker_ctx(sessions, store_from_settings(settings), settings)
    assert "redis" not in ctx
    assert await deliver_notifications_job(ctx) == 3
    assert len({g.delivery_id for g in receiver.got}) == 3


async def test_subscriptions_filter_events(sessions, factory, settings, receivers):
    project = await quiet_project(sessions, factory, settings)
    picky = receivers.add("picky")
    await subscribe(sessions, factory, settings, project.id, picky, events=["upload.failed"])
    await announce(sessions, project.id)
    await settle(sessions, settings)
    assert picky.calls == 0
    async with sessions() as session:
        with pytest.raises(DomainError) as refused:
            await service.create_webhook(
                session,
                factory.principal,
                settings,
                url=picky.url,
                project_id=project.id,
                events=["upload.exploded"],
            )
    assert refused.value.details[0].code == "UNKNOWN_EVENT"


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


async def test_enabling_a_disabled_webhook_sends_what_waited(
    sessions, factory, settings, receivers
):
    project = await quiet_project(sessions, factory, settings)
    receiver = receivers.add("flaky", "fail")
    sub = await subscribe(sessions, factory, settings, project.id, receiver)
    failing = settings.model_copy(update={"webhook_disable_after": 1})
    await announce(sessions, project.id)
    await settle(sessions, failing)
    [waiting] = await rows(sessions, Delivery)
    assert (waiting.state, receiver.calls) == ("pending", 1)
    receiver.behaviour = "ok"
    async with sessions() as session:
        enabled = await service.set_webhook_enabled(session, factory.principal, sub.id, True)
        await session.commit()
    assert enabled.disabled_reason is None and enabled.consecutive_failures == 0
    await settle(sessions, failing)
    assert [g.delivery_id for g in receiver.got] == [waiting.delivery_id]
    [done] = await rows(sessions, Delivery)
    assert (done.state, done.attempts) == ("delivered", 2)


async def test_an_institutions_webhooks_are_its_own_accounts_and_staffs(
    sessions, factory, settings, receivers
):
    own, other = await factory.institution(), await factory.institution()
    receiver = receivers.add("inst")
    async with sessions() as session:
        mine = await ensure_account(
            session, f"inst-{next(_seq)}", AccountRole.INSTITUTION_UPLOADER, institution_id=own.id
        )
        theirs = await ensure_account(
            session, f"inst-{next(_seq)}", AccountRole.RESEARCHER, institution_id=other.id
        )
        await session.commit()
    as_mine = Principal(account_id=mine.id, role=mine.role, institution_id=own.id)
    as_theirs = Principal(account_id=theirs.id, role=theirs.role, institution_id=other.id)
    async with sessions() as session:
        with pytest.raises(DomainError) as refused:
            await service.create_webhook(
                session, as_theirs, settings, url=receiver.url, institution_id=own.id
            )
        await session.rollback()
    assert refused.value.details[0].code == "FORBIDDEN"
    async with sessions() as session:
        created = await service.create_webhook(
            session, as_mine, settings, url=receiver.url, institution_id=own.id
        )
        await session.commit()
    receiver.secret = created.secret
    async with sessions() as session:
        emit(session, "upload.failed", institution_id=own.id, payload={"filename": "x.csv"})
        emit(session, "upload.failed", institution_id=other.id, payload={"filename": "y.csv"})
        await session.commit()
    await settle(sessions, settings)
    assert [(g.event, g.body["data"]["filename"], g.signed) for g in receiver.got] == [
        ("upload.failed", "x.csv", True)
    ]
    project = await factory.project()  # public: both ids name rows the caller sees
    async with sessions() as session:
        with pytest.raises(DomainError) as both:
            await service.create_webhook(
                session,
                as_mine,
                settings,
                url=receiver.url,
                institution_id=own.id,
                project_id=project.id,
            )
    assert both.value.details[0].code == "ONE_TARGET"


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


async def test_the_embedded_server_delivers_on_its_own(tmp_path, receivers):
    """`satreps serve` without Redis runs the dispatcher in the API process: an event
    committed by anyone reaches the receiver with nothing else started."""
    import uvicorn

    from server.core.db import make_engine, session_factory
    from server.http.app import create_app
    from server.migrations import upgrade
    from tests.fixtures.live import free_port

    url = f"sqlite+aiosqlite:///{tmp_path / 'embedded.db'}"
    upgrade(url)
    served = Settings(
        database_url=url,
        object_dir=tmp_path / "objects",
        webhook_allow_private=True,
        notify_poll_seconds=0.05,
        fixity_every_days=0,
    )
    engine = make_engine(url)
    sessions = session_factory(engine)
    async with sessions() as session:
        admin = await ensure_account(session, "embedded-admin", AccountRole.ADMIN)
        await session.commit()
    factory = Factory(sessions, Principal(account_id=admin.id, role=AccountRole.ADMIN))
    project = await factory.project()
    receiver = receivers.add("embedded")
    await subscribe(sessions, factory, served, project.id, receiver, events=["version.published"])
    server = uvicorn.Server(
        uvicorn.Config(create_app(served), host="127.0.0.1", port=free_port(), log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    try:
        await announce(sessions, project.id)
        for _ in range(500):
            if receiver.got:
                break
            await asyncio.sleep(0.02)
        assert [(g.event, g.signed) for g in receiver.got] == [("version.published", True)]
    finally:
        server.should_exit = True
        await task
        await engine.dispose()
