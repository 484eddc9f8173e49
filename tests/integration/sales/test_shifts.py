"""Shifts at the station server, through its API: open, live totals, handover (nozzles, cash, unpaid orders),
carried orders, frozen reports; and a payment racing a close, on the database itself."""

from __future__ import annotations

import asyncio
import contextlib
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import openpyxl
import psycopg
import pytest

from business_services.audit.model import Actor
from business_services.bootstrap import build_bus
from business_services.consumer import EventConsumer
from business_services.messagebus import MessageBus
from business_services.shifts import views
from business_services.shifts.model import CloseShift, OpenShift, ShiftConflict
from business_services.unit_of_work import UnitOfWork
from forecourt.local import free_port, wait_for_port
from forecourt.roles import Role, policy
from forecourt.services import api_service
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events.payments import Allocation, Method, PaymentCaptured
from tests.support.auth import TEST_TOKENS, headers
from tests.support.events import FUELLING, STATION, envelope, fuelling

pytestmark = pytest.mark.integration

TOPIC = f"forecourt/v1/g/{STATION}/events/{FUELLING}"
SHIFTS = f"/api/v1/stations/{STATION}/shifts"
CASHIER = headers(TEST_TOKENS, "shift:read", "shift:write", stations=frozenset({STATION}), username="cashier")
MANAGER = headers(TEST_TOKENS, "shift:read", "shift:write", "shift:override", stations=frozenset({STATION}),
                  username="manager")
NOZZLE_1 = {"pump": "disp-01", "fuelling_point": 1, "nozzle": 1}
NOZZLE_2 = {"pump": "disp-01", "fuelling_point": 1, "nozzle": 2}
RMB_290 = [{"denomination_fen": 10000, "pieces": 2}, {"denomination_fen": 5000, "pieces": 1},
           {"denomination_fen": 2000, "pieces": 2}]


@dataclass
class Station:
    """The station server: its database, its bus (as its consumer and payments use it) and its API."""

    conn: psycopg.AsyncConnection
    bus: MessageBus
    consumer: EventConsumer
    http: httpx.AsyncClient
    payments: int = 0

    async def fuel(self, number: int, **data: object) -> str:
        await self.consumer.handle(self.conn, TOPIC, envelope(FUELLING, fuelling(number, **data)))
        cur = await self.conn.execute("SELECT order_no FROM business.orders ORDER BY created_at DESC, order_no DESC")
        (order_no,) = await cur.fetchone() or ("",)
        return str(order_no)

    async def pay(self, order_no: str, fen: int, method: Method, conn: psycopg.AsyncConnection | None = None) -> None:
        """What the payments context does: take the open shift (held FOR SHARE), raise payment.captured."""
        self.payments += 1
        conn = conn or self.conn
        async with UnitOfWork(conn, Actor("cashier", "pos-1")) as uow:
            shift_no = await views.open_shift(conn, STATION, lock=True)
            assert shift_no is not None
            payment = PaymentCaptured(
                payment_no=f"{STATION}-20261204-P{self.payments:05d}", station=STATION, shift_no=shift_no,
                terminal="pos-1", cashier="cashier", method=method, amount_fen=fen,
                allocations=(Allocation(order_no=order_no, amount_fen=fen),), captured_at=datetime.now(UTC))
            await self.bus.handle(payment.envelope(source="test", event_id=payment.event_id()), uow)

    async def post(self, path: str, body: dict[str, Any], who: dict[str, str] = CASHIER) -> httpx.Response:
        return await self.http.post(path, json=body, headers={**who, "Idempotency-Key": str(uuid.uuid4())})


@contextlib.asynccontextmanager
async def station_server(database_url: str, broker: BrokerAddress) -> AsyncIterator[Station]:
    port = free_port()
    api = asyncio.create_task(api_service(database_url, "127.0.0.1", port, tokens=TEST_TOKENS, role=Role.STATION))
    bus = build_bus(policy(Role.STATION).contexts)
    try:
        await wait_for_port("127.0.0.1", port)
        async with (await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn,
                    httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=20) as http):
            yield Station(conn, bus, EventConsumer(database_url, broker, bus=bus), http)
    finally:
        api.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await api


