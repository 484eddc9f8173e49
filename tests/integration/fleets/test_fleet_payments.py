"""Fleet sales at head office (POST /api/v1/fleet-payments, the stations' payment.captured / payment.refunded with
fleet_credit): a capture settles the actual amount once and closes its reservation, a retry answers as the first
time, an online credit sale past the line is refused while an offline one is recorded anyway and flagged, a sale
is posted once whether the route or the event comes first, refunds go back where the money came from."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import psycopg
import pytest

from business_services.bootstrap import build_bus
from business_services.consumer import EventConsumer
from control_api.app import create_app
from forecourt.roles import Role, policy
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events.orders import OrderCreated
from telemetry.contracts.events.payments import Allocation, Method, PaymentCaptured, PaymentRefunded
from tests.integration.fleets.card_support import (
    AT,
    STATION,
    asking,
    balance,
    capturing,
    client,
    connected,
    put_on_card,
    scalar,
    station_key,
)
from tests.support.fleets import make_card, make_enterprise

pytestmark = pytest.mark.integration
PAY = "/api/v1/fleet-payments"
SHIFT = f"{STATION}-20261205-S00001"
CLEARING = f"clearing:fleet_credit:{STATION}"


class Station:
    """The station's events, delivered to head office's consumer as they come over MQTT."""

    def __init__(self, database_url: str, broker: BrokerAddress) -> None:
        self.url = database_url
        self.consumer = EventConsumer(database_url, broker, bus=build_bus(policy(Role.HEAD_OFFICE).contexts))

    async def deliver(self, payload: PaymentCaptured | PaymentRefunded | OrderCreated) -> None:
        event = payload.envelope(source=f"station:{STATION}", event_id=payload.event_id())
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            await self.consumer.handle(conn, f"forecourt/v1/demo-co/{STATION}/events/{event.type}", event.to_bytes())


def captured(sale: dict[str, object], *, offline: bool, auth_no: str | None = None) -> PaymentCaptured:
    fen = int(str(sale["amount_fen"]))
    order_nos = sale["order_nos"]
    assert isinstance(order_nos, list)
    return PaymentCaptured(payment_no=str(sale["payment_no"]), station=STATION, shift_no=SHIFT, terminal="pos-1",
                           cashier="c", method=Method.FLEET_CREDIT, amount_fen=fen, card_no=str(sale["card_no"]),
                           offline=offline, auth_no=auth_no,
                           allocations=(Allocation(order_no=order_nos[0], amount_fen=fen),), captured_at=AT)


def refunded(sale: dict[str, object], refund_no: str, fen: int) -> PaymentRefunded:
    order_nos = sale["order_nos"]
    assert isinstance(order_nos, list)
    return PaymentRefunded(refund_no=refund_no, payment_no=str(sale["payment_no"]), station=STATION, shift_no=SHIFT,
                           method=Method.FLEET_CREDIT, amount_fen=fen,
                           allocations=(Allocation(order_no=order_nos[0], amount_fen=fen),), reason="少加",
                           refunded_by="manager", refunded_at=AT)


async def entries(url: str) -> list[str]:
    async with connected(url) as conn:
        found = await (await conn.execute("SELECT idempotency_key FROM business.ledger_entries "
                                          "WHERE kind LIKE 'fleet.%%' AND kind NOT IN ('fleet.recharged', "
                                          "'fleet.allocated') ORDER BY id")).fetchall()
    return [key for (key,) in found]


async def test_a_capture_settles_the_actual_amount_once_and_closes_its_reservation(
        database_url: str, broker: BrokerAddress) -> None:
    async with connected(database_url) as conn:
        enterprise = await make_enterprise(conn, credit_limit_fen=100000)
        card_no = await make_card(conn, enterprise, plate="沪A12345")
    app, station = create_app(database_url), Station(database_url, broker)
    pos = station_key(app)
    async with client(app) as http:
        ask = (await http.post("/api/v1/fleet-authorisations", json=asking(card_no, wanted_fen=10000),
                               headers=pos)).json()
        sale = capturing(card_no, 7300, auth_no=ask["auth_no"])
        paid = await http.post(PAY, json=sale, headers=pos)
        assert paid.status_code == 200, paid.text
        assert paid.json() == {"state": "captured", "station": STATION, "payment_no": sale["payment_no"],
                               "card_no": card_no, "enterprise": enterprise, "amount_fen": 7300,
                               "pays_from": "credit", "balance_fen": None, "remaining_credit_fen": 92700,
                               "flag": ""}
        assert (await http.post(PAY, json=sale, headers=pos)).json() == paid.json()
        reused = await http.post(PAY, json=sale | {"amount_fen": 7400}, headers=pos)
        assert reused.status_code == 409 and "已用于另一笔" in reused.json()["detail"]
        assert (await http.post(PAY, json=sale | {"station": "demo-02"}, headers=pos)).status_code == 403
        unknown = await http.post(PAY, json=capturing("9100900999000011", 100), headers=pos)
        assert unknown.status_code == 404
    await station.deliver(captured(sale, offline=False, auth_no=ask["auth_no"]))   # the station's own report
    await station.deliver(captured(sale, offline=False, auth_no=ask["auth_no"]))
    assert await entries(database_url) == [f"fleet.paid:{STATION}:{sale['payment_no']}"]
    assert await balance(database_url, f"receivable:fleet:{enterprise}") == 7300
    assert await balance(database_url, CLEARING) == 0                  # the station's sale, settled
    state = await scalar(database_url, "SELECT state FROM business.fleet_authorisations WHERE auth_no = %s",
                         ask["auth_no"])
    assert state == "captured"
    row = await scalar(database_url, "SELECT array[plate, grade::text, litres_ml::text, offline::text] "
                                     "FROM business.fleet_payments")
    assert row == ["沪A12345", "92", "9733", "false"]
    listed = await scalar(database_url, "SELECT item FROM business.member_list_changes WHERE kind = 'fleet_card' "
                                        "AND key = %s ORDER BY seq DESC LIMIT 1", card_no)
    assert listed["available_fen"] == 92700


async def test_online_past_the_credit_line_is_refused_offline_it_is_recorded_once_and_flagged(
        database_url: str, broker: BrokerAddress) -> None:
    async with connected(database_url) as conn:
        enterprise = await make_enterprise(conn, credit_limit_fen=5000)
        card_no = await make_card(conn, enterprise)
    app, station = create_app(database_url), Station(database_url, broker)
    pos = station_key(app)
    sale = capturing(card_no, 8000)
    async with client(app) as http:
        refused = await http.post(PAY, json=sale, headers=pos)
        assert refused.status_code == 409
        assert refused.json()["detail"].startswith("企业挂账额度不足，可用 50.00 元")
        assert refused.headers["content-type"].startswith("application/problem+json")
    offline_auth = f"{STATION}-20261205-A77777"
    await station.deliver(OrderCreated(order_no=sale["order_nos"][0], station=STATION, kind="fuelling",
                                       status="payable", version=1, grade=95, volume_l=Decimal("10.26"),
                                       amount_fen=8000, created_at=AT, plate="沪A54321"))   # the order's copy
    await station.deliver(captured(sale, offline=True, auth_no=offline_auth))
    await station.deliver(captured(sale, offline=True, auth_no=offline_auth))
    assert await entries(database_url) == [f"fleet.paid:{STATION}:{sale['payment_no']}"]
    assert await balance(database_url, f"receivable:fleet:{enterprise}") == 8000
    flag, fuelled = await scalar(database_url, "SELECT array[flag, grade || ' ' || litres_ml || ' ' || plate] "
                                               "FROM business.fleet_payments WHERE payment_no = %s", sale["payment_no"])
    assert flag.startswith("超出可用金额 50.00 元") and fuelled == "95 10260 沪A54321"
    auth = await scalar(database_url, "SELECT array[state, offline::text, reserved_fen::text] "
                                      "FROM business.fleet_authorisations WHERE auth_no = %s", offline_auth)
    assert auth == ["captured", "true", "8000"]

    async with connected(database_url) as conn:
        other_card = await make_card(conn, enterprise, serial=2)
    elsewhere = capturing(other_card, 100)                      # offline under the first card's authorisation
    await station.deliver(captured(elsewhere, offline=True, auth_no=offline_auth))
    linked = await scalar(database_url, "SELECT array[coalesce(auth_no, '-'), flag] FROM business.fleet_payments "
                                        "WHERE payment_no = %s", elsewhere["payment_no"])
    assert linked[0] == "-" and linked[1].startswith(f"授权号 {offline_auth} 不是本站此卡的授权")
    assert await balance(database_url, f"receivable:fleet:{enterprise}") == 8100


async def test_a_card_pays_from_its_balance_and_refunds_go_back_to_it(database_url: str,
                                                                      broker: BrokerAddress) -> None:
    async with connected(database_url) as conn:
        enterprise = await make_enterprise(conn, settlement="prepaid", credit_limit_fen=0)
        card_no = await make_card(conn, enterprise, pays_from="card")
    await put_on_card(database_url, enterprise, card_no, 20000)
    app, station = create_app(database_url), Station(database_url, broker)
    pos = station_key(app)
    sale = capturing(card_no, 5000)
    async with client(app) as http:
        paid = await http.post(PAY, json=sale, headers=pos)
        assert (paid.json()["balance_fen"], paid.json()["remaining_credit_fen"]) == (15000, None)
        too_much = await http.post(PAY, json=capturing(card_no, 15001), headers=pos)
        assert too_much.status_code == 409 and too_much.json()["detail"].startswith("卡余额不足")
        url = f"{PAY}/{STATION}/{sale['payment_no']}/refunds"
        refund_no = f"{STATION}-20261205-R00001"
        back = await http.post(url, json={"refund_no": refund_no, "amount_fen": 2000}, headers=pos)
        assert back.json() == {"state": "refunded", "refund_no": refund_no, "amount_fen": 2000,
                               "refunded_fen": 2000}
        assert (await http.post(url, json={"refund_no": refund_no, "amount_fen": 2000}, headers=pos)).json() == \
            back.json()
        over = await http.post(url, json={"refund_no": f"{STATION}-20261205-R00002", "amount_fen": 3001},
                               headers=pos)
        assert over.status_code == 409 and "可退金额 30.00" in over.json()["detail"]
    await station.deliver(refunded(sale, refund_no, 2000))              # the station's report of the same refund
    assert await balance(database_url, f"card:{card_no}") == 17000
    short = capturing(card_no, 18000)
    await station.deliver(captured(short, offline=True))                 # offline, more than the card holds
    assert await balance(database_url, f"card:{card_no}") == 17000
    assert await balance(database_url, f"receivable:fleet:{enterprise}") == 18000   # the enterprise owes it
    charged = await scalar(database_url, "SELECT pays_from || ':' || flag FROM business.fleet_payments "
                                         "WHERE payment_no = %s", short["payment_no"])
    assert charged.startswith("credit:超出可用金额 170.00 元")
    assert await entries(database_url) == [f"fleet.paid:{STATION}:{sale['payment_no']}",
                                           f"fleet.refunded:{STATION}:{refund_no}",
                                           f"fleet.paid:{STATION}:{short['payment_no']}"]


async def test_one_number_sent_at_once_for_two_cards_is_one_ask_and_one_sale(database_url: str) -> None:
    async with connected(database_url) as conn:
        one = await make_card(conn, await make_enterprise(conn), serial=1)
        two = await make_card(conn, await make_enterprise(conn, name="远方物流"), serial=1)
    app = create_app(database_url)
    pos = station_key(app)
    async with client(app) as http:
        ask = asking(one)
        asked = await asyncio.gather(http.post("/api/v1/fleet-authorisations", json=ask, headers=pos),
                                     http.post("/api/v1/fleet-authorisations", json=ask | {"card_no": two},
                                               headers=pos))
        assert sorted(a.status_code for a in asked) == [200, 409]
        sale = capturing(one, 1000)
        paid = await asyncio.gather(http.post(PAY, json=sale, headers=pos),
                                    http.post(PAY, json=sale | {"card_no": two}, headers=pos))
        assert sorted(p.status_code for p in paid) == [200, 409]
    assert await scalar(database_url, "SELECT count(*) FROM business.fleet_authorisations") == 1
    assert len(await entries(database_url)) == 1
