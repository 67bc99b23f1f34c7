"""Writing PROV as a by-product: the nodes and edges every record is made of, the agents
(institutions, researchers, accounts, the worker software) and the entities (datasets, their
versions). The activities are written from here by `ingest` (uploads, their ingest),
`decisions` (publication, phase changes, agreement acceptances), `edits` and `fixity`.
Every function runs inside the caller's transaction (the one that commits the upload, the
outcome, the publication), so the record and the fact it describes become visible together
or not at all.

Nodes and edges are inserted with ON CONFLICT DO NOTHING on their natural keys: recording
the same fact twice (a job run twice, two workers finishing files of one version at once)
leaves one record.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import importlib.metadata
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.db import utcnow
from server.models import Account, Dataset, DatasetFile, DatasetVersion, Institution, Researcher
from server.models.provenance import ProvEdge, ProvKind, ProvNode, ProvRelation

R = ProvRelation
SOFTWARE_NAME = "satreps-worker"


@functools.cache  # read from the installed metadata once a process: it parses a file
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
        "attributes": clean(attributes or {}),
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
                "attributes": clean(spec.get("attributes") or {}),
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
    merged = {**(current or {}), **clean(values)}
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
                "attributes": clean(attributes) if attributes else None,
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


def clean(values: dict[str, Any]) -> dict[str, Any]:
    """The attributes that have a value (None is not written)."""
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


async def version_and_dataset(
    session: AsyncSession, version_id: int
) -> tuple[DatasetVersion, Dataset]:
    """A version and its dataset, read together (every activity on a version names both)."""
    row = (
        await session.execute(
            select(DatasetVersion, Dataset)
            .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
            .where(DatasetVersion.id == version_id)
        )
    ).one()
    return row[0], row[1]