async def _first_shift(station: Station) -> tuple[str, dict[str, Any]]:
    """A shift with fuellings on two nozzles, paid by cash and WeChat; handed over with the right cash."""
    opened = await station.post(SHIFTS, {"hand_readings": [{**NOZZLE_1, "litres": "1000.00"},
                                                           {**NOZZLE_2, "litres": "500.00"}]})
    assert opened.status_code == 200, opened.text
    shift_no = opened.json()["shift_no"]
    again = await station.post(SHIFTS, {})
    assert again.status_code == 409 and "已有未交班" in again.json()["detail"]
    first = await station.fuel(1)                                                   # 40 L on nozzle 1, 290 元
    second = await station.fuel(2, nozzle=2, grade=95, volume_l=30.0, amount_fen=24000, price_fen_per_l=800,
                                totalizer_before_l=500.0, totalizer_after_l=530.0)
    await station.pay(first, 29000, Method.CASH)
    await station.pay(second, 24000, Method.WECHAT)

    live = (await station.http.get(f"{SHIFTS}/current", headers=CASHIER)).json()
    assert (live["shift_no"], live["person_in_charge"], live["order_count"]) == (shift_no, "cashier", 2)
    assert {t["method"]: t["net_fen"] for t in live["takings"]} == {"cash": 29000, "wechat": 24000}
    assert {g["grade"]: g["volume_l"] for g in live["by_grade"]} == {92: "40.00", 95: "30.00"}
    assert live["unpaid"] == [] and live["masked"] is False
    masked = (await station.http.get(f"{SHIFTS}/current?masked=true", headers=CASHIER)).json()
    assert masked["takings_fen"] is None and "net_fen" not in masked["takings"][0]

    handover = {"end_readings": [{**NOZZLE_1, "litres": "1040.00"}, {**NOZZLE_2, "litres": "530.00"}],
                "cash_count": RMB_290}
    key = {**CASHIER, "Idempotency-Key": f"handover-{shift_no}"}
    closed = await station.http.post(f"{SHIFTS}/{shift_no}/handover", json=handover, headers=key)
    assert closed.status_code == 200, closed.text
    retried = await station.http.post(f"{SHIFTS}/{shift_no}/handover", json=handover, headers=key)
    assert retried.headers["Idempotent-Replayed"] == "true" and retried.json() == closed.json()
    return shift_no, closed.json()


async def test_handover_compares_nozzles_and_cash(station_database_url: str, broker: BrokerAddress) -> None:
    async with station_server(station_database_url, broker) as station:
        _, report = await _first_shift(station)
        nozzles = {(n["nozzle"]): n for n in report["by_nozzle"]}
        assert {k: (n["volume_l"], n["start_source"], n["difference_l"]) for k, n in nozzles.items()} == {
            1: ("40.00", "hand", "0.00"), 2: ("30.00", "hand", "0.00")}          # sales = totalizer movement
        assert report["cash"]["expected_fen"] == report["cash"]["counted_fen"] == 29000
        assert report["cash"]["over_short_fen"] == 0 and report["status"] == "closed"

        second = (await station.post(SHIFTS, {})).json()["shift_no"]             # start readings from the pump
        third = await station.fuel(3, volume_l=10.0, amount_fen=7250, totalizer_before_l=1040.0,
                                   totalizer_after_l=1050.0)
        await station.pay(third, 7250, Method.CASH)
        handover = {"end_readings": [{**NOZZLE_1, "litres": "1050.50"}],
                    "cash_count": [{"denomination_fen": 5000, "pieces": 1}, {"denomination_fen": 1000, "pieces": 1},
                                   {"denomination_fen": 100, "pieces": 2}, {"denomination_fen": 50, "pieces": 1}]}
        short = await station.post(f"{SHIFTS}/{second}/handover", handover)    # 62.50 元 of 72.50: 10 元 short
        assert short.status_code == 422 and "短款 10.00 元" in short.json()["detail"], short.text
        assert (await station.http.get(f"{SHIFTS}/current", headers=CASHIER)).json()["shift_no"] == second
        closed = await station.post(f"{SHIFTS}/{second}/handover", {**handover, "explanation": "找零多找了 10 元"})
        assert closed.status_code == 200, closed.text
        report = closed.json()
        assert report["cash"]["over_short_fen"] == -1000 and report["cash"]["explanation"] == "找零多找了 10 元"
        nozzles = {(n["nozzle"]): n for n in report["by_nozzle"]}
        assert (nozzles[1]["start_l"], nozzles[1]["start_source"], nozzles[1]["difference_l"]) == (
            "1040.00", "pump", "0.50")
        assert (nozzles[2]["start_l"], nozzles[2]["start_source"], nozzles[2]["end_l"]) == ("530.00", "pump", None)
        cur = await station.conn.execute("SELECT after->'cash'->>'over_short_fen' FROM business.audit_log "
                                         "WHERE action = 'shift.close' AND target = %s", (second,))
        assert await cur.fetchone() == ("-1000",)
        cur = await station.conn.execute("SELECT topic, payload->'data'->>'over_short_fen' FROM business.outbox "
                                         "WHERE payload->>'type' = 'shift.closed' ORDER BY seq")
        assert [row[1] for row in await cur.fetchall()] == ["0", "-1000"]
        cur = await station.conn.execute("SELECT payload->>'subject' FROM business.outbox "
                                         "WHERE payload->>'type' = 'shift.opened'")
        assert await cur.fetchall() == [(STATION,), (STATION,)]


