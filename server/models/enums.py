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
    # decides access requests for the datasets its institution (the account's) owns
    DATA_STEWARD = "data_steward"


class CourseType(enum.StrEnum):
    """Knowledge Co-Creation Program courses in Japan, or training outside Japan."""

    GROUP_REGION_FOCUS = "group_region_focus"
    COUNTRY_FOCUS = "country_focus"
    YOUNG_LEADERS = "young_leaders"
    THIRD_COUNTRY = "third_country"
    IN_COUNTRY = "in_country"


class EquipmentStatus(enum.StrEnum):
    ORDERED = "ordered"
    DELIVERED = "delivered"
    IN_USE = "in_use"
    OUT_OF_SERVICE = "out_of_service"


class PdmLevel(enum.StrEnum):
    """The rows of JICA's Project Design Matrix (logframe), top down."""

    OVERALL_GOAL = "overall_goal"
    PROJECT_PURPOSE = "project_purpose"
    OUTPUT = "output"
    ACTIVITY = "activity"


class EvaluationKind(enum.StrEnum):
    EX_ANTE = "ex_ante"
    MID_TERM_REVIEW = "mid_term_review"
    TERMINAL = "terminal"
    EX_POST = "ex_post"


class DacRating(enum.StrEnum):
    """OECD-DAC criterion rating: A (highly satisfactory) to D (unsatisfactory)."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"


class MaterialKind(enum.StrEnum):
    SEMINAR_MATERIAL = "seminar_material"
    DIGITAL_CONTENT = "digital_content"


class AccessLevel(enum.StrEnum):
    PUBLIC = "public"
    PROJECT = "project"
    INSTITUTION = "institution"
    EMBARGOED = "embargoed"


class VersionState(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class UploadState(enum.StrEnum):
    AWAITING_UPLOAD = "awaiting_upload"
    UPLOADED = "uploaded"
    QUEUED = "queued"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"
    REJECTED = "rejected"
    ABORTED = "aborted"
    QUARANTINED = "quarantined"  # ClamAV found malware: the raw object sits in quarantine


class CoverageSource(enum.StrEnum):
    DATA = "data"  # read from the files' profiles (the union of them, above a file)
    PERSON = "person"  # set or corrected by an uploader
    MIXED = "mixed"  # a union of parts from the data and parts set by a person


class UploadWarningCode(enum.StrEnum):
    """What processing noticed in a file it still accepted (READY); stable codes."""

    RAGGED_ROWS = "RAGGED_ROWS"  # rows with more or fewer fields than the header: skipped
    ENCODING_FALLBACK = "ENCODING_FALLBACK"  # bytes not valid in the encoding, decoded anyway
    NOT_TEXT = "NOT_TEXT"  # named like a text format, but the bytes are not text: kept opaque
    BAD_LINES = "BAD_LINES"  # lines of NDJSON that are not JSON: skipped
    COLUMNS_DROPPED = "COLUMNS_DROPPED"  # fields beyond the column limit: dropped
    NOT_PROFILED = "NOT_PROFILED"  # over a size limit: kept, not profiled
    NOT_VALIDATED = "NOT_VALIDATED"  # over a size limit: kept, not checked
    NOT_VERIFIED = "NOT_VERIFIED"  # archive members that could not be checked (encrypted)
    SHEET_SKIPPED = "SHEET_SKIPPED"  # a spreadsheet sheet that is not a table (empty, chart)
    NO_UNITS = "NO_UNITS"  # a data variable without a units attribute
    TIME_UNDECODED = "TIME_UNDECODED"  # a time coordinate whose units/calendar do not decode
    BAD_COORDINATES = "BAD_COORDINATES"  # positions outside WGS 84 degrees: no bounding box
    READER_WARNING = "READER_WARNING"  # what the format's own library warned about the file


class FixityOutcome(enum.StrEnum):
    """A fixity check of one raw object: its bytes match the recorded size and sha256, they
    differ, or the object is gone."""

    OK = "ok"
    MISMATCH = "mismatch"
    MISSING = "missing"


class AccessRequestStatus(enum.StrEnum):
    """A request is PENDING until decided, withdrawn or expired; a PENDING row whose
    expires_at has passed reads as EXPIRED everywhere (lazy expiry) until the sweep marks it."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class ApprovalSide(enum.StrEnum):
    """Whose approval: the Japanese lead (the Japanese PI, or a data steward of the Japanese
    lead institution), the partner lead (likewise), or the owner institution's data steward.
    Partner-country data under a bilateral agreement needs both JAPANESE and PARTNER."""

    JAPANESE = "japanese"
    PARTNER = "partner"
    OWNER = "owner"
