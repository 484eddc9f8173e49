"""The order list's Excel export reads back with Chinese headers, the list's filters and yuan amounts."""

from __future__ import annotations

import io
from decimal import Decimal

import openpyxl
import psycopg
import pytest

from business_services.bootstrap import build_bus
from business_services.consumer import EventConsumer
from forecourt.roles import Role, policy
from telemetry.contracts.broker import BrokerAddress
from tests.support.api_client import served_api
from tests.support.auth import bearer
from tests.support.events import FUELLING, STATION, envelope, fuelling, wait_for

pytestmark = pytest.mark.integration


async def test_an_excel_export_of_filtered_orders_reads_back(station_database_url: str, broker: BrokerAddress) -> None:
    consumer = EventConsumer(station_database_url, broker, bus=build_bus(policy(Role.STATION).contexts))
    async with await psycopg.AsyncConnection.connect(station_database_url, autocommit=True) as conn:
        for n in range(1, 8):
            await consumer.handle(conn, f"forecourt/v1/g/{STATION}/events/{FUELLING}",
                                  envelope(FUELLING, fuelling(n, nozzle=1 + n % 2, amount_fen=10000 + n)))
    async with served_api(station_database_url) as (app, http):
        owner = bearer(app, "export:create", "order:read", username="li.si")
        request = {"kind": "orders", "filters": {"station": STATION, "nozzle": 2}, "request_id": "orders-1"}
        started = await http.post("/api/v1/exports", json=request, headers=owner)
        assert started.status_code == 202, started.text
        job = started.json()["id"]

        async def finished() -> bool:
            return (await http.get(f"/api/v1/exports/{job}", headers=owner)).json()["status"] != "running"
        await wait_for(finished)
        file = await http.get(f"/api/v1/exports/{job}/file", headers=owner)
        assert file.status_code == 200
        no_orders = bearer(app, "export:create", username="wang.wu")
        refused = await http.post("/api/v1/exports", json={**request, "request_id": "orders-2"}, headers=no_orders)
        assert refused.status_code == 403

    rows = list(openpyxl.load_workbook(io.BytesIO(file.content), read_only=True).worksheets[0].iter_rows(
        values_only=True))
    assert rows[0][:10] == ("订单号", "时间", "类型", "状态", "油枪", "油品", "升数", "单价(元/升)", "金额(元)",
                            "已付(元)")
    body = rows[1:]
    assert len(body) == 4                                               # fuellings 1, 3, 5 and 7 were on nozzle 2
    assert {r[4] for r in body} == {2} and {r[2] for r in body} == {"加油"} and {r[3] for r in body} == {"待支付"}
    assert sorted(Decimal(str(r[8])) for r in body) == [Decimal("100.01"), Decimal("100.03"), Decimal("100.05"),
                                                          Decimal("100.07")]
