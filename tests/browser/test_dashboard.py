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
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from server.demo import PROJECTS as DEMO_PROJECTS  # noqa: E402
from tests.browser.conftest import LiveServer  # noqa: E402

pytestmark = pytest.mark.browser
WAIT = 30.0

PROJECTS = """query Projects($after: String) {
  projects(first: 100, after: $after) {
    edges { node { id acronym phase themes { code } partnerCountries { code }
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
    wait_ready(driver, "#matrix-panel", "#phase-panel", "#network-panel", "#uploads-panel")


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


def test_charts_match_the_api_and_the_demo(
    chromium: WebDriver, live_server: LiveServer, artefact
) -> None:
    projects = all_projects(live_server, "program_manager")
    open_dashboard(chromium, live_server, "program_manager")
    assert chromium.find_element(By.ID, "who").text == "signed in: Program manager"

    # projects by phase: the API's counts, and the demo's own (52 projects, 13 running)
    shown = {phase: int(n) for phase, n in attrs(chromium, "rect.bar", "data-phase", "data-count")}
    assert shown == {p: n for p, n in Counter(p["phase"] for p in projects).items()} | {
        p: 0 for p in shown if p not in {q["phase"] for q in projects}
    }
    assert sum(shown.values()) == len(DEMO_PROJECTS) == 52
    assert shown["IMPLEMENTATION"] == 13
    assert shown == dict(Counter(p.phase.name for p in DEMO_PROJECTS)) | {
        p: 0 for p in shown if p not in {d.phase.name for d in DEMO_PROJECTS}
    }

    # theme x country: every non-empty cell is the number of projects the API lists there
    expected = Counter(
        (t["code"], c["code"]) for p in projects for t in p["themes"] for c in p["partnerCountries"]
    )
    cells = {
        (theme, country): int(n)
        for theme, country, n in attrs(
            chromium, "rect.cell", "data-theme", "data-country", "data-count"
        )
    }
    assert {k: v for k, v in cells.items() if v} == dict(expected)
    countries = {c for _, c in cells}
    assert countries == {c for d in DEMO_PROJECTS for c in d.countries}
    assert len(countries) >= 25
    coral = next(p for p in projects if p["acronym"] == "CORAL-TRIANGLE")
    assert {c["code"] for c in coral["partnerCountries"]} == {"ID", "PH"}
    assert cells[(coral["themes"][0]["code"], "ID")] >= 1

    # the network: every institution of a project, an edge per pair that shares one
    institutions = {i["institution"]["id"] for p in projects for i in p["institutions"]}
    pairs = {
        tuple(sorted((a, b)))
        for p in projects
        for a in {i["institution"]["id"] for i in p["institutions"]}
        for b in {i["institution"]["id"] for i in p["institutions"]}
        if a < b
    }
    svg = chromium.find_element(By.CSS_SELECTOR, "#network svg")
    assert int(svg.get_attribute("data-nodes")) == len(institutions)
    assert int(svg.get_attribute("data-edges")) == len(pairs)
    assert {n for (n,) in attrs(chromium, "circle.node", "data-id")} == institutions
    sides = Counter(cls.split()[1] for (cls,) in attrs(chromium, "circle.node", "class"))
    assert sides["jp"] > 0 and sides["partner"] > 0
    assert attrs(chromium, "line.link.jp-partner", "data-weight")

    no_console_errors(chromium)
    path = artefact(chromium, "dashboard-program-manager")
    assert path.stat().st_size > 10_000


def test_anonymous_sees_public_projects_only(chromium: WebDriver, live_server: LiveServer) -> None:
    public = all_projects(live_server, None)
    open_dashboard(chromium, live_server, None)
    assert chromium.find_element(By.ID, "who").text == "anonymous (public data)"
    assert chromium.execute_script("return sessionStorage.getItem('satreps.token')") is None
    shown = sum(int(n) for (n,) in attrs(chromium, "rect.bar", "data-count"))
    assert shown == len(public)
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

    # the bytes and completeUpload come from outside the page: it learns by subscription
    put_url = httpx.URL(live_server.url).join(started["instructions"]["putUrl"])
    put = httpx.put(put_url, content=CSV, timeout=30)
    assert put.status_code < 300, put.text
    done = live_server.gql(COMPLETE, {"u": upload_id}, role="admin")["completeUpload"]
    assert done["errors"] == [], done
    WebDriverWait(chromium, WAIT).until(lambda d: attrs(d, row, "data-state") == [("READY",)])
    assert chromium.find_element(By.ID, "live").text == ""
    counts = dict(attrs(chromium, "#upload-counts li", "data-state", "data-count"))
    assert counts.get("READY") == "1"
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