async def _live(conn: psycopg.AsyncConnection, device: str, name: str, litres: float, quality: str = "good") -> None:
    """A totalizer as the station server's own ingest keeps it (telemetry.metrics and telemetry.latest)."""
    cur = await conn.execute("INSERT INTO telemetry.metrics (grp, station, device, name, datatype, unit) "
                             "VALUES ('g', %s, %s, %s, 'DOUBLE', 'L') RETURNING metric_id", (STATION, device, name))
    (metric_id,) = await cur.fetchone() or (0,)
    await conn.execute("INSERT INTO telemetry.latest (metric_id, ts, value, quality) VALUES (%s, now(), %s, %s)",
                       (metric_id, litres, quality))
    await conn.execute("INSERT INTO telemetry.sources (station, device, grp, online, stale) "
                       "VALUES (%s, %s, 'g', true, false) ON CONFLICT DO NOTHING", (STATION, device))


async def test_a_nozzle_that_never_sold_starts_from_the_pumps_live_totalizer(station_database_url: str,
                                                                             broker: BrokerAddress) -> None:
    """The station's first shift: no fuelling names nozzle 1 yet, so its start is the live totalizer (and the
    handover can compare it); a nozzle that has sold starts where its last fuelling ended; a bad value is no start."""
    async with station_server(station_database_url, broker) as station:
        await _live(station.conn, "disp-01", "fp1/nozzle1/volume_total", 1234.5)
        await _live(station.conn, "disp-01", "fp1/nozzle2/volume_total", 99.0)
        await _live(station.conn, "disp-01", "fp2/nozzle1/volume_total", 77.0, quality="bad")
        await station.fuel(1, nozzle=2, totalizer_before_l=490.0, totalizer_after_l=530.0)   # before any shift
        opened = await station.post(SHIFTS, {})
        assert opened.status_code == 200, opened.text
        live = (await station.http.get(f"{SHIFTS}/current", headers=CASHIER)).json()
        starts = {(n["fuelling_point"], n["nozzle"]): (n["start_l"], n["start_source"]) for n in live["by_nozzle"]}
        assert starts == {(1, 1): ("1234.50", "pump"), (1, 2): ("530.00", "pump")}


async def test_head_office_does_not_open_shifts(database_url: str) -> None:
    port = free_port()
    api = asyncio.create_task(api_service(database_url, "127.0.0.1", port, tokens=TEST_TOKENS))
    try:
        await wait_for_port("127.0.0.1", port)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=20) as http:
            answer = await http.post(SHIFTS, json={}, headers={**CASHIER, "Idempotency-Key": "open-at-head-office"})
        assert answer.status_code == 409 and "站级服务器" in answer.json()["detail"]
    finally:
        api.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await api


