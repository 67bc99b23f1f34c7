"""/dashboard in Japanese and English, in headless Chromium: the language from Accept-Language
(sent through the DevTools protocol, as a Japanese browser would), Japanese labels, the
SATREPS fields and phases by their official names, numbers and dates as Japanese writes them;
then the switch to English, which a reload keeps although the browser still asks for ja. The
data follow the switch too: the page's API calls send its language as Accept-Language, so a
project's title reads in the chosen language where it has one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

pytest.importorskip("selenium", reason="selenium is a test extra: pip install -e '.[test]'")

from babel.dates import format_datetime  # noqa: E402
from babel.numbers import format_decimal  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

from server.http.i18n import compiled_catalogues  # noqa: E402
from tests.browser.conftest import LiveServer  # noqa: E402
from tests.browser.test_dashboard import (  # noqa: E402
    PHASES,
    WAIT,
    attrs,
    no_console_errors,
    open_dashboard,
    wait_ready,
)

pytestmark = pytest.mark.browser
JA = compiled_catalogues()["ja"]["messages"]
PANELS = (
    "#totals-panel",
    "#matrix-panel",
    "#phase-panel",
    "#network-panel",
    "#activity-panel",
    "#uploads-panel",
)
TOTALS = "{ themeStats { totals { projects institutions bytesStored } } }"
PHASE_NAMES_JA = {
    "IDENTIFICATION": "案件発掘・形成",
    "REQUESTED": "要請",
    "APPROVED": "採択",
    "FOLLOW_UP": "フォローアップ",
}
FIELDS_JA = {
    "environment-energy": "環境・エネルギー",
    "bioresources": "生物資源",
    "disaster-prevention": "防災",
    "infectious-diseases": "感染症",
}


@pytest.fixture
def japanese_browser(chromium: WebDriver, live_server: LiveServer) -> Iterator[WebDriver]:
    """The browser asks for Japanese on every request; nothing remembered at the start."""
    chromium.get(f"{live_server.url}/dashboard")
    chromium.execute_script("localStorage.removeItem('satreps.lang')")
    chromium.execute_cdp_cmd("Network.enable", {})
    chromium.execute_cdp_cmd(
        "Network.setExtraHTTPHeaders", {"headers": {"Accept-Language": "ja,en;q=0.5"}}
    )
    try:
        yield chromium
    finally:
        chromium.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {}})
        chromium.execute_script("localStorage.removeItem('satreps.lang')")


def text(driver: WebDriver, selector: str) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, selector).text)


def texts(driver: WebDriver, selector: str) -> list[str]:
    script = "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent)"
    return list(driver.execute_script(script, selector))


def kpis(driver: WebDriver) -> dict[str, str]:
    script = (
        "return Object.fromEntries([...document.querySelectorAll('#totals .kpi')]"
        ".map(k => [k.dataset.key, k.querySelector('strong').textContent]))"
    )
    return dict(driver.execute_script(script))


def lang(driver: WebDriver) -> str:
    return str(driver.execute_script("return document.documentElement.lang"))


def test_japanese_from_accept_language_then_english_remembered(
    japanese_browser: WebDriver, live_server: LiveServer, artefact: Any
) -> None:
    driver = japanese_browser
    totals = live_server.gql(TOTALS, role="program_manager")["themeStats"]["totals"]
    open_dashboard(driver, live_server, "program_manager")

    # the server chose Japanese from Accept-Language; the page speaks it
    assert lang(driver) == "ja"
    assert driver.title == "SATREPS ハブ ダッシュボード"
    assert text(driver, "#phase-panel h2") == "段階別プロジェクト数"
    assert text(driver, "#who") == "サインイン中: プログラム担当者"
    assert texts(driver, "#uploads thead th") == [
        "ファイル",
        "データセット",
        "状態",
        "試行回数",
        "更新日時",
    ]
    placeholder = driver.find_element(By.ID, "search").get_attribute("placeholder")
    assert placeholder == "プロジェクト・データセット・機関・研究者を検索"
    assert Select(driver.find_element(By.ID, "lang")).first_selected_option.text == "日本語"

    # the lifecycle phases in order, by JICA's names
    bars = dict(zip(PHASES, texts(driver, "#phases text.row-label"), strict=True))
    assert bars == {
        p: JA[f"phase\x04{label}"] for p, label in zip(PHASES, ENGLISH_PHASES, strict=True)
    }
    for phase, name in PHASE_NAMES_JA.items():
        assert bars[phase] == name
    # the SATREPS fields by JST's names: each theme row with cells (its <title> is the name)
    script = (
        "return [...document.querySelectorAll('#matrix text.row-label')]"
        ".map(e => [e.dataset.theme, e.querySelector('title').textContent])"
    )
    rows = dict(driver.execute_script(script))
    assert set(FIELDS_JA) & set(rows), rows
    for code, name in FIELDS_JA.items():
        if code in rows:
            assert rows[code] == name, (code, rows[code])

    # numbers and dates as Japanese writes them (Babel's CLDR data, independently of the page)
    shown = kpis(driver)
    assert shown["projects"] == format_decimal(totals["projects"], locale="ja")
    assert shown["institutions"] == format_decimal(totals["institutions"], locale="ja")
    years = [y for (y,) in attrs(driver, "#activity text.year", "data-year")]
    assert years and texts(driver, "#activity text.year") == [f"{y}年" for y in years]
    zone = ZoneInfo(
        driver.execute_script("return Intl.DateTimeFormat().resolvedOptions().timeZone")
    )
    cells = attrs(driver, "#uploads td.updated", "data-updated")
    assert cells
    for (updated,), shown_at in zip(cells, texts(driver, "#uploads td.updated"), strict=True):
        at = datetime.fromisoformat(updated)
        assert shown_at == format_datetime(at, "medium", tzinfo=zone, locale="ja"), shown_at
        assert re.fullmatch(r"\d{4}/\d{2}/\d{2} \d{1,2}:\d{2}:\d{2}", shown_at)
    states = texts(driver, "#upload-counts li")
    assert states and all(s.startswith(("完了", "失敗", "処理", "アップロード")) for s in states)
    no_console_errors(driver)
    artefact(driver, "dashboard-ja")

    # the switch: English, and it stays English after a reload though the browser asks for ja
    Select(driver.find_element(By.ID, "lang")).select_by_value("en")
    WebDriverWait(driver, WAIT).until(lambda d: lang(d) == "en")
    wait_ready(driver, *PANELS)
    WebDriverWait(driver, WAIT).until(lambda d: text(d, "#phase-panel h2") == "Projects by phase")
    assert driver.execute_script("return localStorage.getItem('satreps.lang')") == "en"
    driver.refresh()
    wait_ready(driver, *PANELS)
    WebDriverWait(driver, WAIT).until(lambda d: text(d, "#phase-panel h2") == "Projects by phase")
    assert lang(driver) == "en"
    assert text(driver, "#who") == "signed in: Program manager"
    assert texts(driver, "#phases text.row-label")[0] == "Identification"
    assert kpis(driver)["projects"] == format_decimal(totals["projects"], locale="en")
    assert texts(driver, "#activity text.year") == [
        y for (y,) in attrs(driver, "#activity text.year", "data-year")
    ]
    for (updated,), shown_at in zip(
        attrs(driver, "#uploads td.updated", "data-updated"),
        texts(driver, "#uploads td.updated"),
        strict=True,
    ):
        at = datetime.fromisoformat(updated)
        # Chromium keeps a plain space before AM/PM where CLDR now has a narrow no-break one
        expected = format_datetime(at, "medium", tzinfo=zone, locale="en").replace("\u202f", " ")
        assert shown_at == expected, shown_at
    no_console_errors(driver)
    artefact(driver, "dashboard-en-remembered")


ENGLISH_PHASES = [
    "Identification",
    "Requested",
    "Approved",
    "Planning",
    "Implementation",
    "Completed",
    "Follow up",
    "Ex post evaluated",
    "Rejected",
    "Withdrawn",
]


CORAL = """{ search(query: "coral", types: [PROJECT], first: 1) { edges { node {
    ... on Project { id title titles { lang value translated } } } } } }"""
SET_TITLES = """mutation($input: UpdateProjectInput!) { updateProject(input: $input) {
    errors { field code } } }"""
CORAL_JA = "コーラル・トライアングルのサンゴ礁保全"


def hit_title(driver: WebDriver, query: str, node_id: str) -> str:
    """The title the search panel shows for the node among the hits of `query`."""
    box = driver.find_element(By.ID, "search")
    box.clear()
    box.send_keys(query)
    driver.find_element(By.CSS_SELECTOR, "#search-form button").click()
    WebDriverWait(driver, WAIT).until(
        lambda d: d.find_element(By.ID, "search-panel").get_attribute("data-state") == "ready"
    )
    script = (
        "const li = [...document.querySelectorAll('#search-results li')]"
        ".find(e => e.dataset.id === arguments[0]);"
        "return li ? li.querySelector('.hit-title').textContent : null"
    )
    return str(driver.execute_script(script, node_id))


def test_the_data_follow_the_switch(
    chromium: WebDriver, live_server: LiveServer, artefact: Any
) -> None:
    """The browser asks for English (Chromium's default); the switch says Japanese: the
    project's title comes in Japanese, then in English once the switch says so."""
    project = live_server.gql(CORAL, role="program_manager")["search"]["edges"][0]["node"]
    before = project["titles"]
    titles = [*before, {"lang": "ja", "value": CORAL_JA, "translated": True}]
    written = live_server.gql(
        SET_TITLES, {"input": {"id": project["id"], "titles": titles}}, role="admin"
    )
    assert written["updateProject"]["errors"] == []
    try:
        chromium.get(f"{live_server.url}/dashboard")
        assert lang(chromium) == "en"  # what the server negotiated with the browser
        chromium.execute_script("localStorage.setItem('satreps.lang', 'ja')")
        open_dashboard(chromium, live_server, "program_manager")
        assert lang(chromium) == "ja"
        assert CORAL_JA in hit_title(chromium, "coral", project["id"])
        artefact(chromium, "dashboard-data-ja")
        Select(chromium.find_element(By.ID, "lang")).select_by_value("en")
        WebDriverWait(chromium, WAIT).until(lambda d: lang(d) == "en")
        wait_ready(chromium, *PANELS)
        shown = hit_title(chromium, "coral", project["id"])
        assert project["title"] in shown and CORAL_JA not in shown, shown
        no_console_errors(chromium)
    finally:
        live_server.gql(
            SET_TITLES, {"input": {"id": project["id"], "titles": before}}, role="admin"
        )
        chromium.execute_script("localStorage.removeItem('satreps.lang')")
