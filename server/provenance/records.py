"""Writing PROV as a by-product: every function here runs inside the caller's transaction
(the one that commits the upload, the outcome, the publication), so the record and the fact
it describes become visible together or not at all.

Nodes and edges are inserted with ON CONFLICT DO NOTHING on their natural keys: recording
the same fact twice (a job run twice, two workers finishing files of one version at once)
leaves one record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.auth import Principal
from server.core.db import utcnow
from server.models import (
    Account,
    AgreementAcceptance,
    Artifact,
    Dataset,
    DatasetFile,
    DatasetVersion,
    DataUseAgreement,
    Institution,
    PhaseTransition,
    Project,
    Researcher,
    Upload,
)
from server.models.provenance import ProvEdge, ProvKind, ProvNode, ProvRelation

R = ProvRelation
SOFTWARE_NAME = "satreps-worker"


def software_version() -> str:
    try:
        return importlib.metadata.version("satreps-hub")
    except importlib.metadata.PackageNotFoundError:  # a source tree never installed
        return "0+unknown"


def _insert(session: AsyncSession, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


async def ensure_node(
    session: AsyncSession,
    key: str,
    kind: ProvKind,
    type_: str,
    *,
    label: str | None = None,
    dataset_id: int | None = None,
    project_id: int | None = None,
    object_id: int | None = None,
    attributes: dict[str, Any] | None = None,
    started_at: dt.datetime | None = None,
    ended_at: dt.datetime | None = None,
) -> int:
    """The node's id; inserted if new, left as it is if it exists."""
    values = {
        "key": key,
        "kind": kind,
        "type": type_,
        "label": label[:500] if label else label,
        "dataset_id": dataset_id,
        "project_id": project_id,
        "object_id": object_id,
        "attributes": _clean(attributes or {}),
        "started_at": started_at,
        "ended_at": ended_at,
        "created_at": utcnow(),
    }
    known = _known(session)
    if key in known:
        return known[key]
    # one round trip whether the node is new or not: a no-op update makes RETURNING
    # give the existing row's id (DO NOTHING returns no row on a conflict)
    statement = _insert(session, ProvNode).values(**values)
    node_id = await session.scalar(
        statement.on_conflict_do_update(
            index_elements=["key"], set_={"key": statement.excluded.key}
        ).returning(ProvNode.id)
    )
    assert node_id is not None
    known[key] = node_id
    return node_id


async def ensure_nodes(session: AsyncSession, nodes: Sequence[dict[str, Any]]) -> dict[str, int]:
    """ensure_node for many nodes (each a dict of ensure_node's arguments, `key`, `kind`
    and `type_` included) in one execution: their ids by key."""
    known = _known(session)
    rows = []
    for spec in {spec["key"]: spec for spec in nodes}.values():  # each key once
        if spec["key"] in known:
            continue
        label = spec.get("label")
        rows.append(
            {
                "key": spec["key"],
                "kind": spec["kind"],
                "type": spec["type_"],
                "label": label[:500] if label else label,
                "dataset_id": spec.get("dataset_id"),
                "project_id": spec.get("project_id"),
                "object_id": spec.get("object_id"),
                "attributes": _clean(spec.get("attributes") or {}),
                "started_at": spec.get("started_at"),
                "ended_at": spec.get("ended_at"),
                "created_at": utcnow(),
            }
        )
    if rows:  # executemany on the table: multi-row INSERTs ("insertmanyvalues")
        statement = _insert(session, ProvNode.__table__)
        returned = await session.execute(
            statement.on_conflict_do_update(
                index_elements=["key"], set_={"key": statement.excluded.key}
            ).returning(ProvNode.__table__.c.key, ProvNode.__table__.c.id),
            rows,
        )
        known.update((key, node_id) for key, node_id in returned)
    return {spec["key"]: known[spec["key"]] for spec in nodes}


