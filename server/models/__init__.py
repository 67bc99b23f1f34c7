"""SQLAlchemy 2 tables, one module per domain on `base`. Relationships are lazy="raise": reads
go through explicit queries. Importing this package registers every table on
`Base.metadata` (Alembic's env.py and the migration test read it from here)."""

from server.models.access import Account, ApiToken, AuditEvent, OidcIdentity
from server.models.base import Base
from server.models.cooperation import (
    DispatchCounterpart,
    EquipmentItem,
    Evaluation,
    ExpertDispatch,
    FollowUpCooperation,
    Indicator,
    IndicatorMeasurement,
    JccMeeting,
    LearningMaterial,
    LessonLearned,
    MonitoringReport,
    PdmElement,
    TrainingCourse,
    TrainingParticipant,
)
from server.models.datasets import (
    Artifact,
    Dataset,
    DatasetFile,
    DatasetKeyword,
    DatasetTheme,
    DatasetVersion,
    FixityCheck,
    Upload,
    UploadWarning,
)
from server.models.institutions import Country, Institution
from server.models.projects import (
    PhaseTransition,
    Project,
    ProjectCountry,
    ProjectInstitution,
    ProjectMember,
    ProjectTheme,
)
from server.models.provenance import ProvEdge, ProvKind, ProvNode, ProvRelation
from server.models.researchers import Affiliation, Researcher
from server.models.stats import (
    StatsCube,
    StatsDataset,
    StatsDatasetBucket,
    StatsProject,
    StatsProjectEquipment,
    StatsProjectOrigin,
    StatsProjectRating,
    StatsPublicProject,
    StatsRefresh,
)
from server.models.texts import LanguageText
from server.models.themes import Theme, ThemeSdg

__all__ = [
    "Account",
    "Affiliation",
    "ApiToken",
    "Artifact",
    "AuditEvent",
    "Base",
    "Country",
    "Dataset",
    "DatasetFile",
    "DatasetKeyword",
    "DatasetTheme",
    "DatasetVersion",
    "FixityCheck",
    "DispatchCounterpart",
    "EquipmentItem",
    "Evaluation",
    "ExpertDispatch",
    "FollowUpCooperation",
    "Indicator",
    "IndicatorMeasurement",
    "Institution",
    "JccMeeting",
    "LanguageText",
    "LearningMaterial",
    "LessonLearned",
    "MonitoringReport",
    "OidcIdentity",
    "PdmElement",
    "PhaseTransition",
    "Project",
    "ProjectCountry",
    "ProjectInstitution",
    "ProjectMember",
    "ProjectTheme",
    "ProvEdge",
    "ProvKind",
    "ProvNode",
    "ProvRelation",
    "Researcher",
    "StatsCube",
    "StatsDataset",
    "StatsDatasetBucket",
    "StatsProject",
    "StatsProjectEquipment",
    "StatsProjectOrigin",
    "StatsProjectRating",
    "StatsPublicProject",
    "StatsRefresh",
    "Theme",
    "ThemeSdg",
    "TrainingCourse",
    "TrainingParticipant",
    "Upload",
    "UploadWarning",
]
