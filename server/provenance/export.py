"""Exports of a dataset version's provenance: PROV-JSON, PROV-O (JSON-LD, Turtle) and PROV-N
through the `prov` package (server/provenance/documents.py), and an RO-Crate
(`ro-crate-metadata.json`) through `rocrate`.

A version's record is its upstream lineage (files, uploads, people, institutions, source
versions of other datasets, recursively) and what its files' processing produced (ingest
activities, artifacts, fixity checks). Exports are built for a principal: nodes they may not
see appear with their kind only. The copies kept in the provenance bucket are the full record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from rocrate.model.contextentity import ContextEntity
from rocrate.model.person import Person
from rocrate.rocrate import ROCrate
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.auth import Principal
from server.core.errors import DomainError, ErrorCode, NotFound
from server.core.url_signing import UrlSigner
from server.datasets.service import visible_version
from server.models import Dataset, DatasetFile, DatasetKeyword, DatasetVersion, Institution
from server.models.provenance import ProvNode
from server.models.provenance import ProvRelation as R
from server.provenance import ExportFormat, records
from server.provenance.documents import (
    CRATE_FILE,
    FORMATS,
    ORCID,
    PROV_FILE,
    ROR,
    Bundle,
    prov_document,
    serialize_prov,
)
from server.provenance.lineage import (
    MAX_DEPTH,
    SYSTEM,
    Direction,
    GraphNode,
    edges_among,
    graph,
)
from server.storage import ObjectStore, StorageError

log = logging.getLogger(__name__)
URL_LIFETIME = dt.timedelta(hours=1)
_SPDX_ID = re.compile(r"^[A-Za-z0-9.+-]+$")


@dataclass
class Export:
    format: ExportFormat
    media_type: str
    filename: str
    text: str


# ---- the record of a version -------------------------------------------------------------


async def bundle(
    session: AsyncSession, principal: Principal, version_id: int, field: str = "versionId"
) -> Bundle:
    version, dataset = await visible_version(session, principal, version_id, field)
    files = list(
        (
            await session.scalars(
                select(DatasetFile)
                .where(DatasetFile.version_id == version.id)
                .order_by(DatasetFile.path)
            )
        ).all()
    )
    root = await session.scalar(select(ProvNode.id).where(ProvNode.key == f"version-{version.id}"))
    found: dict[int, GraphNode] = {}
    if root is None:
        found.update(await _acceptances(session, principal, dataset, found))
        nodes = sorted(found.values(), key=lambda n: (n.depth, n.id))
        return Bundle(version, dataset, files, None, nodes, await edges_among(session, nodes))
    upstream = await graph(
        session, principal, [root], Direction.UPSTREAM, MAX_DEPTH, with_edges=False
    )
    found.update((n.id, n) for n in upstream.nodes)
    raws = [n.id for n in upstream.nodes if n.depth == 1 and n.record_type == "raw_upload"]
    if raws:
        around = await graph(session, principal, raws, Direction.DOWNSTREAM, 1, with_edges=False)
        done = [
            n.id
            for n in around.nodes
            if n.record_type in ("artifact", "ingest", "fixity_check") and n.id not in found
        ]
        if done:
            closure = await graph(session, principal, done, Direction.UPSTREAM, 1, with_edges=False)
            found.update((n.id, n) for n in closure.nodes if n.id not in found)
    found.update(await _acceptances(session, principal, dataset, found))
    nodes = sorted(found.values(), key=lambda n: (n.depth, n.id))
    return Bundle(version, dataset, files, root, nodes, await edges_among(session, nodes))


async def _acceptances(
    session: AsyncSession, principal: Principal, dataset: Dataset, found: dict[int, GraphNode]
) -> dict[int, GraphNode]:
    """The acceptances of the dataset's data use agreements (activities that used the
    dataset), with the agreement versions and the people who accepted them."""
    entity = await session.scalar(
        select(ProvNode.id).where(ProvNode.key == f"dataset-{dataset.id}")
    )
    if entity is None:
        return {}
    around = await graph(session, principal, [entity], Direction.DOWNSTREAM, 1, with_edges=False)
    accepted = [
        n.id
        for n in around.nodes
        if n.record_type == "agreement_acceptance" and not n.redacted and n.id not in found
    ]
    if not accepted:
        return {}
    closure = await graph(session, principal, accepted, Direction.UPSTREAM, 1, with_edges=False)
    return {n.id: n for n in closure.nodes if n.id not in found}


# ---- RO-Crate ----------------------------------------------------------------------------


async def ro_crate(
    session: AsyncSession,
    found: Bundle,
    namespace: str,
    raw_bucket: str,
    *,
    paths: dict[int, str] | None = None,
) -> dict[str, Any]:
    """`ro-crate-metadata.json` of a version: its files with digests, the people and
    institutions behind it, its licence, the versions it derives from, how each file was
    processed (CreateAction) and the PROV document beside it. `paths`: where each file is
    in the crate by id, when not at its name (an archive's sanitised paths)."""
    version, dataset = found.version, found.dataset
    crate = ROCrate()
    root = crate.root_dataset
    root["name"] = f"{dataset.title} (version {version.number})"
    root["description"] = dataset.description or f"Version {version.number} of {dataset.title}"
    root["datePublished"] = (version.published_at or version.created_at).isoformat()
    root["version"] = str(version.number)
    root["identifier"] = f"{namespace}version-{version.id}"
    if keywords := await _keywords(session, dataset):
        root["keywords"] = keywords
    root["license"] = crate.add(_licence(crate, dataset.licence))
    _coverage(crate, root, version)
    owner = await session.get(Institution, dataset.owner_institution_id)
    if owner is not None:
        root["publisher"] = crate.add(_organisation(crate, owner))
    by_upload = {f.upload_id: f for f in found.files if f.upload_id is not None}
    entities: dict[int, Any] = {}
    for file in found.files:
        entities[file.id] = crate.add_file(
            None,
            dest_path=(paths or {}).get(file.id, file.name),
            properties={
                "name": file.name,
                "description": f"{file.format or 'file'} of {file.size} bytes",
                "contentSize": str(file.size),
                "encodingFormat": file.media_type or "application/octet-stream",
                "sha256": file.sha256,
                "contentUrl": f"s3://{raw_bucket}/{file.raw_key}",
            },
        )
    crate.add_file(
        None,
        dest_path=PROV_FILE,
        properties={
            "name": "W3C PROV provenance of this version (PROV-JSON)",
            "description": "Entities, activities and agents of every upload and processing step",
            "encodingFormat": "application/json",
            "conformsTo": {"@id": "https://www.w3.org/submissions/prov-json/"},
            "about": {"@id": "./"},
        },
    )
    people = _people(crate, found)
    if people:
        root["author"] = people
    sources = _sources(crate, found, namespace)
    if sources:
        root["isBasedOn"] = sources
    actions = _actions(crate, found, namespace, by_upload, entities)
    actions += _agreements(crate, root, found, namespace)
    if actions:
        root["mentions"] = actions
    metadata: dict[str, Any] = crate.metadata.generate()
    return metadata


async def _keywords(session: AsyncSession, dataset: Dataset) -> list[str]:
    """schema.org keywords as RO-Crate writes them: plain text (the rocrate library turns a
    JSON-LD value object, `{"@value", "@language"}`, into its plain value), every language's
    in the order written, each value once."""
    rows = await session.scalars(
        select(DatasetKeyword.value)
        .where(DatasetKeyword.dataset_id == dataset.id)
        .order_by(DatasetKeyword.position, DatasetKeyword.id)
    )
    values = list(rows) or list(dataset.keywords or [])  # no rows: the column alone
    return list(dict.fromkeys(values))


def _coverage(crate: ROCrate, root: Any, version: DatasetVersion) -> None:
    """schema.org's spatialCoverage (a Place whose GeoShape box is "south west north east";
    west > east across the antimeridian) and temporalCoverage (an ISO 8601 interval, ".."
    for an open end)."""
    if version.west is not None:
        box = f"{version.south} {version.west} {version.north} {version.east}"
        shape = crate.add(ContextEntity(crate, "#coverage-box", {"@type": "GeoShape", "box": box}))
        place = {"@type": "Place", "name": "Coverage of this version", "geo": {"@id": shape.id}}
        root["spatialCoverage"] = crate.add(ContextEntity(crate, "#coverage-place", place))
    if version.time_start is not None or version.time_end is not None:
        ends = (version.time_start, version.time_end)
        root["temporalCoverage"] = "/".join(t.isoformat() if t else ".." for t in ends)


def _licence(crate: ROCrate, expression: str) -> ContextEntity:
    ident = f"https://spdx.org/licenses/{expression}" if _SPDX_ID.match(expression) else "#licence"
    return ContextEntity(
        crate,
        ident,
        properties={
            "@type": "CreativeWork",
            "name": expression,
            "description": f"SPDX license expression {expression}",
        },
    )


def _organisation(crate: ROCrate, inst: Institution) -> ContextEntity:
    ident = f"{ROR}{inst.ror_id}" if inst.ror_id else f"#institution-{inst.id}"
    url = inst.website or (f"{ROR}{inst.ror_id}" if inst.ror_id else None)
    properties: dict[str, Any] = {"@type": "Organization", "name": inst.name_en}
    if url:
        properties["url"] = url
    return ContextEntity(crate, ident, properties=properties)


def _people(crate: ROCrate, found: Bundle) -> list[Any]:
    """Who made the version: the agents its files and the version are attributed to."""
    by_id = {n.id: n for n in found.nodes}
    attributed = {
        e.object_id
        for e in found.edges
        if e.relation == R.WAS_ATTRIBUTED_TO
        and by_id[e.subject_id].record_type in ("raw_upload", "dataset_version")
        and by_id[e.subject_id].depth <= 1
    }
    behalf = {e.subject_id: e.object_id for e in found.edges if e.relation == R.ACTED_ON_BEHALF_OF}
    people = []
    for agent_id in sorted(attributed):
        agent = by_id[agent_id]
        if agent.redacted or agent.record_type not in ("researcher", "account"):
            continue
        orcid = agent.attributes.get("orcid")
        ident = f"{ORCID}{orcid}" if orcid else f"#{agent.key}"
        properties: dict[str, Any] = {"name": agent.label or agent.key}
        institution = by_id.get(behalf.get(agent_id, -1))
        if institution is not None and not institution.redacted:
            ror = institution.attributes.get("ror")
            org_id = f"{ROR}{ror}" if ror else f"#{institution.key}"
            if crate.get(org_id) is None:
                crate.add(
                    ContextEntity(
                        crate,
                        org_id,
                        properties={"@type": "Organization", "name": institution.label},
                    )
                )
            properties["affiliation"] = {"@id": org_id}
        people.append(crate.add(Person(crate, ident, properties=properties)))
    return people


def _sources(crate: ROCrate, found: Bundle, namespace: str) -> list[Any]:
    by_id = {n.id: n for n in found.nodes}
    out = []
    for edge in found.edges:
        if edge.relation != R.WAS_DERIVED_FROM or edge.subject_id != found.root_id:
            continue
        source = by_id[edge.object_id]
        if source.record_type != "dataset_version":
            continue
        if source.redacted:
            ident, properties = f"#redacted-{source.id}", {"name": "a restricted dataset version"}
        else:
            ident, properties = f"{namespace}{source.key}", {"name": source.label or ""}
        properties = {"@type": "CreativeWork", **properties}
        out.append(crate.add(ContextEntity(crate, ident, properties=properties)))
    return out


def _actions(
    crate: ROCrate,
    found: Bundle,
    namespace: str,
    by_upload: dict[int, DatasetFile],
    entities: dict[int, Any],
) -> list[Any]:
    software: Any = None
    out = []
    for node in found.nodes:
        # an upload's own ingest names it (object_id); a batch's lists its uploads
        uploads = node.attributes.get("uploads") or [node.object_id]
        files = [entities[by_upload[u].id] for u in uploads if u in by_upload]
        if node.redacted or node.record_type != "ingest" or not files:
            continue
        if software is None:
            version = node.attributes.get("softwareVersion", records.software_version())
            ident = f"{namespace}software-{records.SOFTWARE_NAME}-{version}"  # its PROV agent
            software = crate.add(
                ContextEntity(
                    crate,
                    ident,
                    properties={
                        "@type": "SoftwareApplication",
                        "name": records.SOFTWARE_NAME,
                        "version": version,
                        "url": ident,
                    },
                )
            )
        ids: Any = [{"@id": f.id} for f in files] if len(files) > 1 else {"@id": files[0].id}
        properties: dict[str, Any] = {
            "@type": "CreateAction",
            "name": node.label,
            "instrument": {"@id": software.id},
            "object": ids,
            "result": ids,
            "actionStatus": {
                "@id": "http://schema.org/CompletedActionStatus"
                if node.attributes.get("outcome") in ("ready", "partial")  # the files listed
                else "http://schema.org/FailedActionStatus"
            },
            "description": "steps: " + ", ".join(node.attributes.get("steps") or []),
        }
        if node.started_at:
            properties["startTime"] = node.started_at.isoformat()
        if node.ended_at:
            properties["endTime"] = node.ended_at.isoformat()
        out.append(crate.add(ContextEntity(crate, f"#{node.key}", properties=properties)))
    return out


def _agreements(crate: ROCrate, root: Any, found: Bundle, namespace: str) -> list[Any]:
    """Each acceptance of the dataset's data use agreement as an AgreeAction: who (a Person),
    when, which version (a CreativeWork, with the Nagoya Protocol ABS references); the
    current version is the root's conditionsOfAccess."""
    by_id = {n.id: n for n in found.nodes}
    used = {(e.subject_id, e.object_id) for e in found.edges if e.relation == R.USED}
    by = {e.subject_id: e.object_id for e in found.edges if e.relation == R.WAS_ASSOCIATED_WITH}
    out = []
    latest: Any = None
    for node in found.nodes:
        if node.record_type != "agreement_acceptance" or node.redacted:
            continue
        terms = next(
            (
                by_id[o]
                for s, o in used
                if s == node.id and by_id[o].record_type == "data_use_agreement"
            ),
            None,
        )
        if terms is None or terms.redacted:
            continue
        work = crate.get(f"{namespace}{terms.key}") or crate.add(
            ContextEntity(crate, f"{namespace}{terms.key}", properties=_terms(terms))
        )
        if latest is None or terms.attributes.get("version", 0) > latest[0]:
            latest = (terms.attributes.get("version", 0), work)
        properties: dict[str, Any] = {
            "@type": "AgreeAction",
            "name": node.label or "accepted the data use agreement",
            "object": {"@id": work.id},
            "actionStatus": {"@id": "http://schema.org/CompletedActionStatus"},
        }
        if node.ended_at:
            properties["endTime"] = node.ended_at.isoformat()
        agent = by_id.get(by.get(node.id, -1))
        if agent is not None and not agent.redacted:
            orcid = agent.attributes.get("orcid")
            ident = f"{ORCID}{orcid}" if orcid else f"#{agent.key}"
            person = crate.get(ident) or crate.add(
                Person(crate, ident, properties={"name": agent.label or agent.key})
            )
            properties["agent"] = {"@id": person.id}
        out.append(crate.add(ContextEntity(crate, f"#{node.key}", properties=properties)))
    if latest is not None:
        root["conditionsOfAccess"] = {"@id": latest[1].id}
    return out


def _terms(node: GraphNode) -> dict[str, Any]:
    attrs = node.attributes
    properties: dict[str, Any] = {
        "@type": "CreativeWork",
        "name": node.label or node.key,
        "version": str(attrs.get("version", "")),
    }
    abs_refs = {
        "absProviderCountry": attrs.get("absProviderCountry"),
        "absPriorInformedConsent": attrs.get("absPriorInformedConsent"),
        "absMutuallyAgreedTerms": attrs.get("absMutuallyAgreedTerms"),
        "absIrcc": attrs.get("absIrcc"),
    }
    notes = [f"{k}: {v}" for k, v in abs_refs.items() if v]
    if notes:  # the Nagoya Protocol's access and benefit-sharing references
        properties["description"] = "Nagoya Protocol ABS: " + "; ".join(notes)
    if attrs.get("absIrcc"):
        properties["identifier"] = attrs["absIrcc"]
    if attrs.get("absProviderCountry"):
        properties["countryOfOrigin"] = attrs["absProviderCountry"]
    return properties


# ---- exports -----------------------------------------------------------------------------


async def export_version(
    session: AsyncSession,
    principal: Principal,
    version_id: int,
    fmt: ExportFormat,
    *,
    namespace: str,
    raw_bucket: str,
) -> Export:
    found = await bundle(session, principal, version_id)
    info = FORMATS[fmt]
    if fmt == ExportFormat.RO_CRATE:
        metadata = await ro_crate(session, found, namespace, raw_bucket)
        text = json.dumps(metadata, indent=2, ensure_ascii=False)
    else:
        text = serialize_prov(prov_document(found, namespace), fmt)
    return Export(fmt, info.media_type, info.filename, text)


async def export_url(
    store: ObjectStore,
    signer: UrlSigner,
    version: DatasetVersion,
    export: Export,
    expires: dt.timedelta,
) -> str:
    """A signed download URL of an export (kept in the provenance bucket under its digest):
    presigned by the object store, or the server's own signed URL (`GET /exports/...`)."""
    body = export.text.encode()
    digest = hashlib.sha256(body).hexdigest()
    key = f"exports/{version.dataset_id}/v{version.number}/{digest[:32]}/{export.filename}"
    bucket = store.buckets.provenance
    try:
        await store.put(bucket, key, body, size=len(body), content_type=export.media_type)
        if not store.supports_presigned:
            return signer.export_url(key, expires)
        return await store.presigned_get(bucket, key, expires, filename=export.filename)
    except StorageError as error:
        raise DomainError.one(ErrorCode.STORAGE_UNAVAILABLE, str(error)[:300], "url") from error


async def write_copies(
    session: AsyncSession, store: ObjectStore, version_id: int, *, namespace: str
) -> list[str]:
    """Put the full PROV document and RO-Crate metadata beside the data, in the provenance
    bucket under the version's prefix, so the bucket alone still tells the story."""
    try:
        found = await bundle(session, SYSTEM, version_id)
    except NotFound:
        return []
    prefix = records.version_prefix(found.dataset.id, found.version.number)
    prov_text = serialize_prov(prov_document(found, namespace), ExportFormat.PROV_JSON)
    crate = await ro_crate(session, found, namespace, store.buckets.raw)
    written = []
    for name, text, media in (
        (PROV_FILE, prov_text, "application/json"),
        (CRATE_FILE, json.dumps(crate, indent=2, ensure_ascii=False), "application/ld+json"),
    ):
        body = text.encode()
        info = await store.put(
            store.buckets.provenance, f"{prefix}/{name}", body, size=len(body), content_type=media
        )
        written.append(info.key)
    return written