def _known(session: AsyncSession) -> dict[Any, Any]:
    """Node ids (by key) and edges already written in this session's current transaction,
    so one record does not ask the database twice; forgotten with the transaction."""
    transaction = session.sync_session.get_transaction()
    cached = session.info.get("prov_known")
    if cached is None or cached[0] is not transaction:
        cached = (transaction, {})
        session.info["prov_known"] = cached
    known: dict[Any, Any] = cached[1]
    return known


async def set_attributes(session: AsyncSession, node_id: int, **values: Any) -> None:
    """Merge attributes into a node (e.g. the sha256 of a raw upload, known after ingest)."""
    current = await session.scalar(select(ProvNode.attributes).where(ProvNode.id == node_id))
    merged = {**(current or {}), **_clean(values)}
    await session.execute(
        update(ProvNode)
        .where(ProvNode.id == node_id)
        .values(attributes=merged)
        .execution_options(synchronize_session=False)
    )


Edge = tuple[ProvRelation, int, int, dict[str, Any] | None]


async def link(
    session: AsyncSession,
    relation: ProvRelation,
    subject_id: int,
    object_id: int,
    attributes: dict[str, Any] | None = None,
) -> None:
    await link_all(session, [(relation, subject_id, object_id, attributes)])


async def link_all(session: AsyncSession, edges: Sequence[Edge]) -> None:
    """Relations in one statement; those already there (or written in this transaction)
    are left as they are."""
    known = _known(session)
    rows = []
    for relation, subject_id, object_id, attributes in edges:
        if (relation, subject_id, object_id) in known:
            continue
        known[(relation, subject_id, object_id)] = True
        rows.append(
            {
                "relation": relation,
                "subject_id": subject_id,
                "object_id": object_id,
                "attributes": _clean(attributes) if attributes else None,
                "created_at": utcnow(),
            }
        )
    if rows:
        await session.execute(
            _insert(session, ProvEdge.__table__).on_conflict_do_nothing(
                index_elements=["subject_id", "object_id", "relation"]
            ),
            rows,
        )


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


# ---- agents ------------------------------------------------------------------------------


async def institution_agent(session: AsyncSession, institution_id: int) -> int | None:
    inst = await session.get(Institution, institution_id)
    if inst is None:
        return None
    return await ensure_node(
        session,
        f"institution-{inst.id}",
        ProvKind.AGENT,
        "institution",
        label=inst.name_en,
        object_id=inst.id,
        attributes={"ror": inst.ror_id, "country": inst.country_code},
    )


async def researcher_agent(session: AsyncSession, researcher_id: int) -> int | None:
    person = await session.get(Researcher, researcher_id)
    if person is None:
        return None
    return await ensure_node(
        session,
        f"researcher-{person.id}",
        ProvKind.AGENT,
        "researcher",
        label=person.name_en,
        object_id=person.id,
        attributes={"orcid": person.orcid},
    )


async def account_agent(
    session: AsyncSession, account_id: int | None, for_institution_id: int | None
) -> int | None:
    """The agent acting for an account: its researcher (with ORCID) when it has one, else the
    account itself; acting on behalf of the institution it works for."""
    account = await session.get(Account, account_id) if account_id is not None else None
    if account is None:
        return await institution_agent(session, for_institution_id) if for_institution_id else None
    if account.researcher_id is not None:
        agent = await researcher_agent(session, account.researcher_id)
    else:
        agent = await ensure_node(
            session,
            f"account-{account.id}",
            ProvKind.AGENT,
            "account",
            label=f"account {account.id} ({account.role.value})",
            object_id=account.id,
        )
    institution_id = for_institution_id or account.institution_id
    if agent is not None and institution_id is not None:
        institution = await institution_agent(session, institution_id)
        if institution is not None:
            await link(session, R.ACTED_ON_BEHALF_OF, agent, institution)
    return agent


async def software_agent(session: AsyncSession) -> int:
    version = software_version()
    return await ensure_node(
        session,
        f"software-{SOFTWARE_NAME}-{version}",
        ProvKind.AGENT,
        "software",
        label=f"{SOFTWARE_NAME} {version}",
        attributes={"name": SOFTWARE_NAME, "version": version},
    )


