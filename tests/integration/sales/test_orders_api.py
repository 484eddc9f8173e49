"""Orders at the station server through its API: the POS's lock, the life cycle with approvals and audit, the
list's filters and keyset cursor, the PDF, and the live stream."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
import websockets

from business_services.approvals import handlers as approvals
from business_services.approvals.model import Approver
from business_services.audit.model import Actor
from business_services.bootstrap import build_bus
from business_services.consumer import EventConsumer
from business_services.unit_of_work import UnitOfWork
from forecourt.local import free_port, wait_for_port
from forecourt.roles import Role, policy
from forecourt.services import api_service
from telemetry.contracts.broker import BrokerAddress
from tests.integration.api.support import client, ws_token
from tests.support.auth import TEST_TOKENS
from tests.support.events import FUELLING, STATION, envelope, fuelling

# bursts of requests at once: alone, so that the API pool's 2 s wait is their own
pytestmark = [pytest.mark.integration, pytest.mark.serial]

TOPIC = f"forecourt/v1/g/{STATION}/events/{FUELLING}"
BASE = f"/api/v1/stations/{STATION}/orders"
MANAGER = Approver("manager", frozenset({"order:approve", "approval:decide"}), frozenset({STATION}))


@contextlib.asynccontextmanager
async def station_api(database_url: str) -> AsyncIterator[int]:
    port = free_port()
    task = asyncio.create_task(api_service(database_url, "127.0.0.1", port, tokens=TEST_TOKENS, role=Role.STATION))
    try:
        await wait_for_port("127.0.0.1", port)
        yield port
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def sell(conn: psycopg.AsyncConnection, consumer: EventConsumer, n: int, **data: object) -> str:
    """A fuelling event handled by the station's consumer; the new order's number."""
    await consumer.handle(conn, TOPIC, envelope(FUELLING, fuelling(n, **data)))
    cur = await conn.execute("SELECT order_no FROM business.orders ORDER BY created_at DESC, order_no DESC LIMIT 1")
    (order_no,) = await cur.fetchone() or ("",)
    return str(order_no)


async def audited(conn: psycopg.AsyncConnection, order_no: str) -> list[str]:
    cur = await conn.execute("SELECT action FROM business.audit_log WHERE target = %s ORDER BY seq",
                             (f"order:{order_no}",))
    return [row[0] for row in await cur.fetchall()]


def consumer_of(url: str, broker: BrokerAddress) -> EventConsumer:
    return EventConsumer(url, broker, bus=build_bus(policy(Role.STATION).contexts))


async def test_two_terminals_racing_for_one_order_and_an_expired_lock(station_database_url: str,
                                                                     broker: BrokerAddress) -> None:
    consumer = consumer_of(station_database_url, broker)
    async with await psycopg.AsyncConnection.connect(station_database_url, autocommit=True) as conn, \
            station_api(station_database_url) as port, client(port) as http:
        order_no = await sell(conn, consumer, 1)
        answers = await asyncio.gather(*(http.post(f"{BASE}/{order_no}/lock", json={"terminal": f"pos-{i % 2 + 1}"})
                                         for i in range(20)))
        won = {a.json()["locked_by"] for a in answers if a.status_code == 200}
        assert len(won) == 1, [a.status_code for a in answers]
        holder = won.pop()
        other = "pos-2" if holder == "pos-1" else "pos-1"
        refused = [a for a in answers if a.status_code != 200]
        assert refused and all(a.status_code == 409 for a in refused)
        assert f"订单正在 {holder} 收款" in refused[0].json()["detail"]
        assert refused[0].headers["content-type"].startswith("application/problem+json")
        payable = (await http.get(f"{BASE}/payable", params={"terminal": other})).json()["items"]
        assert order_no not in [o["order_no"] for o in payable]          # the other POS does not see it
        await conn.execute("UPDATE business.orders SET locked_until = now() - interval '1 second' WHERE order_no = %s",
                           (order_no,))                                   # 60 s later
        taken = await http.post(f"{BASE}/{order_no}/lock", json={"terminal": other})
        assert taken.status_code == 200 and taken.json()["locked_by"] == other
        assert (await http.post(f"{BASE}/{order_no}/lock", json={"terminal": holder})).status_code == 409
        released = await http.delete(f"{BASE}/{order_no}/lock", params={"terminal": other})
        assert released.json()["released"] is True
        assert (await http.post(f"{BASE}/{order_no}/lock", json={"terminal": holder})).status_code == 200


async def test_hold_release_write_off_and_make_up_with_approvals_and_audit(station_database_url: str,
                                                                           broker: BrokerAddress) -> None:
    consumer = consumer_of(station_database_url, broker)
    async with await psycopg.AsyncConnection.connect(station_database_url, autocommit=True) as conn, \
            station_api(station_database_url) as port, client(port) as http:
        order_no = await sell(conn, consumer, 2, amount_fen=20000)
        held = await http.post(f"{BASE}/{order_no}/hold", json={"reason": "drive_off", "note": "白色轿车"})
        assert held.status_code == 200 and held.json()["status"] == "held"
        again = await http.post(f"{BASE}/{order_no}/hold", json={"reason": "drive_off", "note": "白色轿车"})
        assert again.json()["version"] == held.json()["version"]                  # a retry changes nothing
        assert (await http.post(f"{BASE}/{order_no}/hold", json={"reason": "abnormal", "note": "a\x00b"})
                ).status_code == 422
        assert (await http.get(BASE, params={"q": "\x00"})).status_code == 422
        assert (await http.post(f"{BASE}/{order_no}/release", params={})).status_code == 200
        assert (await http.post(f"{BASE}/{order_no}/hold", json={"reason": "drive_off", "note": "白色轿车"})
                ).json()["status"] == "held"
        assert (await http.post(f"{BASE}/{order_no}/lock", json={"terminal": "pos-1"})).status_code == 409
        assert (await http.post(f"{BASE}/{order_no}/hold", json={"reason": "unknown"})).status_code == 422
        listed = (await http.get(BASE, params={"status": "held"})).json()["items"]
        assert [o["order_no"] for o in listed] == [order_no]
        assert (await http.post(f"{BASE}/{order_no}/release")).json()["status"] == "payable"
        await http.post(f"{BASE}/{order_no}/hold", json={"reason": "power_loss"})
        asked = await http.post(f"{BASE}/{order_no}/write-off", json={"reason": "追缴无果"})
        again = await http.post(f"{BASE}/{order_no}/write-off", json={"reason": "追缴无果"})
        assert asked.status_code == 202 and again.json()["approval_id"] == asked.json()["approval_id"]
        async with UnitOfWork(conn, Actor("manager", "test")) as uow:
            await approvals.approve(uow, uuid.UUID(asked.json()["approval_id"]), MANAGER)
        detail = (await http.get(f"{BASE}/{order_no}")).json()
        assert (detail["status"], detail["written_off_fen"]) == ("written_off", 20000)
        assert [h["action"] for h in detail["history"]] == ["created", "hold", "release", "hold", "release", "hold",
                                                            "write_off"]
        assert detail["payments"] == [] and detail["member"] is None
        assert await audited(conn, order_no) == ["order.hold", "order.release", "order.hold", "order.release",
                                                 "order.hold", "order.write_off.request", "order.write_off"]

        made = await http.post(BASE, json={"kind": "make_up", "nozzle": 2, "grade": 95, "volume_l": "30.00",
                                           "price_fen_per_l": 780, "amount_fen": 23400, "reason": "断电未上传"})
        assert made.status_code == 200 and made.json()["status"] == "pending_approval"
        make_up = made.json()["order_no"]
        assert (await http.post(f"{BASE}/{make_up}/lock", json={"terminal": "pos-1"})).status_code == 409
        async with UnitOfWork(conn, Actor("manager", "test")) as uow:
            await approvals.approve(uow, uuid.UUID(made.json()["approval_id"]), MANAGER)
        assert (await http.post(f"{BASE}/{make_up}/lock", json={"terminal": "pos-1"})).status_code == 200
        assert await audited(conn, make_up) == ["order.make_up", "order.make_up.approve"]
        wrong = await http.post(BASE, json={"kind": "make_up", "nozzle": 2, "grade": 95, "volume_l": "30.00",
                                            "price_fen_per_l": 780, "amount_fen": 9999, "reason": "x"})
        assert wrong.status_code == 422 and "volume_l" in wrong.json()["detail"]

        manual = await http.post(BASE, json={"kind": "manual", "item": "润滑油", "amount_fen": 6800,
                                             "reason": "非油品"})
        assert manual.json()["status"] == "payable"
        tagged = await http.patch(f"{BASE}/{manual.json()['order_no']}",
                                  json={"tags": [{"name": "滴滴", "amount_fen": 605}], "note": "平台单"})
        assert tagged.json()["tags"] == [{"name": "滴滴", "amount_fen": 605}]
        assert await audited(conn, manual.json()["order_no"]) == ["order.manual", "order.edit"]
        cur = await conn.execute("SELECT count(*) FROM business.outbox WHERE topic LIKE %s",
                                 (f"%{STATION}/events/order.%",))
        assert (await cur.fetchone() or (0,))[0] == 11         # one per creation and per change

        refused = await http.post(BASE, json={"kind": "make_up", "nozzle": 1, "grade": 92, "volume_l": "10.00",
                                              "price_fen_per_l": 725, "amount_fen": 7250, "reason": "断电未上传"})
        async with UnitOfWork(conn, Actor("manager", "test")) as uow:
            await approvals.reject(uow, uuid.UUID(refused.json()["approval_id"]), MANAGER, "泵码对不上")
        refused_no = refused.json()["order_no"]
        assert (await http.get(f"{BASE}/{refused_no}")).json()["status"] == "rejected"     # never left waiting
        assert (await http.post(f"{BASE}/{refused_no}/lock", json={"terminal": "pos-1"})).status_code == 409
        assert await audited(conn, refused_no) == ["order.make_up", "order.make_up.reject"]


async def test_filters_and_a_keyset_cursor_while_orders_arrive(station_database_url: str,
                                                               broker: BrokerAddress) -> None:
    consumer = consumer_of(station_database_url, broker)
    async with await psycopg.AsyncConnection.connect(station_database_url, autocommit=True) as conn, \
            station_api(station_database_url) as port, client(port) as http:
        for n in range(1, 13):
            await sell(conn, consumer, n, nozzle=1 + n % 2, amount_fen=1000 + n, volume_l=10.0 + n,
                       totalizer_after_l=1010.0 + n)
        seen: list[str] = []
        cursor = ""
        pages = 0
        while True:
            answer = (await http.get(BASE, params={"limit": 5, "cursor": cursor})).json()
            assert "items" in answer, answer
            seen += [o["order_no"] for o in answer["items"]]
            await sell(conn, consumer, 100 + pages)                       # a new order between pages
            pages += 1
            if not answer["next_cursor"]:
                break
            cursor = answer["next_cursor"]
        assert len(seen) == len(set(seen)) == 12 and pages == 3
        everything = (await http.get(BASE, params={"limit": 100})).json()
        assert everything["total"] == 15 and set(seen) < {o["order_no"] for o in everything["items"]}
        by_amount = (await http.get(BASE, params={"amount_fen": 1006})).json()["items"]
        assert sorted(o["amount_fen"] for o in by_amount) == [1005, 1006, 1007]      # within 1 fen
        by_volume = (await http.get(BASE, params={"volume_l": "17.00", "nozzle": 2})).json()["items"]
        assert [o["volume_l"] for o in by_volume] == ["17.00"]
        assert (await http.get(BASE, params={"cursor": "bm9wZQ=="})).status_code == 422
        assert (await http.get(BASE, params={"colour": "red"})).status_code == 422
        later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        assert (await http.get(BASE, params={"from": later})).json()["total"] == 0


async def test_the_stream_sends_a_new_order_and_the_pdf_reads_back(station_database_url: str,
                                                                   broker: BrokerAddress) -> None:
    consumer = consumer_of(station_database_url, broker)
    async with await psycopg.AsyncConnection.connect(station_database_url, autocommit=True) as conn, \
            station_api(station_database_url) as port:
        url = f"ws://127.0.0.1:{port}{BASE}/stream?access_token={ws_token('order:read')}"
        async with websockets.connect(url, open_timeout=10) as ws:
            order_no = await sell(conn, consumer, 41)
            async with asyncio.timeout(5):
                message = json.loads(await ws.recv())
            assert (message["order_no"], message["status"]) == (order_no, "payable")
            async with client(port) as http:
                await http.post(f"{BASE}/{order_no}/lock", json={"terminal": "pos-2"})
            async with asyncio.timeout(5):
                locked = json.loads(await ws.recv())
            assert (locked["order_no"], locked["locked_by"]) == (order_no, "pos-2")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=client(port).headers) as http:
            for n in range(42, 82):
                await sell(conn, consumer, n)
            pdf = await http.get(f"/api/v1/stations/{STATION}/orders.pdf")
            assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
            assert b"/Count 2" in pdf.content                              # 41 rows and a header: two pages
            one = await http.get(f"/api/v1/stations/{STATION}/orders.pdf", params={"q": order_no})
            assert b"/Count 1" in one.content
