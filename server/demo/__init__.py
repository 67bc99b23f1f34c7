"""A realistic SATREPS research graph for demos, screenshots and benchmarks.

`seed_demo` loads some fifty joint research projects between Japan and 36 partner
countries, in the four SATREPS fields and in every lifecycle phase, with their partner
countries, institutions, researchers, affiliations and phase history, and, in proportion to
each project's phase and duration, its technical cooperation (expert dispatches with their
counterparts, training courses with their trainees, equipment), its Project Design Matrix
(goal, purpose, outputs, activities, indicators and their measurements) and its monitoring
and evaluation (JCC meetings, monitoring reports, evaluations with lessons learned,
follow-up cooperation, learning materials). `cooperation` says in what proportions.

What is real and what is not:
- Institutions are real (names in English and in the local language or script, acronyms).
  ROR ids are set only for the two we are sure of; a checksum-valid id of another
  organisation would be false data, so the others stay None.
- Projects, researchers, e-mail addresses (under the reserved `.example` domain), phase
  histories and every cooperation, PDM and M&E record are fictional; every project summary
  and evaluation summary says so, material URLs are under https://example.org/.
  Researchers get no ORCID iD: any checksum-valid iD falls in ORCID's issued blocks and
  may belong to a real person.

Everything is deterministic: one `random.Random(seed)` and dates counted from
REFERENCE_DATE (the day the graph is "as of"), never from today.

Loading twice is refused: `seed_demo` raises DemoDataExists when a demo project acronym is
already in the database, `seed_scaled` when its benchmark themes exist. Both only add and
flush; the caller commits.

`seed_scaled` builds a larger synthetic graph for benchmarks (N new themes x M projects x K
institutions) from the same institution catalogue and the same project builder, so its
projects obey the same rules (roles match countries, histories follow TRANSITIONS). It adds
no cooperation, PDM or M&E records (their counts are 0): the benchmark reads the research
graph, and leaving them out keeps a large benchmark load fast.

The package: `data/` holds the catalogue as JSON (institutions, names, projects, fields,
texts, topics), `loader` reads it into specs, `planner` drafts projects and people,
`cooperation` their records, `generate` makes the plans, `seed` writes them. `datasets`
loads the demo's datasets after the graph: real, openly licensed files (`data/datasets/`,
their origins and licences in SOURCES.md there) uploaded and processed as a user's are;
`satreps seed --demo` runs both, tests opt into the datasets (workers/demo.py).
"""

from server.demo.drafts import CooperationDraft, ProjectDraft
from server.demo.generate import plan_demo, plan_scaled
from server.demo.loader import LANGUAGE, PROJECTS
from server.demo.planner import DEMO_SEED, REFERENCE_DATE
from server.demo.seed import DemoDataExists, seed_demo, seed_scaled

__all__ = [
    "DEMO_SEED",
    "LANGUAGE",
    "PROJECTS",
    "REFERENCE_DATE",
    "CooperationDraft",
    "DemoDataExists",
    "ProjectDraft",
    "plan_demo",
    "plan_scaled",
    "seed_demo",
    "seed_scaled",
]
