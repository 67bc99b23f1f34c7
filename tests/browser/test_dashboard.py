"""/dashboard in headless Chromium against `satreps serve` with the demo graph: the charts
show what the GraphQL API says (the test issues the same query) and what the demo is known
to hold; an upload moves live in the pipeline panel; a screenshot is kept."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any

import httpx
import pytest

pytest.importorskip("selenium", reason="selenium is a test extra: pip install -e '.[test]'")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

from server.demo import PROJECTS as DEMO_PROJECTS  # noqa: E402
from server.demo.datasets import DATASETS  # noqa: E402
from tests.browser.conftest import LiveServer  # noqa: E402

pytestmark = pytest.mark.browser
WAIT = 30.0
PHASES = [
    "IDENTIFICATION",
    "REQUESTED",
    "APPROVED",
    "PLANNING",
    "IMPLEMENTATION",
    "COMPLETED",
    "FOLLOW_UP",
    "EX_POST_EVALUATED",
    "REJECTED",
    "WITHDRAWN",
]

PROJECTS = """query Projects($after: String) {
  projects(first: 100, after: $after) {
    edges { node { id acronym phase startDate themes { code } partnerCountries { code }
                   institutions { institution { id } } } }
    pageInfo { hasNextPage endCursor } } }"""


def all_projects(server: LiveServer, role: str | None) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        page = server.gql(PROJECTS, {"after": after}, role=role)["projects"]
        nodes += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


def open_dashboard(driver: WebDriver, server: LiveServer, role: str | None) -> None:
    """Open the page, put the token in (or sign out), wait for the three charts."""
    driver.get(f"{server.url}/dashboard")
    field = driver.find_element(By.ID, "token")
    field.clear()
    if role:
        field.send_keys(server.tokens[role])
        driver.find_element(By.CSS_SELECTOR, "#token-form button[type=submit]").click()
    else:
        driver.find_element(By.ID, "token-clear").click()
    wait_ready(
        driver,
        "#totals-panel",
        "#matrix-panel",
        "#phase-panel",
        "#network-panel",
        "#activity-panel",
        "#uploads-panel",
    )


def wait_ready(driver: WebDriver, *panels: str) -> None:
    def ready(d: WebDriver) -> bool:
        states = [d.find_element(By.CSS_SELECTOR, p).get_attribute("data-state") for p in panels]
        errors = d.find_elements(By.CSS_SELECTOR, ".panel .error")
        assert not errors, [e.text for e in errors]
        return all(s == "ready" for s in states)

    WebDriverWait(driver, WAIT).until(ready)


def attrs(driver: WebDriver, selector: str, *names: str) -> list[tuple[str, ...]]:
    """The given attributes of every match, read in one round trip."""
    script = (
        "return [...document.querySelectorAll(arguments[0])]"
        ".map(e => arguments[1].map(n => e.getAttribute(n)))"
    )
    return [tuple(row) for row in driver.execute_script(script, selector, list(names))]


def no_console_errors(driver: WebDriver) -> None:
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe


STATS = """{ themeStats {
    totals { projects institutions datasets uploadsReady }
    matrix { theme { code } countryCode projects datasets }
    byPhase { phase figures { projects } } } }"""
NETWORK = """{ collaborationNetwork {
    nodes { id side } edges { source target weight japanPartner } } }"""


def test_charts_match_the_api_and_the_demo(
    chromium: WebDriver, live_server: LiveServer, artefact
) -> None:
    projects = all_projects(live_server, "program_manager")
    stats = live_server.gql(STATS, role="program_manager")["themeStats"]
    graph = live_server.gql(NETWORK, role="program_manager")["collaborationNetwork"]
    open_dashboard(chromium, live_server, "program_manager")
    assert chromium.find_element(By.ID, "who").text == "signed in: Program manager"

    totals = dict(attrs(chromium, "#totals .kpi", "data-key", "data-value"))
    assert int(totals["projects"]) == stats["totals"]["projects"] == len(DEMO_PROJECTS) == 52
    assert int(totals["institutions"]) == stats["totals"]["institutions"]

    # projects by phase: themeStats' counts, the projects list's, and the demo's own
    shown = {phase: int(n) for phase, n in attrs(chromium, "rect.bar", "data-phase", "data-count")}
    assert list(shown) == PHASES  # every phase, in lifecycle order
    assert {k: v for k, v in shown.items() if v} == {
        p["phase"]: p["figures"]["projects"] for p in stats["byPhase"] if p["figures"]["projects"]
    }
    assert {k: v for k, v in shown.items() if v} == dict(Counter(p["phase"] for p in projects))
    assert {k: v for k, v in shown.items() if v} == dict(
        Counter(p.phase.name for p in DEMO_PROJECTS)
    )
    assert shown["IMPLEMENTATION"] == 13 and shown["EX_POST_EVALUATED"] == 8

    # theme x country: every non-empty cell is themeStats' matrix cell
    def cells() -> dict[tuple[str, str], int]:
        rows = attrs(chromium, "rect.cell", "data-theme", "data-country", "data-count")
        return {(theme, country): int(n) for theme, country, n in rows if int(n)}

    assert (
        chromium.find_element(By.CSS_SELECTOR, "#matrix svg").get_attribute("data-metric")
        == "projects"
    )
    assert cells() == {
        (c["theme"]["code"], c["countryCode"]): c["projects"]
        for c in stats["matrix"]
        if c["projects"]
    }
    countries = {c for _, c in cells()}
    assert countries == {c for d in DEMO_PROJECTS for c in d.countries}
    assert len(countries) >= 25
    # a project tagged with a theme counts in that theme's row (a parent's row includes it)
    coral = next(p for p in projects if p["acronym"] == "CORAL-TRIANGLE")
    assert {c["code"] for c in coral["partnerCountries"]} == {"ID", "PH"}
    assert cells()[(coral["themes"][0]["code"], "PH")] >= 1
    per_theme_country = Counter(
        (t["code"], c["code"]) for p in projects for t in p["themes"] for c in p["partnerCountries"]
    )
    for key, n in per_theme_country.items():
        assert cells()[key] >= n, key
    # the datasets view of the same matrix
    Select(chromium.find_element(By.ID, "matrix-metric")).select_by_value("datasets")
    assert (
        chromium.find_element(By.CSS_SELECTOR, "#matrix svg").get_attribute("data-metric")
        == "datasets"
    )
    assert cells() == {
        (c["theme"]["code"], c["countryCode"]): c["datasets"]
        for c in stats["matrix"]
        if c["datasets"]
    }
    Select(chromium.find_element(By.ID, "matrix-metric")).select_by_value("projects")

    # the network: collaborationNetwork's nodes and edges, Japan <-> partner edges marked
    svg = chromium.find_element(By.CSS_SELECTOR, "#network svg")
    assert int(svg.get_attribute("data-nodes")) == len(graph["nodes"])
    assert int(svg.get_attribute("data-edges")) == len(graph["edges"])
    side = {"JAPAN": "jp", "PARTNER": "partner", "THIRD_COUNTRY": "third"}
    assert {(i, c.split()[1]) for i, c in attrs(chromium, "circle.node", "data-id", "class")} == {
        (n["id"], side[n["side"]]) for n in graph["nodes"]
    }
    assert {
        (a, b, int(w), "jp-partner" in c)
        for a, b, w, c in attrs(
            chromium, "line.link", "data-source", "data-target", "data-weight", "class"
        )
    } == {(e["source"], e["target"], e["weight"], e["japanPartner"]) for e in graph["edges"]}
    # every institution of a project is in it, and the pairs that share one are linked
    institutions = {i["institution"]["id"] for p in projects for i in p["institutions"]}
    assert {n["id"] for n in graph["nodes"]} == institutions
    sides = Counter(n["side"] for n in graph["nodes"])
    assert sides["JAPAN"] > 0 and sides["PARTNER"] > 0 and sides["THIRD_COUNTRY"] > 0

    # activity per month: activityTimeSeries summed over the top-level themes (a parent
    # includes its sub-themes); each demo project has one theme, so each start counts once
    series = live_server.gql(
        "{ activityTimeSeries { month projectsStarted theme { parent { code } } } }",
        role="program_manager",
    )["activityTimeSeries"]
    started: Counter[str] = Counter()
    for point in series:
        if point["theme"]["parent"] is None:
            started[point["month"]] += point["projectsStarted"]
    shown_started = {
        month: int(n)
        for month, n in attrs(chromium, "rect.activity.started", "data-month", "data-started")
    }
    assert shown_started == {m: n for m, n in started.items() if n}
    assert sum(shown_started.values()) == sum(1 for p in projects if p["startDate"])

    no_console_errors(chromium)
    path = artefact(chromium, "dashboard-program-manager")
    assert path.stat().st_size > 10_000


def test_a_filter_narrows_every_chart(chromium: WebDriver, live_server: LiveServer) -> None:
    open_dashboard(chromium, live_server, "program_manager")
    filtered = {"phases": ["IMPLEMENTATION"]}
    stats = live_server.gql(
        "query($f: StatsFilter) { themeStats(filter: $f) { totals { projects } } "
        "collaborationNetwork(filter: $f) { nodes { id } edges { source } } }",
        {"f": filtered},
        role="program_manager",
    )
    Select(chromium.find_element(By.ID, "filter-phase")).select_by_value("IMPLEMENTATION")
    chromium.find_element(By.CSS_SELECTOR, "#filter-form button").click()

    def narrowed(d: WebDriver) -> bool:
        kpi = dict(attrs(d, "#totals .kpi", "data-key", "data-value"))
        return kpi.get("projects") == "13"

    WebDriverWait(chromium, WAIT).until(narrowed)
    wait_ready(chromium, "#matrix-panel", "#phase-panel", "#network-panel")
    bars = {p: int(n) for p, n in attrs(chromium, "rect.bar", "data-phase", "data-count")}
    assert {k: v for k, v in bars.items() if v} == {"IMPLEMENTATION": 13}
    assert stats["themeStats"]["totals"]["projects"] == 13
    WebDriverWait(chromium, WAIT).until(
        lambda d: (
            d.find_element(By.CSS_SELECTOR, "#network svg").get_attribute("data-nodes")
            == str(len(stats["collaborationNetwork"]["nodes"]))
        )
    )
    no_console_errors(chromium)


def test_search_shows_ranked_hits_with_highlights(
    chromium: WebDriver, live_server: LiveServer, artefact
) -> None:
    api = live_server.gql(
        """{ search(query: "coral", first: 20) { totalCount
             edges { type highlight node {
               ... on Project { id acronym } ... on Dataset { id } } } } }""",
        role="program_manager",
    )["search"]
    open_dashboard(chromium, live_server, "program_manager")
    box = chromium.find_element(By.ID, "search")
    box.send_keys("coral")
    chromium.find_element(By.CSS_SELECTOR, "#search-form button").click()
    WebDriverWait(chromium, WAIT).until(
        lambda d: d.find_element(By.ID, "search-panel").get_attribute("data-state") == "ready"
    )
    hits = attrs(chromium, "#search-results li", "data-type", "data-id")
    assert hits == [(e["type"], e["node"]["id"]) for e in api["edges"]]
    assert api["totalCount"] >= 1
    first = chromium.find_element(By.CSS_SELECTOR, "#search-results li")
    assert "CORAL-TRIANGLE" in first.find_element(By.CLASS_NAME, "hit-title").text
    marks = [m.text.lower() for m in first.find_elements(By.TAG_NAME, "mark")]
    assert marks and all(m == "coral" for m in marks)
    summary = chromium.find_element(By.ID, "search-summary").text
    assert summary.startswith(f"{api['totalCount']} hit")

    # a type narrows the search; a query with no match says so
    Select(chromium.find_element(By.ID, "search-type")).select_by_value("INSTITUTION")
    box.clear()
    box.send_keys("university")
    chromium.find_element(By.CSS_SELECTOR, "#search-form button").click()
    WebDriverWait(chromium, WAIT).until(
        lambda d: d.find_element(By.ID, "search-summary").text.endswith("\u201cuniversity\u201d")
    )
    types = {t for (t,) in attrs(chromium, "#search-results li", "data-type")}
    assert types == {"INSTITUTION"}
    no_console_errors(chromium)
    artefact(chromium, "dashboard-search")


def test_anonymous_sees_public_projects_only(chromium: WebDriver, live_server: LiveServer) -> None:
    public = all_projects(live_server, None)
    open_dashboard(chromium, live_server, None)
    assert chromium.find_element(By.ID, "who").text == "anonymous (public data)"
    assert chromium.execute_script("return sessionStorage.getItem('satreps.token')") is None
    anonymous = live_server.gql("{ themeStats { totals { projects } } }")["themeStats"]
    shown = sum(int(n) for (n,) in attrs(chromium, "rect.bar", "data-count"))
    assert shown == len(public) == anonymous["totals"]["projects"]
    kpi = dict(attrs(chromium, "#totals .kpi", "data-key", "data-value"))
    assert int(kpi["projects"]) == len(public)
    no_console_errors(chromium)


CREATE = """mutation($input: CreateDatasetInput!) {
  createDataset(input: $input) { dataset { id draft { id } } errors { code message } } }"""
START = """mutation($v: ID!, $name: String!, $size: Long!, $sha: String) {
  startUpload(datasetVersionId: $v, filename: $name, byteSize: $size, sha256: $sha) {
    upload { id state } instructions { putUrl } errors { code message } } }"""
COMPLETE = """mutation($u: ID!) { completeUpload(uploadId: $u) {
    upload { id state } errors { code message } } }"""
CSV = b"station,date,level_m\nBKK-01,2023-01-01,1.52\nBKK-01,2023-01-02,1.61\n"


def test_an_upload_moves_live_in_the_pipeline_panel(
    chromium: WebDriver, live_server: LiveServer, artefact
) -> None:
    project = live_server.gql(
        """{ projects(first: 1, filter: {phase: IMPLEMENTATION}) { edges { node { id
             institutions { institution { id } } } } } }""",
        role="admin",
    )["projects"]["edges"][0]["node"]
    created = live_server.gql(
        CREATE,
        {
            "input": {
                "projectId": project["id"],
                "ownerInstitutionId": project["institutions"][0]["institution"]["id"],
                "title": "Dashboard river levels",
                "licence": "CC-BY-4.0",
            }
        },
        role="admin",
    )["createDataset"]
    assert created["errors"] == [], created
    started = live_server.gql(
        START,
        {
            "v": created["dataset"]["draft"]["id"],
            "name": "levels.csv",
            "size": len(CSV),
            "sha": hashlib.sha256(CSV).hexdigest(),
        },
        role="admin",
    )["startUpload"]
    assert started["errors"] == [], started
    upload_id = started["upload"]["id"]

    open_dashboard(chromium, live_server, "admin")
    row = f'#uploads tr[data-upload="{upload_id}"]'
    WebDriverWait(chromium, WAIT).until(
        lambda d: attrs(d, row, "data-state") == [("AWAITING_UPLOAD",)]
    )
    assert "following 1 live" in chromium.find_element(By.ID, "live").text
    before = dict(attrs(chromium, "#upload-counts li", "data-state", "data-count"))
    assert before.get("READY") == str(len(DATASETS))  # the demo's datasets (seed --demo)

    # the bytes and completeUpload come from outside the page: it learns by subscription
    put_url = httpx.URL(live_server.url).join(started["instructions"]["putUrl"])
    put = httpx.put(put_url, content=CSV, timeout=30)
    assert put.status_code < 300, put.text
    done = live_server.gql(COMPLETE, {"u": upload_id}, role="admin")["completeUpload"]
    assert done["errors"] == [], done
    WebDriverWait(chromium, WAIT).until(lambda d: attrs(d, row, "data-state") == [("READY",)])
    assert chromium.find_element(By.ID, "live").text == ""
    counts = dict(attrs(chromium, "#upload-counts li", "data-state", "data-count"))
    assert counts.get("READY") == str(len(DATASETS) + 1)
    no_console_errors(chromium)
    artefact(chromium, "dashboard-upload-ready")


def test_the_page_loads_nothing_from_elsewhere(chromium: WebDriver, live_server: LiveServer):
    open_dashboard(chromium, live_server, None)
    loaded = chromium.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert loaded and all(url.startswith(live_server.url + "/") for url in loaded), json.dumps(
        loaded
    )
