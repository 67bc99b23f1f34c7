"""Access requests, approvals (one side; dual for partner-country data), grants, denial,
withdrawal, revocation, expiry, data use agreements (versioned, Nagoya ABS references,
acceptance in PROV and RO-Crate), through the HTTP API on the access world: an outsider
asks for the restricted datasets of project P (institution A owns them and is its Japanese
lead; B is the partner lead; the world's member is P's partner PI)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update

from server.access_requests.service import sweep
from server.models import (
    AccessApproval,
    AccessGrant,
    AccessRequest,
    Account,
    AgreementAcceptance,
    AuditEvent,
    DataUseAgreement,
    OutboxEvent,
    ProjectMember,
)
from server.models.enums import AccountRole, MemberRole, ProjectPhase
from tests.factories import gid
from tests.fixtures.access_world import World, build_world
from workers.access import sweep_access_job

REQUEST = """mutation($d: ID!, $p: String!) {
  requestDatasetAccess(input: {datasetId: $d, purpose: $p}) {
    accessRequest { id status purpose dualApproval datasetId dataset { title }
      requester { id } agreement { id version } }
    errors { field code message } } }"""
APPROVE = """mutation($r: ID!, $until: Date) { approveAccessRequest(requestId: $r, validUntil: $until) {
    accessRequest { id status approvals { side researcher { id } } grant { id validUntil active } }
    errors { field code message } } }"""
DENY = """mutation($r: ID!, $why: String!) { denyAccessRequest(requestId: $r, reason: $why) {
    accessRequest { status denialReason } errors { field code message } } }"""
WITHDRAW = """mutation($r: ID!) { withdrawAccessRequest(requestId: $r) {
    accessRequest { status } errors { field code message } } }"""
REVOKE = """mutation($g: ID!) { revokeAccessGrant(grantId: $g, reason: "project ended") {
    grant { id revokedAt revokeReason active } errors { field code message } } }"""
FLAG = """mutation($d: ID!, $f: Boolean!) {
  setDatasetPartnerCountryData(datasetId: $d, partnerCountryData: $f) {
    dataset { partnerCountryData } errors { field code message } } }"""
PUBLISH_TERMS = """mutation($d: ID!, $abs: AbsReferencesInput) {
  publishDataUseAgreement(input: {datasetId: $d, title: "Terms", body: "Use it well.", abs: $abs}) {
    agreement { id version abs { providerCountry priorInformedConsent mutuallyAgreedTerms ircc } }
    errors { field code message } } }"""
ACCEPT = """mutation($a: ID!) { acceptDataUseAgreement(agreementId: $a) {
    acceptance { acceptedAt researcher { id } } agreement { version acceptedByMe }
    errors { field code message } } }"""
MINE = """{ myAccessRequests(first: 10) { totalCount nodes { id status grant { active } } } }"""
AWAITING = """{ accessRequestsAwaitingMe(first: 10) { totalCount
    nodes { id status dualApproval approvals { side } } } }"""
DATASET = """query($d: ID!) { node(id: $d) { ... on Dataset { id title partnerCountryData
    accessGrants { id active researcher { id } } dataUseAgreement { version } } } }"""
ABS = {
    "providerCountry": "th",
    "priorInformedConsent": "PIC/TH/2026/17",
    "mutuallyAgreedTerms": "MAT/TH/2026/17",
    "ircc": "ABSCH-IRCC-TH-239750-1",
}


@dataclass
class Cast:
    world: World
    outsider: Any  # the requester
    steward_a: Any  # data steward of A: the owner, the Japanese lead
    steward_b: Any  # data steward of B: the partner lead
    partner_pi: Any  # the world's member
    japanese_pi: Any
    in_owner: Any  # a researcher of A: reads everything of A, decides nothing
    admin: Any


async def cast(gql, sessions, make_token, factory) -> Cast:
    world = await build_world(sessions)
    project = world.samples["institution"].project
    person = await factory.researcher()
    await factory.member(project, person.id, MemberRole.JAPANESE_PI)
    inst = world.institutions

    async def steward(institution: int) -> Any:
        return gql.as_(await make_token(AccountRole.DATA_STEWARD, institution_id=institution))

    return Cast(
        world=world,
        outsider=gql.as_(world.tokens["researcher_outsider"]),
        steward_a=await steward(inst["owner"]),
        steward_b=await steward(inst["partner"]),
        partner_pi=gql.as_(world.tokens["researcher_member"]),
        japanese_pi=gql.as_(await make_token(AccountRole.RESEARCHER, researcher_id=person.id)),
        in_owner=gql.as_(world.tokens["researcher_institution"]),
        admin=gql.as_(world.tokens["admin"]),
    )


def dataset_gid(c: Cast, level: str) -> str:
    return gid("Dataset", c.world.samples[level].dataset)


async def readable(client: Any, c: Cast, level: str) -> bool:
    query = "query($f: ID!) { node(id: $f) { ... on DatasetFile { profile } } }"
    node = (await client(query, {"f": gid("DatasetFile", c.world.samples[level].file)}))["node"]
    return node is not None and node["profile"] == {"rows": 1}


async def ask(c: Cast, level: str, purpose: str = "a comparison study") -> dict[str, Any]:
    out = (await c.outsider(REQUEST, {"d": dataset_gid(c, level), "p": purpose}))[
        "requestDatasetAccess"
    ]
    assert out["errors"] == [], out
    return out["accessRequest"]


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


async def count(sessions, model: Any) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_steward_approves_the_grant_opens_the_data_until_revoked(
    gql, sessions, make_token, factory
):
    c = await cast(gql, sessions, make_token, factory)
    assert not await readable(c.outsider, c, "institution")
    request = await ask(c, "institution")
    assert request["status"] == "PENDING" and request["dualApproval"] is False
    assert request["dataset"] is None  # its metadata stays hidden until granted
    assert request["datasetId"] == dataset_gid(c, "institution")
    assert (await c.steward_a(AWAITING))["accessRequestsAwaitingMe"]["nodes"][0]["id"] == (
        request["id"]
    )
    assert (await c.in_owner(AWAITING))["accessRequestsAwaitingMe"]["totalCount"] == 0
    assert (await c.outsider(AWAITING))["accessRequestsAwaitingMe"]["totalCount"] == 0

    until = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    out = (await c.steward_a(APPROVE, {"r": request["id"], "until": until}))["approveAccessRequest"]
    assert out["errors"] == []
    approved = out["accessRequest"]
    assert approved["status"] == "APPROVED"
    assert [a["side"] for a in approved["approvals"]] == ["OWNER"]
    assert approved["grant"]["validUntil"] == until and approved["grant"]["active"]
    assert await readable(c.outsider, c, "institution")
    mine = (await c.outsider(MINE))["myAccessRequests"]
    assert mine["nodes"] == [{"id": request["id"], "status": "APPROVED", "grant": {"active": True}}]
    # the grant shows on the dataset: to its holder and to the deciders, not to others
    for client in (c.outsider, c.steward_a, c.admin):
        node = (await client(DATASET, {"d": dataset_gid(c, "institution")}))["node"]
        assert [g["active"] for g in node["accessGrants"]] == [True]
    node = (await c.in_owner(DATASET, {"d": dataset_gid(c, "institution")}))["node"]
    assert node["accessGrants"] == []

    grant = approved["grant"]["id"]
    revoked = (await c.steward_a(REVOKE, {"g": grant}))["revokeAccessGrant"]
    assert revoked["errors"] == [] and revoked["grant"]["active"] is False
    assert not await readable(c.outsider, c, "institution")
    again = (await c.steward_a(REVOKE, {"g": grant}))["revokeAccessGrant"]
    assert codes(again) == ["ALREADY_REVOKED"]
    # the events, each on record (the notification outbox takes them at merge)
    async with sessions() as session:
        actions = list(
            await session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.action.like("access.%"))
                .order_by(AuditEvent.id)
            )
        )
    assert actions == ["access.requested", "access.approved", "access.grant_revoked"]
    # and told (the notification outbox, in the same transactions): the request to those who
    # decide it, the decision and the revocation to the requester alone
    async with sessions() as session:
        told = list(
            await session.execute(
                select(OutboxEvent.event, OutboxEvent.recipients, OutboxEvent.payload)
                .where(OutboxEvent.event.like("access.%"))
                .order_by(OutboxEvent.id)
            )
        )
        stewards: dict[int, set[int]] = {}
        for institution, account in await session.execute(
            select(Account.institution_id, Account.id).where(
                Account.role == AccountRole.DATA_STEWARD
            )
        ):
            stewards.setdefault(institution, set()).add(account)
        pis = set(
            await session.scalars(
                select(Account.id)
                .join(ProjectMember, ProjectMember.researcher_id == Account.researcher_id)
                .where(
                    ProjectMember.project_id == c.world.samples["institution"].project,
                    ProjectMember.role.in_([MemberRole.JAPANESE_PI, MemberRole.PARTNER_PI]),
                )
            )
        )
        requester = set(
            await session.scalars(
                select(Account.id).where(Account.researcher_id == told[0][2]["researcherId"])
            )
        )
    assert [t[0] for t in told] == ["access.requested", "access.approved", "access.revoked"]
    inst = c.world.institutions
    assert set(told[0][1]) == pis | stewards[inst["owner"]] and len(pis) == 2
    assert not (stewards[inst["partner"]] | requester) & set(told[0][1])
    assert requester and all(set(t[1]) == requester for t in told[1:])
    assert told[1][2]["validUntil"] == until and told[2][2]["reason"] == "project ended"


async def test_partner_country_data_needs_both_leads(gql, sessions, make_token, factory):
    c = await cast(gql, sessions, make_token, factory)
    flagged = (await c.steward_a(FLAG, {"d": dataset_gid(c, "project"), "f": True}))[
        "setDatasetPartnerCountryData"
    ]
    assert flagged == {"dataset": {"partnerCountryData": True}, "errors": []}
    request = await ask(c, "project")
    assert request["dualApproval"] is True

    # the owner's steward is the Japanese lead's steward here: one side
    out = (await c.steward_a(APPROVE, {"r": request["id"]}))["approveAccessRequest"]
    assert out["errors"] == []
    assert out["accessRequest"]["status"] == "PENDING"
    assert [a["side"] for a in out["accessRequest"]["approvals"]] == ["JAPANESE"]
    assert out["accessRequest"]["grant"] is None
    assert not await readable(c.outsider, c, "project")  # partly approved: no access
    # the Japanese PI's side is taken; the partner side waits
    assert (await c.japanese_pi(AWAITING))["accessRequestsAwaitingMe"]["totalCount"] == 0
    same_side = (await c.japanese_pi(APPROVE, {"r": request["id"]}))["approveAccessRequest"]
    assert codes(same_side) == ["ALREADY_APPROVED"]
    twice = (await c.steward_a(APPROVE, {"r": request["id"]}))["approveAccessRequest"]
    assert codes(twice) == ["ALREADY_APPROVED"]
    waiting = (await c.partner_pi(AWAITING))["accessRequestsAwaitingMe"]
    assert waiting["nodes"] == [
        {
            "id": request["id"],
            "status": "PENDING",
            "dualApproval": True,
            "approvals": [{"side": "JAPANESE"}],
        }
    ]
    out = (await c.partner_pi(APPROVE, {"r": request["id"]}))["approveAccessRequest"]
    assert out["errors"] == []
    assert out["accessRequest"]["status"] == "APPROVED"
    assert sorted(a["side"] for a in out["accessRequest"]["approvals"]) == ["JAPANESE", "PARTNER"]
    assert await readable(c.outsider, c, "project")


async def test_a_steward_of_a_partner_lead_decides_only_dual_requests(
    gql, sessions, make_token, factory
):
    c = await cast(gql, sessions, make_token, factory)
    request = await ask(c, "institution")
    out = (await c.steward_b(APPROVE, {"r": request["id"]}))["approveAccessRequest"]
    assert codes(out) == ["FORBIDDEN"]
    for client in (c.in_owner, c.admin):  # reads everything, decides nothing
        denied = (await client(DENY, {"r": request["id"], "why": "no"}))["denyAccessRequest"]
        assert codes(denied) == ["FORBIDDEN"]
    assert await count(sessions, AccessApproval) == 0


async def test_denial_carries_a_reason_and_closes_the_request(gql, sessions, make_token, factory):
    c = await cast(gql, sessions, make_token, factory)
    request = await ask(c, "embargoed")
    blank = (await c.partner_pi(DENY, {"r": request["id"], "why": "  "}))["denyAccessRequest"]
    assert codes(blank) == ["REQUIRED"]
    out = (await c.partner_pi(DENY, {"r": request["id"], "why": "embargo until publication"}))[
        "denyAccessRequest"
    ]
    assert out == {
        "accessRequest": {"status": "DENIED", "denialReason": "embargo until publication"},
        "errors": [],
    }
    late = (await c.steward_a(APPROVE, {"r": request["id"]}))["approveAccessRequest"]
    assert codes(late) == ["REQUEST_CLOSED"]
    assert await count(sessions, AccessGrant) == 0
    # a closed request leaves room for a new one
    assert (await ask(c, "embargoed"))["status"] == "PENDING"


async def test_bad_requests_have_codes_and_write_nothing(gql, sessions, make_token, factory):
    c = await cast(gql, sessions, make_token, factory)
    before = await count(sessions, AccessRequest)
    cases = [
        (c.outsider, "public", "a study", "ALREADY_READABLE"),
        (c.in_owner, "institution", "a study", "ALREADY_READABLE"),
        (c.outsider, "institution", " ", "REQUIRED"),
        (c.outsider, "proposal", "a study", "NOT_FOUND"),  # its project is hidden
        (c.steward_a, "institution", "a study", "RESEARCHER_REQUIRED"),
        (gql, "institution", "a study", "UNAUTHENTICATED"),
    ]
    for client, level, purpose, code in cases:
        out = (await client(REQUEST, {"d": dataset_gid(c, level), "p": purpose}))[
            "requestDatasetAccess"
        ]
        assert codes(out) == [code], (level, out)
    assert await count(sessions, AccessRequest) == before
    request = await ask(c, "institution")
    second = (await c.outsider(REQUEST, {"d": dataset_gid(c, "institution"), "p": "again"}))[
        "requestDatasetAccess"
    ]
    assert codes(second) == ["DUPLICATE_REQUEST"]
    own = (await c.outsider(APPROVE, {"r": request["id"]}))["approveAccessRequest"]
    assert codes(own) == ["OWN_REQUEST"]
    far = (dt.date.today() + dt.timedelta(days=10_000)).isoformat()
    too_long = (await c.steward_a(APPROVE, {"r": request["id"], "until": far}))[
        "approveAccessRequest"
    ]
    assert codes(too_long) == ["INVALID_GRANT_END"]
    assert await count(sessions, AccessRequest) == before + 1
    assert await count(sessions, AccessApproval) == 0


async def test_an_expired_request_cannot_be_decided_and_the_sweep_records_it(
    gql, sessions, make_token, factory
):
    c = await cast(gql, sessions, make_token, factory)
    request = await ask(c, "institution")
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    async with sessions() as session:
        await session.execute(update(AccessRequest).values(expires_at=past))
        await session.commit()
    # lazy: read and refused as expired before any sweep ran
    assert (await c.outsider(MINE))["myAccessRequests"]["nodes"][0]["status"] == "EXPIRED"
    assert (await c.steward_a(AWAITING))["accessRequestsAwaitingMe"]["totalCount"] == 0
    for query, variables, name in (
        (APPROVE, {"r": request["id"]}, "approveAccessRequest"),
        (DENY, {"r": request["id"], "why": "late"}, "denyAccessRequest"),
    ):
        out = (await c.steward_a(query, variables))[name]
        assert codes(out) == ["REQUEST_EXPIRED"]
    withdrawn = (await c.outsider(WITHDRAW, {"r": request["id"]}))["withdrawAccessRequest"]
    assert codes(withdrawn) == ["REQUEST_EXPIRED"]
    assert await count(sessions, AccessGrant) == 0
    swept = await sweep(sessions)
    assert swept.expired == [_pk(request["id"])]
    assert (await sweep(sessions)).expired == []  # once only
    # an expired request leaves room for a new one
    assert (await ask(c, "institution"))["status"] == "PENDING"


def _pk(global_id: str) -> int:
    import base64

    return int(base64.b64decode(global_id).decode().split(":")[1])


async def test_the_sweep_announces_grants_about_to_end_once(gql, sessions, make_token, factory):
    c = await cast(gql, sessions, make_token, factory)
    request = await ask(c, "institution")
    soon = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    await c.steward_a(APPROVE, {"r": request["id"], "until": soon})
    later = await ask(c, "project")
    await c.steward_a(APPROVE, {"r": later["id"]})  # the longest: beyond the notice
    assert await sweep_access_job({"sessions": sessions}) == 1  # the worker's cron
    assert (await sweep(sessions)).expiring == []  # once only
    async with sessions() as session:
        events = list(
            await session.scalars(
                select(AuditEvent.detail).where(AuditEvent.action == "access.grant_expiring")
            )
        )
    assert [e["validUntil"] for e in events] == [soon]


async def test_withdrawal_is_the_requesters_alone(gql, sessions, make_token, factory):
    c = await cast(gql, sessions, make_token, factory)
    request = await ask(c, "institution")
    other = (await c.steward_a(WITHDRAW, {"r": request["id"]}))["withdrawAccessRequest"]
    assert codes(other) == ["NOT_FOUND"]
    out = (await c.outsider(WITHDRAW, {"r": request["id"]}))["withdrawAccessRequest"]
    assert out == {"accessRequest": {"status": "WITHDRAWN"}, "errors": []}
    again = (await c.outsider(WITHDRAW, {"r": request["id"]}))["withdrawAccessRequest"]
    assert codes(again) == ["REQUEST_CLOSED"]


async def test_an_agreement_must_be_accepted_and_a_new_version_accepted_anew(
    gql, sessions, make_token, factory
):
    c = await cast(gql, sessions, make_token, factory)
    d = dataset_gid(c, "institution")
    first = (await c.steward_a(PUBLISH_TERMS, {"d": d, "abs": ABS}))["publishDataUseAgreement"]
    assert first["errors"] == []
    assert first["agreement"]["version"] == 1
    assert first["agreement"]["abs"] == {**ABS, "providerCountry": "TH"}
    request = await ask(c, "institution")
    assert request["agreement"] == {"id": first["agreement"]["id"], "version": 1}
    refused = (await c.steward_a(APPROVE, {"r": request["id"]}))["approveAccessRequest"]
    assert codes(refused) == ["AGREEMENT_NOT_ACCEPTED"]
    accepted = (await c.outsider(ACCEPT, {"a": first["agreement"]["id"]}))["acceptDataUseAgreement"]
    assert accepted["errors"] == []
    assert accepted["agreement"] == {"version": 1, "acceptedByMe": True}
    twice = (await c.outsider(ACCEPT, {"a": first["agreement"]["id"]}))["acceptDataUseAgreement"]
    assert codes(twice) == ["ALREADY_ACCEPTED"]
    out = (await c.steward_a(APPROVE, {"r": request["id"]}))["approveAccessRequest"]
    assert out["errors"] == []
    assert await readable(c.outsider, c, "institution")

    second = (await c.steward_a(PUBLISH_TERMS, {"d": d}))["publishDataUseAgreement"]
    assert second["agreement"]["version"] == 2 and second["agreement"]["abs"] is None
    assert not await readable(c.outsider, c, "institution")  # v1 does not satisfy v2
    old = (await c.outsider(ACCEPT, {"a": first["agreement"]["id"]}))["acceptDataUseAgreement"]
    assert codes(old) == ["AGREEMENT_SUPERSEDED"]
    again = (await c.outsider(ACCEPT, {"a": second["agreement"]["id"]}))["acceptDataUseAgreement"]
    assert again["errors"] == []
    assert await readable(c.outsider, c, "institution")
    hidden_terms = (await c.steward_a(PUBLISH_TERMS, {"d": dataset_gid(c, "proposal")}))[
        "publishDataUseAgreement"
    ]
    hidden = (await c.outsider(ACCEPT, {"a": hidden_terms["agreement"]["id"]}))[
        "acceptDataUseAgreement"
    ]
    assert codes(hidden) == ["NOT_FOUND"]  # its project is not visible to the outsider
    async with sessions() as session:
        rows = (
            await session.execute(
                select(DataUseAgreement.version, AgreementAcceptance.researcher_id)
                .join(AgreementAcceptance, AgreementAcceptance.agreement_id == DataUseAgreement.id)
                .order_by(DataUseAgreement.version)
            )
        ).all()
    outsider = c.world.researchers["outsider"]
    assert [tuple(r) for r in rows] == [(1, outsider), (2, outsider)]


async def test_malformed_abs_references_are_refused(gql, sessions, make_token, factory):
    c = await cast(gql, sessions, make_token, factory)
    d = dataset_gid(c, "institution")
    cases = [
        ({**ABS, "ircc": "IRCC-TH-1"}, [("abs.ircc", "INVALID_IRCC")]),
        ({**ABS, "providerCountry": "XX"}, [("abs.providerCountry", "INVALID_COUNTRY")]),
        ({**ABS, "providerCountry": "JP"}, [("abs.ircc", "ABS_COUNTRY_MISMATCH")]),
        (
            {**ABS, "providerCountry": "Thai", "ircc": "x"},
            [("abs.providerCountry", "INVALID_COUNTRY"), ("abs.ircc", "INVALID_IRCC")],
        ),
    ]
    for refs, expected in cases:
        out = (await c.steward_a(PUBLISH_TERMS, {"d": d, "abs": refs}))["publishDataUseAgreement"]
        assert [(e["field"], e["code"]) for e in out["errors"]] == expected, refs
    outsider = (await c.outsider(PUBLISH_TERMS, {"d": dataset_gid(c, "public")}))[
        "publishDataUseAgreement"
    ]
    assert codes(outsider) == ["FORBIDDEN"]
    assert await count(sessions, DataUseAgreement) == 0


EXPORT = """query($v: ID!, $f: ProvenanceFormat!) {
  provenanceExport(versionId: $v, format: $f) { text } }"""


async def test_acceptance_is_in_the_datasets_prov_and_ro_crate(gql, sessions, make_token, factory):
    c = await cast(gql, sessions, make_token, factory)
    d = dataset_gid(c, "institution")
    terms = (await c.steward_a(PUBLISH_TERMS, {"d": d, "abs": ABS}))["publishDataUseAgreement"]
    await ask(c, "institution")
    await c.outsider(ACCEPT, {"a": terms["agreement"]["id"]})
    version = gid("DatasetVersion", c.world.samples["institution"].published)
    prov = (await c.steward_a(EXPORT, {"v": version, "f": "PROV_JSON"}))["provenanceExport"]
    doc = json.loads(prov["text"])
    activities = [
        a
        for a in doc["activity"].values()
        if any(t["$"] == "satreps:agreement_acceptance" for t in _types(a))
    ]
    assert len(activities) == 1
    entities = [e for e in doc["entity"].values() if "satreps:absIrcc" in e]
    assert [e["satreps:absIrcc"] for e in entities] == ["ABSCH-IRCC-TH-239750-1"]
    crate = (await c.steward_a(EXPORT, {"v": version, "f": "RO_CRATE"}))["provenanceExport"]
    graph = json.loads(crate["text"])["@graph"]
    agree = [e for e in graph if e.get("@type") == "AgreeAction"]
    assert len(agree) == 1 and agree[0]["agent"] and agree[0]["endTime"]
    work = next(e for e in graph if e["@id"] == agree[0]["object"]["@id"])
    assert work["identifier"] == "ABSCH-IRCC-TH-239750-1" and work["countryOfOrigin"] == "TH"
    root = next(e for e in graph if e["@id"] == "./")
    assert root["conditionsOfAccess"] == {"@id": work["@id"]}


def _types(record: dict[str, Any]) -> list[Any]:
    value = record.get("prov:type", [])
    return value if isinstance(value, list) else [value]


PHASES = """query($p: ID!) { node(id: $p) { ... on Project {
    phaseHistory { toPhase account { username role } researcher { id } } } } }"""


async def test_phase_history_shows_who(gql, sessions, make_token, factory):
    person = await factory.researcher()
    project = await factory.project(phase=ProjectPhase.APPROVED)
    token = await make_token(AccountRole.PROGRAM_MANAGER, user="pm-who", researcher_id=person.id)
    pm = gql.as_(token)
    move = """mutation($p: ID!) { transitionProjectPhase(input: {projectId: $p, toPhase: PLANNING}) {
        errors { code } } }"""
    out = await pm(move, {"p": gid("Project", project.id)})
    assert out["transitionProjectPhase"]["errors"] == []
    history = (await pm(PHASES, {"p": gid("Project", project.id)}))["node"]["phaseHistory"]
    assert history[-1] == {
        "toPhase": "PLANNING",
        "account": {"username": "pm-who", "role": "PROGRAM_MANAGER"},
        "researcher": {"id": gid("Researcher", person.id)},
    }
    public = (await gql(PHASES, {"p": gid("Project", project.id)}))["node"]["phaseHistory"]
    assert public[-1]["account"] is None  # usernames are for signed-in callers
    assert public[-1]["researcher"] == {"id": gid("Researcher", person.id)}


AWAITING_DEEP = """{ accessRequestsAwaitingMe(first: 50) { totalCount nodes { id status
    requester { nameEn } approvals { side researcher { nameEn } } grant { id }
    agreement { version acceptedByMe } dataset { title } } } }"""


async def test_statements_do_not_grow_with_the_requests(
    gql, sessions, make_token, factory, statements
):
    c = await cast(gql, sessions, make_token, factory)
    await c.steward_a(PUBLISH_TERMS, {"d": dataset_gid(c, "institution")})

    async def requests(n: int) -> None:
        for _ in range(n):
            person = await factory.researcher()
            client = gql.as_(await make_token(AccountRole.RESEARCHER, researcher_id=person.id))
            out = await client(REQUEST, {"d": dataset_gid(c, "institution"), "p": "a study"})
            assert out["requestDatasetAccess"]["errors"] == []

    async def measure() -> tuple[int, int]:
        with statements.measure() as counter:
            data = await c.steward_a(AWAITING_DEEP)
        return counter.count, data["accessRequestsAwaitingMe"]["totalCount"]

    await c.steward_a("{ me { role } }")  # the token's last-used time is written once a minute
    await requests(2)
    small, few = await measure()
    await requests(6)
    large, many = await measure()
    assert (few, many) == (2, 8)
    assert large == small, (small, large)
