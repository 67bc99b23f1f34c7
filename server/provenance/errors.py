"""The codes of provenance: lineage and exports (ErrorCode: the shared ones)."""

from __future__ import annotations

from enum import StrEnum


class ProvenanceErrorCode(StrEnum):
    DERIVATION_CYCLE = "DERIVATION_CYCLE"
    INVALID_DEPTH = "INVALID_DEPTH"
    SELF_DERIVATION = "SELF_DERIVATION"
