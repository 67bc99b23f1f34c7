"""Notifications on real parts, on SQLite and PostgreSQL: the outbox written in the caller's
transaction and webhooks POSTed to a real HTTP receiver that checks each signature, with the
faults: a receiver that answers 500 forever or hangs, a dispatcher killed mid-delivery; an
institution's webhooks; the embedded server delivering on its own. E-mail is in
test_notification_mail.py; the shared helpers in tests/fixtures/dispatching.py."""

from __future__ import annotations

import asyncio
import itertools
import re
from pathlib import Path

import pytest

from server.access.auth import Principal, ensure_account
from server.core.config import Settings
from server.core.errors import DomainError
from server.core.global_ids import global_id
from server.models import Delivery, DeliveryAttempt, OutboxEvent, WebhookSubscription
from server.models.enums import AccountRole
from server.notifications import service
from server.notifications.dispatch import Dispatcher
from server.notifications.events import EVENTS, emit
from server.notifications.fanout import fan_out
from server.notifications.messages import catalogues
from server.storage import store_from_settings
from tests.factories import Factory
from tests.fixtures.dispatching import (
    announce,
    notify_settings,
    quiet_project,
    rows,
    settle,
    subscribe,
)
from tests.fixtures.notify import ReceiverServer
from tests.fixtures.provenance import dataset_draft, process, publish, send, team, worker_ctx
from workers.notifications import deliver_notifications_job

_seq = itertools.count(1)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Loopback receivers allowed (tests only), retries without waiting."""
    return notify_settings(tmp_path)


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
    sessions, factory, settings, admin, receivers
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
    [listed] = (await admin(DELIVERIES, {"id": global_id("Webhook", sub.id)}))["webhookDeliveries"]
    assert [a["code"] for a in listed["log"]] == ["HTTP_ERROR"] * 3  # the DeliveryCode enum
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
