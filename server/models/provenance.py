"""W3C PROV as two tables: the nodes (entities, activities, agents) and typed edges.

Edges point as PROV's relations do, from the later or dependent record to what it
depends on (an entity to the activity that generated it, a derived entity to its
source): walking subject -> object goes upstream, object -> subject downstream.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, UTCDateTime, str_enum, utcnow_column


class ProvKind(enum.StrEnum):
    ENTITY = "entity"
    ACTIVITY = "activity"
    AGENT = "agent"


class ProvRelation(enum.StrEnum):
    USED = "used"
    WAS_GENERATED_BY = "wasGeneratedBy"
    WAS_DERIVED_FROM = "wasDerivedFrom"
    WAS_ATTRIBUTED_TO = "wasAttributedTo"
    WAS_ASSOCIATED_WITH = "wasAssociatedWith"
    ACTED_ON_BEHALF_OF = "actedOnBehalfOf"
    WAS_INFORMED_BY = "wasInformedBy"
    SPECIALIZATION_OF = "specializationOf"


class ProvNode(Base):
    """One PROV record. `key` is its stable local name (e.g. `upload-12`, `ingest-12`);
    `dataset_id` / `project_id` say whose access rules decide who may see it."""

    __tablename__ = "prov_nodes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[ProvKind] = mapped_column(str_enum(ProvKind, "prov_kind"))
    type: Mapped[str] = mapped_column(String(32), doc="raw_upload, artifact, ingest, ...")
    label: Mapped[str | None] = mapped_column(String(500))
    dataset_id: Mapped[int | None] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    object_id: Mapped[int | None] = mapped_column(
        Integer, doc="id of the row this record describes (upload, version, researcher...)"
    )
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = utcnow_column()


class ProvEdge(Base):
    __tablename__ = "prov_edges"
    __table_args__ = (
        # (subject, object) first: the upstream walk reads the index alone
        UniqueConstraint("subject_id", "object_id", "relation"),
        Index("ix_prov_edges_object_subject", "object_id", "subject_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    relation: Mapped[ProvRelation] = mapped_column(str_enum(ProvRelation, "prov_relation"))
    subject_id: Mapped[int] = mapped_column(ForeignKey("prov_nodes.id", ondelete="CASCADE"))
    object_id: Mapped[int] = mapped_column(ForeignKey("prov_nodes.id", ondelete="CASCADE"))
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = utcnow_column()