async def test_unpaid_orders_block_the_close_until_a_manager_overrides(station_database_url: str,
                                                                       broker: BrokerAddress) -> None:
    async with station_server(station_database_url, broker) as station:
        first = (await station.post(SHIFTS, {})).json()["shift_no"]
        paid = await station.fuel(1)
        unpaid = await station.fuel(2, amount_fen=5000, volume_l=6.9, totalizer_before_l=1040.0,
                                    totalizer_after_l=1046.9)
        await station.pay(paid, 29000, Method.CASH)
        handover = {"end_readings": [], "cash_count": RMB_290}
        bad = await station.post(f"{SHIFTS}/{first}/handover", {**handover, "cash_count": [
            {"denomination_fen": 3000, "pieces": 1}]})
        assert bad.status_code == 422 and "没有面额 3000 分" in bad.json()["detail"], bad.text
        refused = await station.post(f"{SHIFTS}/{first}/handover", handover)
        assert refused.status_code == 409 and unpaid in refused.json()["detail"], refused.text
        assert refused.json()["title"] == "冲突"
        by_cashier = await station.post(f"{SHIFTS}/{first}/handover", {**handover, "override_reason": "客户去取钱"})
        assert by_cashier.status_code == 403
        closed = await station.post(f"{SHIFTS}/{first}/handover", {**handover, "override_reason": "客户去取钱"},
                                    who=MANAGER)
        assert closed.status_code == 200, closed.text
        frozen = closed.json()
        assert [o["order_no"] for o in frozen["unpaid"]] == [unpaid] and frozen["override_reason"] == "客户去取钱"
        cur = await station.conn.execute("SELECT actor, after->>'reason' FROM business.audit_log "
                                         "WHERE action = 'shift.close.override' AND target = %s", (first,))
        assert await cur.fetchall() == [("manager", "客户去取钱")]

        second = (await station.post(SHIFTS, {})).json()["shift_no"]
        live = (await station.http.get(f"{SHIFTS}/current", headers=CASHIER)).json()
        assert [(o["order_no"], o["shift_no"]) for o in live["carried"]] == [(unpaid, first)]
        await station.pay(unpaid, 5000, Method.ALIPAY)                          # paid in the next shift
        assert (await station.http.get(f"{SHIFTS}/{first}", headers=CASHIER)).json() == frozen   # never changes
        closed = await station.post(f"{SHIFTS}/{second}/handover", {"end_readings": [], "cash_count": []})
        assert closed.status_code == 200, closed.text
        assert [(t["method"], t["net_fen"]) for t in closed.json()["takings"]] == [("alipay", 5000)]
        assert closed.json()["sales_fen"] == 0 and closed.json()["carried"] == []

        history = (await station.http.get(f"{SHIFTS}/history?limit=1", headers=CASHIER)).json()
        assert history["total"] == 2 and [s["shift_no"] for s in history["items"]] == [second]
        rest = (await station.http.get(f"{SHIFTS}/history?limit=1&cursor={history['next_cursor']}",
                                        headers=CASHIER)).json()
        assert [s["shift_no"] for s in rest["items"]] == [first] and rest["next_cursor"] is None
        by_person = (await station.http.get(f"{SHIFTS}/history?person=manager", headers=CASHIER)).json()
        assert [s["shift_no"] for s in by_person["items"]] == [first]

        reports = [(await station.http.get(f"{SHIFTS}/{s}", headers=CASHIER)).json() for s in (first, second)]
        cur = await station.conn.execute("SELECT sum(amount_fen), sum(paid_fen), "
                                         "count(*) FILTER (WHERE shift_no = %s) FROM business.orders", (first,))
        assert await cur.fetchone() == (34000, 34000, 2)          # the carried order keeps its shift for sales
        assert sum(r["sales_fen"] for r in reports) == 34000      # every order's sale counted once
        assert sum(r["takings_fen"] for r in reports) == 34000    # every payment counted once


