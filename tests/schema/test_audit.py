"""The audit log, token scopes and last-used times, and download URLs end to end."""

from __future__ import annotations

import datetime as dt
import hashlib
from urllib.parse import parse_qs, urlparse

from sqlalchemy import select

from server.access import audit
from server.access.auth import ensure_account, issue_token
from server.core.db import utcnow
from server.core.global_ids import global_id
from server.models import ApiToken
from server.models.enums import AccountRole
from tests.fixtures.access_world import build_world

CREATE = """mutation($name: String!) { createInstitution(input: {nameEn: $name, country: "JP",
    kind: UNIVERSITY}) { institution { id } errors { code } } }"""
LOG = """query($f: AuditFilter) { auditLog(filter: $f, last: 50) { totalCount
    nodes { actor action targetType targetId outcome code detail client } } }"""
DOWNLOAD = (
    "query($f: ID!) { node(id: $f) { ... on DatasetFile { downloadUrl { url expiresAt } } } }"
)


async def scoped_token(sessions, role: AccountRole, *scopes: str, user: str) -> str:
    async with sessions() as session:
        account = await ensure_account(session, user, role)
        _, plaintext = await issue_token(
            session, account, ttl=dt.timedelta(hours=1), scopes=list(scopes)
        )
        await session.commit()
    return plaintext


async def test_mutations_are_audited_with_outcome(admin, manager, gql, make_token):
    created = (await admin(CREATE, {"name": "Kyoto University"}))["createInstitution"]
    researcher = gql.as_(await make_token(AccountRole.RESEARCHER, user="suzuki"))
    denied = (await researcher(CREATE, {"name": "Sneaky"}))["createInstitution"]
    assert denied["errors"] == [{"code": "FORBIDDEN"}]
    rejected = (await admin(CREATE, {"name": ""}))["createInstitution"]
    assert rejected["errors"]

    events = (await admin(LOG, {"f": {"action": "createInstitution"}}))["auditLog"]["nodes"]
    assert [(e["outcome"], e["code"]) for e in events] == [
        ("OK", None),
        ("DENIED", "FORBIDDEN"),
        ("REJECTED", "REQUIRED"),
    ]
    ok = events[0]
    # the target is named by its global id, the one node(id:) answers
    assert ok["targetType"] == "Institution"
    assert ok["targetId"] == created["institution"]["id"]
    by_target = await admin(LOG, {"f": {"targetId": ok["targetId"]}})
    assert [e["action"] for e in by_target["auditLog"]["nodes"]] == ["createInstitution"]
    assert ok["detail"]["arguments"]["input"]["nameEn"] == "Kyoto University"
    assert events[1]["actor"] == "suzuki" and events[1]["targetId"] is None
    assert created["institution"]["id"]
    only_denied = await admin(LOG, {"f": {"outcome": "DENIED", "actor": "suzuki"}})
    assert only_denied["auditLog"]["totalCount"] == 1


async def test_only_admins_with_the_admin_scope_read_the_audit_log(gql, manager, sessions):
    (error,) = await gql.errors(LOG)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    (error,) = await manager.errors(LOG)
    assert error["extensions"]["code"] == "FORBIDDEN"
    no_admin_scope = await scoped_token(
        sessions, AccountRole.ADMIN, "read", "write", user="admin-no-scope"
    )
    (error,) = await gql.errors(LOG, token=no_admin_scope)
    assert error["extensions"]["code"] == "FORBIDDEN"


async def test_scopes_limit_what_a_token_does(gql, sessions):
    reader = await scoped_token(sessions, AccountRole.ADMIN, "read", "admin", user="reader")
    data = await gql(CREATE, {"name": "Nope"}, token=reader)
    assert data["createInstitution"] == {
        "institution": None,
        "errors": [{"code": "INSUFFICIENT_SCOPE"}],
    }
    writer = await scoped_token(sessions, AccountRole.ADMIN, "write", "admin", user="writer")
    (error,) = await gql.errors("{ me { role } }", token=writer)
    assert error["extensions"]["code"] == "INSUFFICIENT_SCOPE"
    assert (await gql(CREATE, {"name": "Yes"}, token=writer))["createInstitution"]["errors"] == []
    events = (await gql(LOG, {"f": {"actor": "reader"}}, token=reader))["auditLog"]["nodes"]
    assert [(e["outcome"], e["code"]) for e in events] == [("DENIED", "INSUFFICIENT_SCOPE")]


async def test_unknown_scopes_are_refused(sessions):
    import pytest

    from server.core.errors import DomainError

    with pytest.raises(DomainError, match="unknown scopes"):
        await scoped_token(sessions, AccountRole.ADMIN, "read", "root", user="bad-scope")