# ---- entities ----------------------------------------------------------------------------


async def dataset_entity(session: AsyncSession, dataset: Dataset) -> int:
    return await ensure_node(
        session,
        f"dataset-{dataset.id}",
        ProvKind.ENTITY,
        "dataset",
        label=dataset.title,
        dataset_id=dataset.id,
        project_id=dataset.project_id,
        object_id=dataset.id,
    )


async def version_entity(session: AsyncSession, version: DatasetVersion, dataset: Dataset) -> int:
    node = await ensure_node(
        session,
        f"version-{version.id}",
        ProvKind.ENTITY,
        "dataset_version",
        label=f"{dataset.title} v{version.number}",
        dataset_id=dataset.id,
        project_id=dataset.project_id,
        object_id=version.id,
        attributes={"number": version.number, "key": version_prefix(dataset.id, version.number)},
    )
    await link(session, R.SPECIALIZATION_OF, node, await dataset_entity(session, dataset))
    return node


def version_prefix(dataset_id: int, number: int) -> str:
    return f"datasets/{dataset_id}/v{number}"


def manifest_digest(files: Sequence[DatasetFile]) -> tuple[int, str]:
    """A version's size and sha256: the digest of its sorted `name sha256` lines."""
    lines = sorted(f"{f.name}\t{f.sha256}\n" for f in files)
    return sum(f.size for f in files), hashlib.sha256("".join(lines).encode()).hexdigest()


async def _version_and_dataset(
    session: AsyncSession, version_id: int
) -> tuple[DatasetVersion, Dataset]:
    row = (
        await session.execute(
            select(DatasetVersion, Dataset)
            .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
            .where(DatasetVersion.id == version_id)
        )
    ).one()
    return row[0], row[1]


# ---- activities --------------------------------------------------------------------------


async def record_upload(
    session: AsyncSession,
    upload: Upload,
    *,
    client: str | None = None,
    transport: str | None = None,
) -> tuple[int, int]:
    """The raw object and the upload activity that made it: (entity id, activity id)."""
    recorded = await record_uploads(session, [upload], client=client, transports=[transport])
    return recorded[upload.id]


async def record_uploads(
    session: AsyncSession,
    uploads: Sequence[Upload],
    *,
    client: str | None = None,
    transports: Sequence[str | None] | None = None,
) -> dict[int, tuple[int, int]]:
    """record_upload for many uploads in a few statements: by upload id, its raw object's
    entity and its upload activity."""
    places: dict[int, tuple[DatasetVersion, Dataset]] = {}
    for version_id in sorted({u.version_id for u in uploads}):
        places[version_id] = await _version_and_dataset(session, version_id)
    agents: dict[tuple[int | None, int], int | None] = {}
    for upload in uploads:
        whose = (upload.created_by, places[upload.version_id][1].owner_institution_id)
        if whose not in agents:
            agents[whose] = await account_agent(session, *whose)
    specs = []
    for upload, transport in zip(uploads, transports or [None] * len(uploads), strict=True):
        dataset = places[upload.version_id][1]
        where = {"dataset_id": dataset.id, "project_id": dataset.project_id, "object_id": upload.id}
        specs.append(
            {
                "key": f"upload-{upload.id}",
                "kind": ProvKind.ENTITY,
                "type_": "raw_upload",
                "label": upload.filename,
                "attributes": {
                    "key": upload.object_key,
                    "size": upload.size or upload.declared_size,
                },
                **where,
            }
        )
        specs.append(
            {
                "key": f"upload-activity-{upload.id}",
                "kind": ProvKind.ACTIVITY,
                "type_": "upload",
                "label": f"upload of {upload.filename}",
                "attributes": {
                    "client": (client or "")[:300] or None,
                    "transport": transport
                    or ("multipart" if upload.multipart_id else "single PUT"),
                    "declaredSha256": upload.declared_sha256,
                },
                "started_at": upload.created_at,
                "ended_at": upload.uploaded_at or utcnow(),
                **where,
            }
        )
    ids = await ensure_nodes(session, specs)
    edges: list[Edge] = []
    recorded = {}
    for upload in uploads:
        raw, activity = ids[f"upload-{upload.id}"], ids[f"upload-activity-{upload.id}"]
        recorded[upload.id] = (raw, activity)
        edges.append((R.WAS_GENERATED_BY, raw, activity, None))
        uploader = agents[(upload.created_by, places[upload.version_id][1].owner_institution_id)]
        if uploader is not None:
            edges.append((R.WAS_ASSOCIATED_WITH, activity, uploader, None))
            edges.append((R.WAS_ATTRIBUTED_TO, raw, uploader, None))
    await link_all(session, edges)
    for version, dataset in places.values():
        await version_entity(session, version, dataset)
    return recorded


