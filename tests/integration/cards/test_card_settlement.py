"""Head office settles the stations' stored-value events (business_services/cards/payments.py) through the real
consumer: a payment authorised online posts nothing more; an offline one is debited now, once however often it is
delivered; one the card cannot cover leaves an overdraft and freezes the card until a recharge repays it; a refund
goes back to the card the payment came from, once, whether the route or the event comes first."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from business_services.bootstrap import build_bus
from business_services.consumer import EventConsumer
from control_api.app import create_app
from forecourt.roles import Role, policy
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events.payments import Allocation, Method, PaymentCaptured, PaymentRefunded
from tests.integration.cards.support import (
    STATION,
    balance,
    balances,
    card_type,
    clerk,
    client,
    issue,
    listed,
    recharge,
    rows,
    scalar,
    station_key,
)

pytestmark = pytest.mark.integration

SHIFT = f"{STATION}-20261205-S00001"
AT = datetime(2026, 12, 5, 2, tzinfo=UTC)


def payment_no(n: int) -> str:
    return f"{STATION}-20261205-P{n:05d}"


def captured(n: int, card_no: str, fen: int, *, offline: bool = True) -> PaymentCaptured:
    return PaymentCaptured(payment_no=payment_no(n), station=STATION, shift_no=SHIFT, terminal="pos-1", cashier="c",
                           method=Method.STORED_VALUE, amount_fen=fen, card_no=card_no, offline=offline,
                           allocations=(Allocation(order_no=f"{STATION}-20261205-O{n:05d}", amount_fen=fen),),
                           captured_at=AT)


def refunded(n: int, of: int, card_no: str | None, fen: int) -> PaymentRefunded:
    return PaymentRefunded(refund_no=f"{STATION}-20261205-R{n:05d}", payment_no=payment_no(of), station=STATION,
                           shift_no=SHIFT, method=Method.STORED_VALUE, amount_fen=fen, card_no=card_no,
                           allocations=(Allocation(order_no=f"{STATION}-20261205-O{of:05d}", amount_fen=fen),),
                           reason="少加", refunded_by="manager", refunded_at=AT)


class Station:
    """The station's events, delivered to head office's consumer as they come over MQTT."""

    def __init__(self, database_url: str, broker: BrokerAddress) -> None:
        self.url = database_url
        self.consumer = EventConsumer(database_url, broker, bus=build_bus(policy(Role.HEAD_OFFICE).contexts))

    async def deliver(self, payload: PaymentCaptured | PaymentRefunded) -> None:
        event = payload.envelope(source=f"station:{STATION}", event_id=payload.event_id())
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            await self.consumer.handle(conn, f"forecourt/v1/demo-co/{STATION}/events/{event.type}", event.to_bytes())


async def card_entries(url: str) -> list[tuple[str, str]]:
    found = await rows(url, "SELECT kind, idempotency_key FROM business.ledger_entries "
                            "WHERE kind LIKE 'card.%%' AND kind <> 'card.recharged' ORDER BY id")
    return [(k, key) for k, key in found]


async def dead_letters(url: str) -> int:
    return int(await scalar(url, "SELECT count(*) FROM business.event_dead_letters") or 0)


async def test_online_then_its_event_posts_once_and_an_offline_sale_is_settled_once(database_url: str,
                                                                                    broker: BrokerAddress) -> None:
    app, station = create_app(database_url), Station(database_url, broker)
    li, pos = clerk(app), station_key(app)
    async with client(app) as http:
        await card_type(http, li)
        (card_no,) = await issue(http, li)
        await recharge(http, li, card_no, 50000, "RC-SETTLE-1")
        body = {"station": STATION, "payment_no": payment_no(1), "card_no": card_no, "amount_fen": 12000}
        paid = await http.post("/api/v1/card-payments", json=body, headers=pos | {"Idempotency-Key": "settle-0001"})
        assert paid.status_code == 200, paid.text
    await station.deliver(captured(1, card_no, 12000, offline=False))       # the station's own report of it
    await station.deliver(captured(2, card_no, 8000))                       # taken offline
    await station.deliver(captured(2, card_no, 8000))                       # delivered again
    assert await balance(database_url, card_no) == 30000
    assert await card_entries(database_url) == [("card.debited", f"card.debited:{STATION}:{payment_no(1)}"),
                                                ("card.debited", f"card.debited:{STATION}:{payment_no(2)}")]
    clearing = f"clearing:stored_value:{STATION}"
    assert await balances(database_url, clearing) == {clearing: 0}          # the station's sales, each settled
    offline = await rows(database_url, "SELECT offline FROM business.card_payments ORDER BY payment_no")
    assert offline == [(False,), (True,)]
    assert (await listed(database_url, card_no) or {})["balance_fen"] == 30000
    assert await dead_letters(database_url) == 0


async def test_an_offline_sale_the_card_cannot_cover_freezes_it_until_repaid(database_url: str,
                                                                             broker: BrokerAddress) -> None:
    app, station = create_app(database_url), Station(database_url, broker)
    li = clerk(app)
    async with client(app) as http:
        await card_type(http, li)
        (card_no,) = await issue(http, li)
        await recharge(http, li, card_no, 5000, "RC-OVER-01")
        await station.deliver(captured(3, card_no, 8000))                   # spent elsewhere meanwhile: 30 short
        await station.deliver(captured(3, card_no, 8000))
        card = (await http.get(f"/api/v1/cards/{card_no}", headers=li)).json()
        assert (card["status"], card["frozen_for"], card["overdraft_fen"], card["balance_fen"]) == \
            ("frozen", "overdraft", 3000, 0)
        clearing = f"clearing:stored_value:{STATION}"
        assert await balances(database_url, "receivable:card-overdraft", clearing) == {
            "receivable:card-overdraft": 3000, clearing: 0}
        assert (await listed(database_url, card_no) or {})["status"] == "frozen"
        unfreeze = await http.post(f"/api/v1/cards/{card_no}/freeze", json={"freeze": False}, headers=li)
        assert unfreeze.status_code == 409 and "透支" in unfreeze.json()["detail"]
        boss = clerk(app, "boss", "approval:decide")
        for action in ("report_loss", "unlock"):               # lost and found again: still frozen while it owes
            asked = await http.post(f"/api/v1/cards/{card_no}/requests", headers=li,
                                    json={"action": action, "reason": "客户来电"})
            assert (await http.post(f"/api/v1/approvals/{asked.json()['approval_id']}/approve", json={},
                                    headers=boss)).status_code == 200
        card = (await http.get(f"/api/v1/cards/{card_no}", headers=li)).json()
        assert (card["status"], card["frozen_for"]) == ("frozen", "overdraft")

        repaid = await recharge(http, li, card_no, 10000, "RC-OVER-02")
        assert repaid.json()["balance_fen"] == 7000
        card = (await http.get(f"/api/v1/cards/{card_no}", headers=li)).json()
        assert (card["status"], card["frozen_for"], card["overdraft_fen"]) == ("active", None, 0)
        assert await balances(database_url, "receivable:card-overdraft") == {"receivable:card-overdraft": 0}
        audit = await rows(database_url, "SELECT after->>'overdraft_fen' FROM business.audit_log "
                                         "WHERE action = 'card.overdraft'")
        assert audit == [("3000",)]


async def test_a_refund_goes_back_to_the_card_once_by_route_or_event(database_url: str,
                                                                     broker: BrokerAddress) -> None:
    app, station = create_app(database_url), Station(database_url, broker)
    li, pos = clerk(app), station_key(app)
    async with client(app) as http:
        await card_type(http, li)
        (card_no,) = await issue(http, li)
        (other,) = await issue(http, li)
        await recharge(http, li, card_no, 20000, "RC-REFUND-1")
        await station.deliver(captured(4, card_no, 10000))
        # the route first, then the station's event of the same refund: credited once
        refund = await http.post(f"/api/v1/card-payments/{STATION}/{payment_no(4)}/refunds", headers=pos |
                                 {"Idempotency-Key": "refund-r-01"},
                                 json={"refund_no": f"{STATION}-20261205-R00001", "amount_fen": 3000})
        assert refund.json()["balance_fen"] == 13000, refund.text
    await station.deliver(refunded(1, 4, card_no, 3000))
    # an event alone, twice, naming another card by mistake: back to the card the payment came from
    await station.deliver(refunded(2, 4, other, 2000))
    await station.deliver(refunded(2, 4, other, 2000))
    assert (await balance(database_url, card_no), await balance(database_url, other)) == (15000, 0)
    assert await rows(database_url, "SELECT refunded_fen FROM business.card_payments") == [(5000,)]
    assert [k for k, _ in await card_entries(database_url)] == ["card.debited", "card.credited", "card.credited"]
    # a refund reported before its payment (a reordered delivery) is credited, and the payment then debited
    await station.deliver(refunded(3, 5, card_no, 1000))
    await station.deliver(captured(5, card_no, 4000))
    assert await balance(database_url, card_no) == 12000
    assert await rows(database_url, "SELECT refunded_fen FROM business.card_payments WHERE payment_no = %s",
                      payment_no(5)) == [(1000,)]
    assert await dead_letters(database_url) == 0