async def test_last_used_is_written_at_most_once_a_minute(gql, make_token, sessions):
    token = await make_token(AccountRole.RESEARCHER)

    async def last_used() -> dt.datetime | None:
        async with sessions() as session:
            row = await session.scalar(select(ApiToken).order_by(ApiToken.id.desc()).limit(1))
            return row.last_used_at

    assert await last_used() is None
    await gql("{ me { role } }", token=token)
    first = await last_used()
    assert first is not None
    await gql("{ me { role } }", token=token)
    assert await last_used() == first  # within the minute: not written again
    async with sessions() as session:
        row = await session.scalar(select(ApiToken).order_by(ApiToken.id.desc()).limit(1))
        row.last_used_at = utcnow() - dt.timedelta(minutes=2)
        await session.commit()
    await gql("{ me { role } }", token=token)
    assert await last_used() > first


async def test_download_urls_are_audited_and_serve_the_bytes(gql, sessions, settings):
    from server.storage import store_from_settings

    world = await build_world(sessions)
    sample = world.samples["project"]
    store = store_from_settings(settings)
    async with sessions() as session:
        from server.models import DatasetFile

        row = await session.get(DatasetFile, sample.file)
        # the bytes the file records (downloads are checked against its sha256)
        row.size, row.sha256 = 4, hashlib.sha256(b"a,b\n").hexdigest()
        await session.commit()
    await store.ensure_buckets()
    await store.put(store.buckets.raw, row.raw_key, b"a,b\n", size=4)

    member = gql.as_(world.tokens["researcher_member"])
    issued = (await member(DOWNLOAD, {"f": sample.gids()["file"]}))["node"]["downloadUrl"]
    expires = dt.datetime.fromisoformat(issued["expiresAt"])
    assert dt.timedelta(minutes=4) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(minutes=5)
    assert issued["url"].startswith("http://testserver/graphql?download="), issued  # absolute
    url = urlparse(issued["url"])
    response = await gql.http.get(f"{url.path}?{url.query}")
    assert response.status_code == 200
    assert response.content == b"a,b\n"
    assert "attachment" in response.headers["content-disposition"]

    query = parse_qs(url.query)
    tampered = f"/graphql?download={sample.file + 1}&expires={query['expires'][0]}&signature={query['signature'][0]}"
    assert (await gql.http.get(tampered)).status_code == 403
    expired = f"/graphql?download={sample.file}&expires=1&signature={query['signature'][0]}"
    assert (await gql.http.get(expired)).status_code == 403

    manager = gql.as_(world.tokens["manager"])  # sees the file, may not read it
    (error,) = await manager.errors(DOWNLOAD, {"f": sample.gids()["file"]})
    assert error["extensions"]["code"] == "FORBIDDEN"

    admin = gql.as_(world.tokens["admin"])
    file_gid = sample.gids()["file"]
    log = await admin(LOG, {"f": {"action": "downloadUrl", "targetId": file_gid}})
    assert [
        (e["outcome"], e["targetType"], e["targetId"], e["client"])
        for e in log["auditLog"]["nodes"]
    ] == [
        ("OK", "DatasetFile", file_gid, "127.0.0.1"),
        ("DENIED", "DatasetFile", file_gid, "127.0.0.1"),
    ]


async def test_targets_are_named_by_their_graphql_type_and_global_id(admin):
    from schema.audit import target_gid
    from tests.factories import gid

    # an upload's row is an `Upload`; clients know it as a DatasetUpload
    assert str(target_gid("Upload", 6)) == gid("DatasetUpload", 6)
    assert str(target_gid("Dataset", 2)) == gid("Dataset", 2)
    assert target_gid(None, None) is None
    (error,) = await admin.errors(LOG, {"f": {"targetId": "not-an-id"}})
    assert error["extensions"] == {"code": "INVALID_ID", "field": "filter.targetId"}
    assert error["path"] == ["auditLog"]


async def test_an_older_quarantine_row_is_named_as_a_dataset_upload_too(sessions, admin):
    """Rows the worker wrote before it named its target by the model ("upload") read and
    filter as the newer ones ("Upload"): DatasetUpload and its global id."""
    async with sessions() as session:
        for spelling in ("upload", "Upload"):
            session.add(audit.event(None, "upload.quarantine", target_type=spelling, target_id=7))
        await session.commit()
    gid = global_id("DatasetUpload", 7)
    nodes = (await admin(LOG, {"f": {"targetId": gid}}))["auditLog"]["nodes"]
    assert [(e["targetType"], e["targetId"]) for e in nodes] == [("DatasetUpload", gid)] * 2