async def _recorded_uploads(
    session: AsyncSession, uploads: Sequence[Upload]
) -> dict[int, tuple[int, int]]:
    """The raw entities and upload activities of uploads (completeUpload records them);
    recorded now for those that have none."""
    keys = [k for u in uploads for k in (f"upload-{u.id}", f"upload-activity-{u.id}")]
    rows = await session.execute(select(ProvNode.key, ProvNode.id).where(ProvNode.key.in_(keys)))
    found = {key: node_id for key, node_id in rows}
    recorded, missing = {}, []
    for upload in uploads:
        raw, activity = found.get(f"upload-{upload.id}"), found.get(f"upload-activity-{upload.id}")
        if raw is None or activity is None:
            missing.append(upload)
        else:
            recorded[upload.id] = (raw, activity)
    if missing:
        recorded.update(await record_uploads(session, missing))
    return recorded


def processing_steps(result: Any) -> list[str]:
    """What the streaming pass did, read off its ProcessingResult."""
    steps = ["hash", "detect-format"]
    if getattr(result, "archive", None) is not None:
        steps.append("scan-archive")
    if getattr(result, "profile", None) is not None:
        steps.append("profile")
    if getattr(result, "parquet_path", None) is not None:
        steps.append("normalise-parquet")
    if getattr(result, "preview", None) is not None:
        steps.append("preview")
    return steps


async def record_ingest(
    session: AsyncSession,
    upload: Upload,
    *,
    outcome: str,
    result: Any = None,
    file: DatasetFile | None = None,
    artifacts: Sequence[Artifact] = (),
    error_code: str | None = None,
) -> int:
    """The ingest activity of an upload, written once, in the transaction that commits the
    outcome (READY or FAILED): a retried or re-run job never adds a second one."""
    rows = await session.execute(
        select(ProvNode.key, ProvNode.id).where(
            ProvNode.key.in_([f"upload-{upload.id}", f"upload-activity-{upload.id}"])
        )
    )
    recorded = {key: node_id for key, node_id in rows}
    if len(recorded) == 2:  # completeUpload recorded them: read, do not record again
        raw, upload_activity = (
            recorded[f"upload-{upload.id}"],
            recorded[f"upload-activity-{upload.id}"],
        )
    else:
        raw, upload_activity = await record_upload(session, upload)
    version, dataset = await _version_and_dataset(session, upload.version_id)
    steps = processing_steps(result) if result is not None else None
    if steps is not None and artifacts:
        steps.append("write-artifacts")
    ingest = await ensure_node(
        session,
        f"ingest-{upload.id}",
        ProvKind.ACTIVITY,
        "ingest",
        label=f"ingest of {upload.filename}",
        dataset_id=dataset.id,
        project_id=dataset.project_id,
        object_id=upload.id,
        attributes={
            "outcome": outcome,
            "attempts": upload.attempts,
            "steps": steps,
            "softwareVersion": software_version(),
            "format": getattr(getattr(result, "format", None), "kind", None),
            "errorCode": error_code,
        },
        started_at=upload.started_at,
        ended_at=utcnow(),
    )
    edges: list[Edge] = [
        (R.USED, ingest, raw, None),
        (R.WAS_ASSOCIATED_WITH, ingest, await software_agent(session), None),
        (R.WAS_INFORMED_BY, ingest, upload_activity, None),
    ]
    if result is not None:
        await set_attributes(session, raw, sha256=result.sha256, size=result.size)
    for artifact in artifacts:
        node = await ensure_node(
            session,
            f"artifact-{artifact.id}",
            ProvKind.ENTITY,
            "artifact",
            label=f"{upload.filename} ({artifact.kind})",
            dataset_id=dataset.id,
            project_id=dataset.project_id,
            object_id=artifact.id,
            attributes={
                "kind": artifact.kind,
                "bucket": artifact.bucket,
                "key": artifact.key,
                "size": artifact.size,
                "sha256": artifact.sha256,
                "mediaType": artifact.media_type,
            },
        )
        edges += [(R.WAS_GENERATED_BY, node, ingest, None), (R.WAS_DERIVED_FROM, node, raw, None)]
    if file is not None:
        node = await version_entity(session, version, dataset)
        edges.append((R.WAS_DERIVED_FROM, node, raw, {"file": file.name}))
    await link_all(session, edges)
    return ingest


