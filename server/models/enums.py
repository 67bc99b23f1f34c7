"""Domain vocabularies, stored as strings with CHECK constraints on both databases."""

from __future__ import annotations

import enum


class InstitutionKind(enum.StrEnum):
    UNIVERSITY = "university"
    RESEARCH_INSTITUTE = "research_institute"
    GOVERNMENT_AGENCY = "government_agency"
    MINISTRY = "ministry"
    INTERNATIONAL_ORGANISATION = "international_organisation"
    COMPANY = "company"
    NGO = "ngo"


class ProjectPhase(enum.StrEnum):
    IDENTIFICATION = "identification"
    REQUESTED = "requested"
    APPROVED = "approved"
    PLANNING = "planning"
    IMPLEMENTATION = "implementation"
    COMPLETED = "completed"
    FOLLOW_UP = "follow_up"
    EX_POST_EVALUATED = "ex_post_evaluated"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class InstitutionRole(enum.StrEnum):
    JAPANESE_LEAD = "japanese_lead"
    PARTNER_LEAD = "partner_lead"
    JAPANESE_PARTICIPANT = "japanese_participant"
    PARTNER_PARTICIPANT = "partner_participant"
    THIRD_COUNTRY = "third_country"


class MemberRole(enum.StrEnum):
    JAPANESE_PI = "japanese_pi"
    PARTNER_PI = "partner_pi"
    COUNTERPART = "counterpart"
    EXPERT = "expert"
    MEMBER = "member"


class AccountRole(enum.StrEnum):
    ADMIN = "admin"
    PROGRAM_MANAGER = "program_manager"
    RESEARCHER = "researcher"
    INSTITUTION_UPLOADER = "institution_uploader"
