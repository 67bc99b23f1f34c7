"""The codes of access requests, grants and data use agreements (ErrorCode: the shared
ones)."""

from __future__ import annotations

from enum import StrEnum


class AccessRequestErrorCode(StrEnum):
    RESEARCHER_REQUIRED = "RESEARCHER_REQUIRED"  # the account is linked to no researcher
    ALREADY_READABLE = "ALREADY_READABLE"  # the caller may already read the dataset
    ALREADY_GRANTED = "ALREADY_GRANTED"  # a live grant exists (accept the agreement instead)
    DUPLICATE_REQUEST = "DUPLICATE_REQUEST"  # an open request for the dataset exists
    OWN_REQUEST = "OWN_REQUEST"  # nobody decides their own request
    REQUEST_EXPIRED = "REQUEST_EXPIRED"
    REQUEST_CLOSED = "REQUEST_CLOSED"  # approved, denied or withdrawn already
    ALREADY_APPROVED = "ALREADY_APPROVED"  # this account, or its side, approved already
    AGREEMENT_NOT_ACCEPTED = "AGREEMENT_NOT_ACCEPTED"  # the current version, by the requester
    INVALID_GRANT_END = "INVALID_GRANT_END"
    ALREADY_REVOKED = "ALREADY_REVOKED"
    ALREADY_ACCEPTED = "ALREADY_ACCEPTED"
    AGREEMENT_SUPERSEDED = "AGREEMENT_SUPERSEDED"  # a newer version is the one to accept
    INVALID_IRCC = "INVALID_IRCC"
    ABS_COUNTRY_MISMATCH = "ABS_COUNTRY_MISMATCH"  # the IRCC's country is not the provider's