@dataclass
class Ingested:
    """One file of a batch and how its processing ended ("ready" or "failed")."""

    upload: Upload
    outcome: str
    result: Any = None
    file: DatasetFile | None = None
    artifacts: Sequence[Artifact] = ()
    error_code: str | None = None


async def record_batch_ingest(
    session: AsyncSession,
    version_id: int,
    files: Sequence[Ingested],
    *,
    key: str,
    started_at: dt.datetime | None,
) -> int:
    """One ingest activity for a batch of one version's uploads, in the transaction that
    commits their outcomes. Each file keeps its own entities (its raw object, its
    artifacts) and its own facts, on the activity's `used` edge to its raw object (outcome,
    format, steps, attempts, error code). `key` names this attempt of the batch: a file
    already READY is never in a batch again, so none is recorded twice."""
    version, dataset = await _version_and_dataset(session, version_id)
    recorded = await _recorded_uploads(session, [f.upload for f in files])
    ready = sum(f.outcome == "ready" for f in files)
    where = {"dataset_id": dataset.id, "project_id": dataset.project_id}
    activity = await ensure_node(
        session,
        f"ingest-batch-{key}",
        ProvKind.ACTIVITY,
        "ingest",
        label=f"ingest of {len(files)} files",
        attributes={
            "outcome": "ready" if ready == len(files) else "failed" if not ready else "partial",
            "files": len(files),
            "ready": ready,
            "failed": len(files) - ready,
            "uploads": [f.upload.id for f in files],
            "softwareVersion": software_version(),
        },
        started_at=started_at,
        ended_at=utcnow(),
        **where,
    )
    edges: list[Edge] = [(R.WAS_ASSOCIATED_WITH, activity, await software_agent(session), None)]
    version_node = await version_entity(session, version, dataset)
    specs = []
    for f in files:
        raw, upload_activity = recorded[f.upload.id]
        steps = processing_steps(f.result) if f.result is not None else None
        if steps is not None and f.artifacts:
            steps.append("write-artifacts")
        facts = {
            "upload": f.upload.id,
            "outcome": f.outcome,
            "attempts": f.upload.attempts,
            "steps": steps,
            "format": getattr(getattr(f.result, "format", None), "kind", None),
            "errorCode": f.error_code,
        }
        edges += [
            (R.USED, activity, raw, facts),
            (R.WAS_INFORMED_BY, activity, upload_activity, None),
        ]
        if f.file is not None:
            edges.append((R.WAS_DERIVED_FROM, version_node, raw, {"file": f.file.name}))
        specs += [_artifact_spec(a, f.upload, dataset) for a in f.artifacts]
    artifacts = await ensure_nodes(session, specs)
    for f in files:
        raw = recorded[f.upload.id][0]
        for a in f.artifacts:
            node = artifacts[f"artifact-{a.id}"]
            edges += [
                (R.WAS_GENERATED_BY, node, activity, None),
                (R.WAS_DERIVED_FROM, node, raw, None),
            ]
    await link_all(session, edges)
    hashed = {recorded[f.upload.id][0]: f.result for f in files if f.result is not None}
    if hashed:
        current = await session.execute(
            select(ProvNode.id, ProvNode.attributes).where(ProvNode.id.in_(list(hashed)))
        )
        await session.execute(
            update(ProvNode),
            [
                {
                    "id": node_id,
                    "attributes": {
                        **(attributes or {}),
                        **_clean({"sha256": hashed[node_id].sha256, "size": hashed[node_id].size}),
                    },
                }
                for node_id, attributes in current
            ],
        )
    return activity


