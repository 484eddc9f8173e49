"""Browser-test fixtures: the built web apps, the apps serving them, headless Chromium.

- ``web_dist``: runs ``scripts/web.sh`` once per session (quick when nothing changed).
- ``site``: ``contract_app.build_contract_app`` under uvicorn on 127.0.0.1, a fresh one per test.
- ``real_site``: the real control API (``create_app``) on a fresh test database holding the demo company
  (``seed_demo_company``: one user per role), under uvicorn on 127.0.0.1; ``logins`` has each password. The
  company is seeded once per session into a template database (each password is an argon2 hash: ≈ 2 s a
  seeding); each test's database is a copy of it.
- ``station_site``: the same with ``create_app(..., role=Role.STATION)`` (a station server's back office).
- ``pos_site``: a station server as the POS sees it: ``create_app(..., role=Role.STATION)`` on the station's own
  database holding the master-data list head office sent for demo-01 (nozzles, users).
- ``second_browser``: a Chromium of its own beside ``browser`` (a second POS terminal: its own storage).
- ``browser``: Debian's ``chromium`` through its ``chromedriver`` (Selenium's own driver download
  off), headless, every host but 127.0.0.1 unresolvable so a CDN link fails the test. Missing
  Chromium is a failure that says to run ``scripts/browser.sh``, never a skip. One Chromium serves the
  session; each test gets a fresh tab (its own sessionStorage, where the token lives), no cookies and
  the default download behaviour.

Screenshots go to ``$FORECOURT_SCREENSHOTS`` when set, else to the test's tmp_path.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import uvicorn
from fastapi import FastAPI
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from business_services.access.demo import DemoLogin, seed_demo_company
from business_services.stations import copy as station_copy
from business_services.stations import views as station_views
from control_api.app import create_app
from control_api.security import TokenIssuer
from forecourt.roles import Role
from forecourt.stations import import_file
from tests.e2e.web.contract_app import build_contract_app
from tests.support.databases import DatabaseCopies

ROOT = Path(__file__).resolve().parents[3]
DEMO_STATION = ROOT / "config" / "stations" / "demo.yaml"


@pytest.fixture(scope="session")
def web_dist() -> Path:
    subprocess.run([str(ROOT / "scripts" / "web.sh")], check=True, cwd=ROOT)
    dist = ROOT / "control_api" / "web" / "dist"
    assert (dist / "admin" / "index.html").is_file()
    return dist


@dataclass
class Site:
    url: str
    app: FastAPI


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def _served(app: FastAPI, lifespan: str) -> Iterator[str]:
    """``app`` under uvicorn in a thread on a free port of 127.0.0.1: its base URL; stopped after."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan=lifespan))
    thread = threading.Thread(target=server.run, name="web-test-app", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the app did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def site(web_dist: Path) -> Iterator[Site]:
    app = build_contract_app(web_dist)
    with _served(app, "off") as url:
        yield Site(url, app)


@dataclass
class RealSite(Site):
    database_url: str
    logins: dict[str, DemoLogin]


async def _seed(database_url: str) -> dict[str, DemoLogin]:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        return {login.username: login for login in await seed_demo_company(conn)}


@pytest.fixture(scope="session")
def demo_company(database_copies: DatabaseCopies, template_database: str) \
        -> Iterator[tuple[str, dict[str, DemoLogin]]]:
    """A migrated database holding the demo company, seeded once: its name (a template) and the logins."""
    name = database_copies.take(template_database)
    logins = asyncio.run(_seed(database_copies.url(name)))
    yield name, logins
    database_copies.release(name)
    database_copies.drop(name)


@contextlib.contextmanager
def _site(copies: DatabaseCopies, demo_company: tuple[str, dict[str, DemoLogin]], role: Role) -> Iterator[RealSite]:
    """The real app in ``role`` on its own copy of the demo company, under uvicorn."""
    template, logins = demo_company
    with copies.fresh(template) as database_url:
        app = create_app(database_url, tokens=TokenIssuer("web-test-secret-" + "x" * 32), role=role)
        with _served(app, "on") as url:
            yield RealSite(url, app, database_url, logins)


@pytest.fixture
def real_site(web_dist: Path, database_copies: DatabaseCopies, demo_company: tuple[str, dict[str, DemoLogin]]) \
        -> Iterator[RealSite]:
    with _site(database_copies, demo_company, Role.HEAD_OFFICE) as site:
        yield site


@pytest.fixture
def station_site(web_dist: Path, database_copies: DatabaseCopies, demo_company: tuple[str, dict[str, DemoLogin]]) \
        -> Iterator[RealSite]:
    """A station server's back office (the station role), with the demo company's users."""
    with _site(database_copies, demo_company, Role.STATION) as site:
        yield site


@dataclass
class PosSite(Site):
    """The station server (``Role.STATION``) on its own database, holding demo-01's master-data list."""
    database_url: str
    logins: dict[str, DemoLogin]
    station: str


async def _station_list(database_url: str, station_database_url: str, group: str = "demo-co") \
        -> dict[str, DemoLogin]:
    """Head office imports demo-01 and seeds the demo company; the station database applies the list it sends."""
    await import_file(database_url, DEMO_STATION, ["92", "95"], group=group)
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        logins = {login.username: login for login in await seed_demo_company(conn)}
        await conn.commit()
        data = await station_views.master_data(conn, "demo-01")
    async with await psycopg.AsyncConnection.connect(station_database_url) as station:
        await station_copy.apply_list(station, data)
    return logins


@pytest.fixture
def pos_site(web_dist: Path, database_url: str, station_database_url: str) -> Iterator[PosSite]:
    logins = asyncio.run(_station_list(database_url, station_database_url))
    app = create_app(station_database_url, tokens=TokenIssuer("web-test-secret-" + "x" * 32), role=Role.STATION)
    with _served(app, "on") as url:
        yield PosSite(url, app, station_database_url, logins, "demo-01")


@pytest.fixture(scope="session")
def chromium() -> Iterator[webdriver.Chrome]:
    chrome = _launch_chromium()
    yield chrome
    chrome.quit()


@pytest.fixture
def second_browser() -> Iterator[webdriver.Chrome]:
    chrome = _launch_chromium()
    try:
        yield chrome
    finally:
        chrome.quit()


def _launch_chromium(*extra: str) -> webdriver.Chrome:
    """``extra``: more switches for one test's own Chromium (e.g. a fake camera: tests/e2e/web/test_pos_face.py)."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.fail("Chromium or chromedriver is missing: run scripts/browser.sh (as root), then the tests again")
    os.environ["SE_OFFLINE"] = "true"    # never let Selenium Manager download a driver or browser
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1440,900", "--lang=zh-CN",
                     '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1', *extra):
        options.add_argument(argument)
    chrome = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    chrome.implicitly_wait(0)
    return chrome


@pytest.fixture
def browser(chromium: webdriver.Chrome) -> webdriver.Chrome:
    """The session's Chromium, as new: one fresh tab, no cookies, downloads as by default."""
    old = chromium.window_handles
    chromium.switch_to.new_window("tab")
    fresh = chromium.current_window_handle
    for handle in old:
        chromium.switch_to.window(handle)
        chromium.close()
    chromium.switch_to.window(fresh)
    chromium.execute_cdp_cmd("Network.clearBrowserCookies", {})
    chromium.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "default"})
    return chromium


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("FORECOURT_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
