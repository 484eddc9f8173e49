"""The POS shows which nozzles still sell at an old price: a price set the edge holds with one nozzle refused and
one pending appears above the nozzle panel (the price each still shows, the new one, why), and the notice goes
once every nozzle has applied it (polled from the station server's GET …/prices)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from selenium import webdriver

from business_services.bootstrap import build_bus
from business_services.consumer import EventConsumer
from edge_nodes.master_data import write_atomically
from forecourt.roles import Role, policy
from forecourt.station_prices import load_price_set
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.prices import PriceApplied, PriceSet
from telemetry.contracts.topics import event_topic
from tests.e2e.web.browsing import Page
from tests.e2e.web.conftest import PosSite
from tests.e2e.web.test_pos import open_pos

pytestmark = pytest.mark.e2e

NOZZLES = [(fp, n, "92" if n == 1 else "95") for fp in (1, 2) for n in (1, 2)]


def price_set(version: int, p92: int, p95: int) -> PriceSet:
    return PriceSet.model_validate({
        "station": "demo-01", "version": version, "effective_at": datetime.now(UTC).isoformat(),
        "grades": {"92": p92, "95": p95},
        "nozzles": [{"device": "disp-01", "fuelling_point": fp, "nozzle": n, "grade": g,
                     "price_fen": p92 if g == "92" else p95} for fp, n, g in NOZZLES]})


def edge_says(site: PosSite, broker: BrokerAddress, tmp_path: Path, s: PriceSet,
              states: dict[tuple[int, int], str], attempt: int = 1) -> None:
    """The edge holds ``s`` (its file, followed by the station server) and reports each nozzle's state."""
    async def run() -> None:
        path = tmp_path / "demo-01.price-set.json"
        write_atomically(path, s.model_dump_json().encode())
        await load_price_set(site.database_url, path)
        consumer = EventConsumer(site.database_url, broker, bus=build_bus(policy(Role.STATION).contexts))
        async with await psycopg.AsyncConnection.connect(site.database_url, autocommit=True) as conn:
            for n in s.nozzles:
                state = states.get((n.fuelling_point, n.nozzle), "applied")
                r = PriceApplied(station="demo-01", version=s.version, device=n.device, fuelling_point=n.fuelling_point,
                                 nozzle=n.nozzle, grade=n.grade, price_fen=n.price_fen, state=state,  # type: ignore[arg-type]
                                 detail="the device did not read back the new price" if state == "refused" else "",
                                 attempt=attempt, at=datetime.now(UTC))
                event = r.envelope(event_id=r.event_id(), source="forecourt/demo-01/edge")
                await consumer.handle(conn, event_topic("demo-co", "demo-01", r.TYPE), event.to_bytes())
    asyncio.run(run())


def test_the_pos_shows_the_nozzles_still_on_an_old_price(pos_site: PosSite, broker: BrokerAddress, tmp_path: Path,
                                                         browser: webdriver.Chrome, screenshots: object) -> None:
    page = Page(browser, pos_site.url, screenshots)          # type: ignore[arg-type]
    edge_says(pos_site, broker, tmp_path, price_set(1, 789, 836), {})
    open_pos(page, pos_site, "pos-1")
    page.one(".tile")
    assert not page.all(".price-alert")                      # everything applied: nothing to say

    edge_says(pos_site, broker, tmp_path, price_set(2, 802, 851), {(1, 2): "pending", (2, 1): "refused"})
    page.until(lambda: len(page.all(".price-alert .old-price")) == 2, "the two nozzles behind are shown")
    refused = page.one('.old-price[data-nozzle="disp-01/2/1"]')
    assert refused.get_attribute("data-state") == "refused"
    assert "2号位 1号枪" in refused.text and "仍为旧价 ¥7.89" in refused.text and "新价 ¥8.02" in refused.text
    assert "加油机拒绝新价" in refused.text and "read back" in refused.text
    pending = page.one('.old-price[data-nozzle="disp-01/1/2"]')
    assert "仍为旧价 ¥8.36" in pending.text and "待生效" in pending.text
    assert "第 2 版" in page.one(".price-alert").text
    assert "el-alert--error" in (page.one(".price-alert").get_attribute("class") or "")
    page.shot("pos-old-prices")

    edge_says(pos_site, broker, tmp_path, price_set(2, 802, 851), {}, attempt=2)    # the pumps took it
    page.until(lambda: not page.all(".price-alert"), "the notice goes once every nozzle applied the set")