def _artifact_spec(artifact: Artifact, upload: Upload, dataset: Dataset) -> dict[str, Any]:
    return {
        "key": f"artifact-{artifact.id}",
        "kind": ProvKind.ENTITY,
        "type_": "artifact",
        "label": f"{upload.filename} ({artifact.kind})",
        "dataset_id": dataset.id,
        "project_id": dataset.project_id,
        "object_id": artifact.id,
        "attributes": {
            "kind": artifact.kind,
            "bucket": artifact.bucket,
            "key": artifact.key,
            "size": artifact.size,
            "sha256": artifact.sha256,
            "mediaType": artifact.media_type,
        },
    }


async def record_publish(
    session: AsyncSession, principal: Principal, version: DatasetVersion, dataset: Dataset
) -> int:
    """Publication: the frozen version, generated by the publish activity from its files."""
    node = await version_entity(session, version, dataset)
    when = version.published_at or utcnow()
    activity = await ensure_node(
        session,
        f"publish-{version.id}",
        ProvKind.ACTIVITY,
        "publish",
        label=f"publication of {dataset.title} v{version.number}",
        dataset_id=dataset.id,
        project_id=dataset.project_id,
        object_id=version.id,
        attributes={"note": version.note},
        started_at=when,
        ended_at=when,
    )
    files = (
        await session.scalars(select(DatasetFile).where(DatasetFile.version_id == version.id))
    ).all()
    for file in files:
        if file.upload_id is None:
            continue
        upload = await session.get(Upload, file.upload_id)
        if upload is None:
            continue
        raw, _ = await record_upload(session, upload)
        await link(session, R.USED, activity, raw)
        await link(session, R.WAS_DERIVED_FROM, node, raw, {"file": file.name})
    await link(session, R.WAS_GENERATED_BY, node, activity)
    agent = await account_agent(session, principal.account_id, dataset.owner_institution_id)
    if agent is not None:
        await link(session, R.WAS_ASSOCIATED_WITH, activity, agent)
        await link(session, R.WAS_ATTRIBUTED_TO, node, agent)
    if version.based_on_id is not None:
        previous, _ = await _version_and_dataset(session, version.based_on_id)
        await link(
            session,
            R.WAS_DERIVED_FROM,
            node,
            await version_entity(session, previous, dataset),
            {"type": "prov:Revision"},
        )
    size, digest = manifest_digest(files)
    await set_attributes(session, node, state="published", size=size, sha256=digest)
    return activity


