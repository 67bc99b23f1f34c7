"""The dashboard in a real browser: `satreps serve` as a subprocess on its own SQLite database
and object directory, loaded with `satreps seed --demo`, and the system's headless Chromium
(Debian's `chromium` and `chromium-driver`, installed by scripts/services) driven by Selenium.

Screenshots go to the test's tmp dir and, when SATREPS_TEST_ARTIFACTS names a directory
(CI: artifacts/), are copied there too; their paths are printed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

SATREPS = str(Path(sys.executable).with_name("satreps"))
CHROMIUM = os.environ.get("SATREPS_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SATREPS_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
START_TIMEOUT = 60.0


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives headless Chromium (the dashboard)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    env: dict[str, str]
    log: Path
    tokens: dict[str, str]

    def gql(self, query: str, variables: dict[str, Any] | None = None, *, role: str | None = None):
        """The API as the page reads it; returns `data`, failing on any error."""
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        response = httpx.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]


def _run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [SATREPS, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"satreps {' '.join(args)}: {done.stderr}"
    return done.stdout


@pytest.fixture(scope="package")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """`satreps serve` with the demo graph, an admin and a program manager token."""
    root = tmp_path_factory.mktemp("dashboard")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SATREPS_") or k.startswith("SATREPS_TEST_")
    }
    env.update(
        SATREPS_DATABASE_URL=f"sqlite+aiosqlite:///{root / 'hub.db'}",
        SATREPS_OBJECT_DIR=str(root / "objects"),
        SATREPS_LOG_FORMAT="text",
        SATREPS_LOG_LEVEL="WARNING",
    )
    _run(env, "seed", "--demo")
    tokens = {
        role: _run(env, "token", "create", "--role", role, "--user", f"dash-{role}").strip()
        for role in ("admin", "program_manager")
    }
    port = free_port()
    log = root / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [SATREPS, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert process.poll() is None, f"satreps serve exited: {log.read_text()}"
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"satreps serve did not start: {log.read_text()}"
            time.sleep(0.2)
        yield LiveServer(url=url, env=env, log=log, tokens=tokens)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="package")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless system Chromium through the system ChromeDriver (nothing downloaded)."""
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.skip(f"{CHROMIUM} / {CHROMEDRIVER} missing: scripts/services installs them")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1800",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=CHROMEDRIVER, log_output=subprocess.DEVNULL)
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def artefact(tmp_path: Path):
    """save(driver, name) -> the screenshot's path (tmp dir, and SATREPS_TEST_ARTIFACTS)."""

    def save(driver: Any, name: str) -> Path:
        path = tmp_path / f"{name}.png"
        # the whole page: the window grows to the document's height first
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1400, max(900, min(int(height) + 40, 6000)))
        assert driver.save_screenshot(str(path)), "no screenshot"
        print(f"screenshot: {path}")
        shared = os.environ.get("SATREPS_TEST_ARTIFACTS")
        if shared:
            Path(shared).mkdir(parents=True, exist_ok=True)
            copy = Path(shared) / path.name
            shutil.copyfile(path, copy)
            print(f"screenshot: {copy.resolve()}")
        return path

    return save
