"""站点管理 in a real Chromium against the real API, with the stations imported from station files: each
seeded role sees only the stations in its scope; the station manager of demo-01 changes a nozzle's grade in
the drawer, a real edge node of that station (on the test broker, fed by the real outbox publisher) receives
the new list and its version comes back; the attendant gets no edit button, and the API refuses the
attendant's PUT with 403 and a message."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import yaml
from selenium import webdriver

from business_services.access.demo import USERS
from business_services.access.model import ROLES
from business_services.consumer import EventConsumer
from business_services.outbox import MqttSink, OutboxPublisher
from edge_nodes.runtime import EdgeNode
from edge_nodes.station import parse_station
from forecourt.stations import import_file
from telemetry.contracts.broker import BrokerAddress
from tests.e2e.web.browsing import Page
from tests.e2e.web.conftest import RealSite
from tests.e2e.web.test_back_office import SCOPE, STATIONS, log_in

pytestmark = pytest.mark.e2e

DEMO = Path(__file__).resolve().parents[3] / "config" / "stations" / "demo.yaml"


def import_stations(database_url: str, group: str, folder: Path) -> None:
    """demo-01 from config/stations/demo.yaml, and demo-02, demo-03 as copies of it under their codes."""
    async def run() -> None:
        raw = yaml.safe_load(DEMO.read_text())
        for code in STATIONS:
            path = folder / f"{code}.yaml"
            path.write_text(yaml.safe_dump({**raw, "station": code, "name": STATIONS[code]}, allow_unicode=True))
            await import_file(database_url, path, ["92", "95"], group=group)
    asyncio.run(run())


def edge_version(database_url: str, code: str) -> tuple[int, int | None]:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT version, edge_version FROM business.stations WHERE code = %s", (code,)).fetchone()
    assert row is not None
    return int(row[0]), row[1]


@contextlib.asynccontextmanager
async def _head_office_and_edge(database_url: str, broker: BrokerAddress, group: str,
                                folder: Path) -> AsyncIterator[None]:
    consumer = EventConsumer(database_url, broker, client_id=f"web-{group}", group=group)
    publisher = OutboxPublisher(database_url, MqttSink(broker, f"web-{group}-outbox"), poll_s=0.1)
    node = EdgeNode(parse_station({"station": "demo-01", "devices": []}), broker, group=group,
                    master_data_path=folder / "demo-01.master-data.json")
    tasks = [asyncio.create_task(c.run()) for c in (consumer, publisher, node)]
    try:
        await asyncio.wait_for(node.connected.wait(), 20)
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


@pytest.fixture
def edge_of_demo_01(real_site: RealSite, broker: BrokerAddress, group: str, tmp_path: Path) -> Iterator[EdgeNode]:
    """The stations imported, and head office's consumer and outbox publisher with demo-01's edge node running
    in a thread of their own (the browser test itself is synchronous)."""
    import_stations(real_site.database_url, group, tmp_path)
    loop = asyncio.new_event_loop()
    ready, stop = threading.Event(), asyncio.Event()
    failure: list[BaseException] = []

    async def main() -> None:
        try:
            async with _head_office_and_edge(real_site.database_url, broker, group, tmp_path):
                ready.set()
                await stop.wait()
        except BaseException as exc:      # reported to the test below
            failure.append(exc)
            ready.set()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(30) and not failure, f"head office and the edge node did not start: {failure}"
    yield  # type: ignore[misc]
    loop.call_soon_threadsafe(stop.set)
    thread.join(20)


@pytest.fixture
def stations_imported(real_site: RealSite, group: str, tmp_path: Path) -> RealSite:
    import_stations(real_site.database_url, group, tmp_path)
    return real_site


@pytest.mark.parametrize("username", [u for u, _, role, _ in USERS if "station:read" in ROLES[role][1]])
def test_the_station_list_shows_only_the_stations_in_scope(browser: webdriver.Chrome, stations_imported: RealSite,
                                                           screenshots: Path, username: str) -> None:
    site = stations_imported
    page = Page(browser, site.url, screenshots)
    log_in(page, site, username)
    page.open("/admin/operations/stations")
    expected = sorted(SCOPE.get(username, set(STATIONS)))
    page.until(lambda: page.first_cells() == expected, f"the stations {username} sees (it sees {page.first_cells()})")
    page.text_becomes(".list-page .pager .total", f"共 {len(expected)} 条")


def test_the_station_manager_changes_a_grade_and_the_edge_reports_the_new_list(
        browser: webdriver.Chrome, real_site: RealSite, edge_of_demo_01: None, screenshots: Path) -> None:
    version, _ = edge_version(real_site.database_url, "demo-01")
    page = Page(browser, real_site.url, screenshots)
    log_in(page, real_site, "manager")
    page.click(".side .el-menu-item", "站点管理")
    page.until(lambda: page.first_cells() == ["demo-01"], "the manager's one station")
    page.click(".list-page .el-table__body tr.el-table__row .show")
    page.until(lambda: page.texts(".el-drawer .nozzles .grade")[:1] == ["92号汽油"], "the nozzles of demo-01")
    page.click(".el-drawer .nozzles .edit-grade")
    page.click(".grade-form .grade-select")
    page.click(".el-select-dropdown__item", "95号汽油")
    page.click(".grade-form .save")
    page.until(lambda: not page.all(".grade-form"), "the dialog closed after saving")
    page.until(lambda: page.texts(".el-drawer .nozzles .grade")[:1] == ["95号汽油"], "the new grade shown")
    page.shot("station-grade-saved")
    assert edge_version(real_site.database_url, "demo-01")[0] == version + 1          # the list's version went up
    page.until(lambda: edge_version(real_site.database_url, "demo-01") == (version + 1, version + 1),
               "the edge node reported the new list's version", timeout=60)
    browser.switch_to.active_element.send_keys("\ue00c")                              # Esc: close the drawer
    page.open("/admin/operations/stations")                                           # the list shows it too
    page.until(lambda: str(version + 1) in page.texts(".list-page .el-table__body tr td:nth-child(6) .cell"),
               "站端已应用版本 in the list")


def test_the_attendant_cannot_change_a_grade(browser: webdriver.Chrome, stations_imported: RealSite,
                                             screenshots: Path) -> None:
    site = stations_imported
    version, _ = edge_version(site.database_url, "demo-01")
    page = Page(browser, site.url, screenshots)
    log_in(page, site, "attendant")
    page.open("/admin/operations/stations")
    page.until(lambda: page.first_cells() == ["demo-01"], "the attendant's station")
    page.click(".list-page .el-table__body tr.el-table__row .show")
    page.until(lambda: page.texts(".el-drawer .nozzles .grade"), "the nozzles shown")
    assert not page.all(".el-drawer .nozzles .edit-grade")                          # no button
    page.shot("station-attendant")
    token = browser.execute_script("return JSON.parse(sessionStorage.getItem('forecourt.admin.token')).token")
    with httpx.Client(base_url=site.url, headers={"Authorization": f"Bearer {token}"}) as http:
        answer = http.put("/api/v1/stations/demo-01/nozzles/disp-01/1/1", json={"grade": "95"})
    assert answer.status_code == 403
    assert "station:write" in answer.json()["detail"]
    assert edge_version(site.database_url, "demo-01")[0] == version                 # nothing changed


def test_the_devices_page_lists_a_chosen_station_s_devices(browser: webdriver.Chrome, stations_imported: RealSite,
                                                          screenshots: Path) -> None:
    site = stations_imported
    page = Page(browser, site.url, screenshots)
    log_in(page, site, "region")
    page.open("/admin/equipment/devices")
    page.until(lambda: page.first_cells() == ["disp-01", "chargers"], "demo-01's devices (the first station)")
    page.click(".devices-page .station-select")
    in_scope = ["畅加测试站 · demo-01", "城东加气站 · demo-02"]                 # in scope only, once the list is open
    page.until(lambda: page.texts(".el-select-dropdown__item") == in_scope, f"the station choice {in_scope}")
    page.click(".el-select-dropdown__item", "城东加气站 · demo-02")
    page.until(lambda: page.first_cells() == ["disp-01", "chargers"] and "demo-02" in page.browser.page_source,
               "demo-02's devices")
    page.shot("devices-region")