async def record_phase_transition(
    session: AsyncSession, principal: Principal, project: Project, transition: PhaseTransition
) -> int | None:
    """A phase change touches data when the project has datasets: the activity used them."""
    datasets = (
        await session.scalars(select(Dataset).where(Dataset.project_id == project.id))
    ).all()
    if not datasets:
        return None
    await session.flush()  # the transition's id
    activity = await ensure_node(
        session,
        f"phase-transition-{transition.id}",
        ProvKind.ACTIVITY,
        "phase_transition",
        label=f"{project.acronym or project.title}: {transition.to_phase.value}",
        project_id=project.id,
        object_id=transition.id,
        attributes={
            "fromPhase": transition.from_phase.value if transition.from_phase else None,
            "toPhase": transition.to_phase.value,
            "documentRef": transition.document_ref,
        },
        started_at=transition.at,
        ended_at=transition.at,
    )
    for dataset in datasets:
        await link(session, R.USED, activity, await dataset_entity(session, dataset))
    agent = await account_agent(session, principal.account_id, None)
    if agent is not None:
        await link(session, R.WAS_ASSOCIATED_WITH, activity, agent)
    return activity


async def record_agreement_acceptance(
    session: AsyncSession,
    principal: Principal,
    dataset: Dataset,
    agreement: DataUseAgreement,
    acceptance: AgreementAcceptance,
) -> int:
    """A researcher accepted a version of the dataset's data use agreement: an activity that
    used the agreement (an entity, with its ABS references) and the dataset, associated with
    the researcher. A version's export (PROV and RO-Crate) carries its dataset's."""
    terms = await ensure_node(
        session,
        f"agreement-{agreement.id}",
        ProvKind.ENTITY,
        "data_use_agreement",
        label=f"{agreement.title} (version {agreement.version})",
        dataset_id=dataset.id,
        project_id=dataset.project_id,
        object_id=agreement.id,
        attributes={
            "version": agreement.version,
            "absProviderCountry": agreement.abs_provider_country,
            "absPriorInformedConsent": agreement.abs_pic_ref,
            "absMutuallyAgreedTerms": agreement.abs_mat_ref,
            "absIrcc": agreement.abs_ircc,
        },
        started_at=agreement.created_at,
    )
    activity = await ensure_node(
        session,
        f"agreement-acceptance-{acceptance.id}",
        ProvKind.ACTIVITY,
        "agreement_acceptance",
        label=f"accepted {agreement.title} (version {agreement.version})",
        dataset_id=dataset.id,
        project_id=dataset.project_id,
        object_id=acceptance.id,
        attributes={"agreementVersion": agreement.version},
        started_at=acceptance.accepted_at,
        ended_at=acceptance.accepted_at,
    )
    await link(session, R.USED, activity, terms)
    await link(session, R.USED, activity, await dataset_entity(session, dataset))
    agent = await researcher_agent(session, acceptance.researcher_id)
    if agent is None:
        agent = await account_agent(session, principal.account_id, None)
    if agent is not None:
        await link(session, R.WAS_ASSOCIATED_WITH, activity, agent)
    return activity


async def record_fixity(
    session: AsyncSession,
    version_id: int,
    run_id: str,
    *,
    outcome: str,
    checked: Sequence[tuple[DatasetFile, str]],
    started_at: dt.datetime,
    ended_at: dt.datetime,
) -> int:
    """A fixity check of a version's raw objects; `checked` holds (file, result) pairs."""
    version, dataset = await _version_and_dataset(session, version_id)
    activity = await ensure_node(
        session,
        f"fixity-{version_id}-{run_id}",
        ProvKind.ACTIVITY,
        "fixity_check",
        label=f"fixity check of {dataset.title} v{version.number}",
        dataset_id=dataset.id,
        project_id=dataset.project_id,
        object_id=version.id,
        attributes={
            "outcome": outcome,
            "filesChecked": len(checked),
            "failures": sorted(f"{f.name}: {r}" for f, r in checked if r != "ok") or None,
            "softwareVersion": software_version(),
        },
        started_at=started_at,
        ended_at=ended_at,
    )
    await link(session, R.WAS_ASSOCIATED_WITH, activity, await software_agent(session))
    for file, _ in checked:
        if file.upload_id is None:
            continue
        upload = await session.get(Upload, file.upload_id)
        if upload is not None:
            raw, _ = await record_upload(session, upload)
            await link(session, R.USED, activity, raw)
    return activity
