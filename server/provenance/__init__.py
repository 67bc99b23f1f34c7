"""W3C PROV provenance: recorded as a by-product (records, ingest, decisions, edits), read as
lineage (lineage), exported as PROV-JSON, PROV-O, PROV-N (documents) and RO-Crate (export),
checked for fixity (fixity)."""

from __future__ import annotations

import enum


class ExportFormat(enum.StrEnum):
    PROV_JSON = "prov-json"
    PROV_JSONLD = "prov-jsonld"  # PROV-O as JSON-LD
    PROV_TURTLE = "prov-turtle"  # PROV-O as Turtle
    PROV_N = "prov-n"
    RO_CRATE = "ro-crate"