async def test_a_payment_racing_a_close_lands_before_it_or_is_refused(station_database_url: str,
                                                                      broker: BrokerAddress) -> None:
    async with station_server(station_database_url, broker) as station, \
            await psycopg.AsyncConnection.connect(station_database_url, autocommit=True) as closer:
        async with UnitOfWork(station.conn, Actor("cashier", "pos-1")) as uow:
            shift_no = await station.bus.handle(OpenShift(STATION, "cashier", datetime.now(UTC)), uow)
        order_no = await station.fuel(1)
        late_order = await station.fuel(2, amount_fen=5000, volume_l=6.9, totalizer_before_l=1040.0,
                                        totalizer_after_l=1046.9)
        close = CloseShift(STATION, shift_no, "manager", datetime.now(UTC), (), ((10000, 2), (5000, 1), (2000, 2)),
                           override_reason="测试")

        async def close_it() -> dict[str, Any]:
            async with UnitOfWork(closer, Actor("manager", "pos-1")) as uow:
                result: dict[str, Any] = await station.bus.handle(close, uow)
                return result

        paying = await psycopg.AsyncConnection.connect(station_database_url, autocommit=True)
        async with paying, paying.transaction():
            assert await views.open_shift(paying, STATION, lock=True) == shift_no   # a payment holds the shift
            closing = asyncio.create_task(close_it())
            async with asyncio.timeout(20):
                while not await _waiting_for_a_lock(station.conn, closer):
                    await asyncio.sleep(0.02)
            assert not closing.done()
            await station.pay(order_no, 29000, Method.CASH, conn=paying)         # its transaction is this one
        report = await closing
        assert [(t["method"], t["net_fen"]) for t in report["takings"]] == [("cash", 29000)]
        assert report["cash"]["over_short_fen"] == 0

        assert await views.open_shift(station.conn, STATION, lock=True) is None  # a payment now finds no shift
        with pytest.raises(ShiftConflict):                                       # nor can it name the closed one
            async with UnitOfWork(station.conn, Actor("cashier", "pos-1")) as uow:
                late = PaymentCaptured(
                    payment_no=f"{STATION}-20261204-P09999", station=STATION, shift_no=shift_no, terminal="pos-1",
                    cashier="cashier", method=Method.CASH, amount_fen=5000,
                    allocations=(Allocation(order_no=late_order, amount_fen=5000),), captured_at=datetime.now(UTC))
                await station.bus.handle(late.envelope(source="test", event_id=late.event_id()), uow)
        cur = await station.conn.execute("SELECT paid_fen FROM business.orders WHERE order_no = %s", (late_order,))
        assert await cur.fetchone() == (0,)
        cur = await station.conn.execute("SELECT count(*) FROM business.shift_takings WHERE shift_no = %s",
                                         (shift_no,))
        assert await cur.fetchone() == (1,)


async def _waiting_for_a_lock(conn: psycopg.AsyncConnection, waiter: psycopg.AsyncConnection) -> bool:
    cur = await conn.execute("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s",
                             (waiter.info.backend_pid,))
    row = await cur.fetchone()
    return bool(row and row[0])


async def test_the_report_as_excel_pdf_and_html(station_database_url: str, broker: BrokerAddress) -> None:
    async with station_server(station_database_url, broker) as station:
        shift_no, report = await _first_shift(station)
        answer = await station.http.get(f"{SHIFTS}/{shift_no}/report.xlsx", headers=CASHIER)
        assert answer.status_code == 200, answer.text
        book = openpyxl.load_workbook(io.BytesIO(answer.content))
        assert book.sheetnames == ["汇总", "油枪", "收款方式", "现金清点", "未付订单"]
        assert book["汇总"]["A1"].value == f"交接班报表 {shift_no}"          # the title, then the headers
        summary = {row[0]: row[1] for row in book["汇总"].iter_rows(min_row=3, values_only=True)}
        assert (summary["班次号"], summary["负责人"], summary["销售额（分）"], summary["收款合计（分）"]) == (
            shift_no, "cashier", report["sales_fen"], report["takings_fen"])
        assert summary["长短款（分）"] == 0
        nozzles = list(book["油枪"].iter_rows(min_row=2, values_only=True))
        assert nozzles[0][5] == "销量（升）"
        assert [(r[2], r[5], r[6]) for r in nozzles[1:]] == [
            (n["nozzle"], n["volume_l"], n["amount_fen"]) for n in report["by_nozzle"]]
        methods = {r[0]: r[5] for r in book["收款方式"].iter_rows(min_row=3, values_only=True)}
        assert methods == {"现金": 29000, "微信支付": 24000}
        count = list(book["现金清点"].iter_rows(min_row=3, values_only=True))
        assert sum(r[2] for r in count) == report["cash"]["counted_fen"]

        pdf = await station.http.get(f"{SHIFTS}/{shift_no}/report.pdf", headers=CASHIER)
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF-") and pdf.content.rstrip().endswith(b"%%EOF")
        assert b"/STSong-Light" in pdf.content and b"/Type /Page" in pdf.content

        page = await station.http.get(f"{SHIFTS}/{shift_no}/report.html", headers=CASHIER)
        assert page.status_code == 200 and f"交接班报表 {shift_no}" in page.text and "微信支付" in page.text
        missing = await station.http.get(f"{SHIFTS}/{STATION}-20261204-S09999/report.pdf", headers=CASHIER)
        assert missing.status_code == 404
