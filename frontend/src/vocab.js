// The programme's vocabularies as the page names them: GraphQL enum values and theme codes
// mapped to catalogue strings (their official Japanese names are in the ja catalogue, with the
// source of each term in a translator comment). Functions, so they read the current language.
import { _, pgettext } from "./i18n.js";

/** The project lifecycle (server/models/enums.py ProjectPhase), in order. */
export const PHASES = [
  ["IDENTIFICATION", () => pgettext("phase", "Identification")],
  ["REQUESTED", () => pgettext("phase", "Requested")],
  ["APPROVED", () => pgettext("phase", "Approved")],
  ["PLANNING", () => pgettext("phase", "Planning")],
  ["IMPLEMENTATION", () => pgettext("phase", "Implementation")],
  ["COMPLETED", () => pgettext("phase", "Completed")],
  ["FOLLOW_UP", () => pgettext("phase", "Follow up")],
  ["EX_POST_EVALUATED", () => pgettext("phase", "Ex post evaluated")],
  ["REJECTED", () => pgettext("phase", "Rejected")],
  ["WITHDRAWN", () => pgettext("phase", "Withdrawn")],
];

/** The SATREPS research fields and their areas (the themes migration 0001 installs). Themes
 * added later are shown with the name the API gives. */
const FIELDS = {
  "environment-energy": () => _("Environment and Energy"),
  "global-environment": () => _("Global-scale Environmental Issues"),
  "carbon-neutral-energy": () => _("Carbon Neutral Society / Energy"),
  bioresources: () => _("Bioresources"),
  "disaster-prevention": () => _("Disaster Prevention and Mitigation"),
  "infectious-diseases": () => _("Infectious Diseases Control"),
};

/** The components of a technical cooperation project (server/models/cooperation.py). */
export const COMPONENTS = {
  EXPERT_DISPATCH: () => _("Dispatch of experts"),
  TRAINING: () => _("Acceptance of training participants"),
  EQUIPMENT: () => _("Provision of equipment"),
};

const UPLOAD_STATES = {
  AWAITING_UPLOAD: () => pgettext("upload state", "Awaiting upload"),
  UPLOADED: () => pgettext("upload state", "Uploaded"),
  QUEUED: () => pgettext("upload state", "Queued"),
  PROCESSING: () => pgettext("upload state", "Processing"),
  READY: () => pgettext("upload state", "Ready"),
  FAILED: () => pgettext("upload state", "Failed"),
  REJECTED: () => pgettext("upload state", "Rejected"),
  ABORTED: () => pgettext("upload state", "Aborted"),
  QUARANTINED: () => pgettext("upload state", "Quarantined"),
};

const ROLES = {
  ADMIN: () => _("Admin"),
  PROGRAM_MANAGER: () => _("Program manager"),
  RESEARCHER: () => _("Researcher"),
  INSTITUTION_UPLOADER: () => _("Institution uploader"),
};

const HIT_TYPES = {
  PROJECT: () => _("project"),
  DATASET: () => _("dataset"),
  INSTITUTION: () => _("institution"),
  RESEARCHER: () => _("researcher"),
};

/** An enum value nobody named yet: "SOME_VALUE" -> "Some value". */
function fallback(value) {
  return value.replaceAll("_", " ").toLowerCase().replace(/^./, (c) => c.toUpperCase());
}

const named = (table) => (value) => (table[value] ? table[value]() : fallback(value));
const PHASE_NAMES = Object.fromEntries(PHASES);

export const phaseName = named(PHASE_NAMES);
export const uploadStateName = named(UPLOAD_STATES);
export const roleName = named(ROLES);
export const hitTypeName = named(HIT_TYPES);
export const componentName = named(COMPONENTS);

/** A theme ({code, name}) in the page's language. */
export function themeName(theme) {
  return FIELDS[theme.code] ? FIELDS[theme.code]() : theme.name;
}
