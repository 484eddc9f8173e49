"""Stored-value payments asked online by a station (POST /api/v1/card-payments) and their refunds: the card's
status and restrictions refuse with the reason the POS shows, concurrent payments never overdraw (the ledger's
CHECK), a retry answers as the first time, a refund goes back to the card and never past what was paid."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from control_api.app import create_app
from tests.integration.cards.support import (
    STATION,
    balance,
    card_type,
    clerk,
    client,
    issue,
    listed,
    member,
    recharge,
    rows,
    station_key,
)

# bursts of requests at once: alone, so that the API pool's 2 s wait is their own
pytestmark = [pytest.mark.integration, pytest.mark.serial]


def paying(card_no: str, n: int, fen: int, **more: Any) -> dict[str, Any]:
    return {"station": STATION, "payment_no": f"{STATION}-20261205-P{n:05d}", "card_no": card_no,
            "amount_fen": fen} | more


def pos_key(body: dict[str, Any]) -> dict[str, str]:
    return {"Idempotency-Key": f"card-payment:{body['station']}:{body['payment_no']}"}


async def test_a_payment_its_retry_and_its_refunds(database_url: str) -> None:
    app = create_app(database_url)
    li, pos = clerk(app), station_key(app)
    async with client(app) as http:
        await card_type(http, li)
        m10 = await member(http, li, 10)
        (card_no,) = await issue(http, li, member_no=m10)
        await recharge(http, li, card_no, 50000, "RC-PAY-01")
        body = paying(card_no, 1, 30000, grade=92, volume_l="40.00", member_no=m10)
        paid = await http.post("/api/v1/card-payments", json=body, headers=pos | pos_key(body))
        assert paid.status_code == 200, paid.text
        assert paid.json() == {"state": "succeeded", "card_no": card_no, "member_no": m10,
                               "balance_fen": 20000}
        replay = await http.post("/api/v1/card-payments", json=body, headers=pos | pos_key(body))
        assert replay.json() == paid.json() and replay.headers["Idempotent-Replayed"] == "true"
        other_key = await http.post("/api/v1/card-payments", json=body, headers=pos | {"Idempotency-Key": "x" * 12})
        assert other_key.json()["balance_fen"] == 20000                           # the payment's own key: once
        assert await balance(database_url, card_no) == 20000
        assert (await listed(database_url, card_no) or {})["balance_fen"] == 20000

        url = f"/api/v1/card-payments/{STATION}/{body['payment_no']}/refunds"
        part = await http.post(url, json={"refund_no": f"{STATION}-20261205-R00001", "amount_fen": 10000},
                               headers=pos | {"Idempotency-Key": "refund-0001"})
        assert part.json() == {"state": "succeeded", "card_no": card_no, "balance_fen": 30000}
        too_much = await http.post(url, json={"refund_no": f"{STATION}-20261205-R00002", "amount_fen": 20001},
                                   headers=pos | {"Idempotency-Key": "refund-0002"})
        assert too_much.status_code == 409 and "超过可退金额 200.00" in too_much.json()["detail"]
        unknown = await http.post(f"/api/v1/card-payments/{STATION}/{STATION}-20261205-P09999/refunds",
                                  json={"refund_no": f"{STATION}-20261205-R00003", "amount_fen": 1},
                                  headers=pos | {"Idempotency-Key": "refund-0003"})
        assert unknown.status_code == 404
        entries = await rows(database_url, "SELECT idempotency_key FROM business.ledger_entries WHERE kind LIKE "
                                           "'card.%%ed' AND kind <> 'card.recharged' ORDER BY id")
        assert entries == [(f"card.debited:{STATION}:{body['payment_no']}",),
                           (f"card.credited:{STATION}:{STATION}-20261205-R00001",)]


async def _refused(http: httpx.AsyncClient, pos: dict[str, str], body: dict[str, Any]) -> str:
    answer = await http.post("/api/v1/card-payments", json=body, headers=pos | pos_key(body))
    assert answer.status_code == 409, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    return str(answer.json()["detail"])


async def test_status_and_restrictions_refuse_with_the_reason(database_url: str) -> None:
    app = create_app(database_url)
    li, pos = clerk(app), station_key(app)
    async with client(app) as http:
        await card_type(http, li)
        (card_no,) = await issue(http, li, plates=["粤B12345"], grades=[92], litres_per_fill=50, fills_per_day=2,
                                 daily_limit_fen=40000, stations=[STATION, "demo-02"])
        await recharge(http, li, card_no, 100000, "RC-RULES-1")
        ok = {"grade": 92, "plate": "粤B12345", "volume_l": "20.00"}
        assert (await _refused(http, pos, paying(card_no, 1, 10000, **(ok | {"grade": 95})))).startswith("限制油品")
        assert (await _refused(http, pos, paying(card_no, 2, 10000, **(ok | {"plate": "粤B99999"})))
                ).startswith("限制车牌")
        assert (await _refused(http, pos, paying(card_no, 3, 10000, **(ok | {"volume_l": "50.01"})))
                ).startswith("超出单次加油量")
        assert (await _refused(http, pos, paying(card_no, 4, 40001, **ok))).startswith("超出单日限额")
        for n in (5, 6):
            body = paying(card_no, n, 10000, **ok)
            assert (await http.post("/api/v1/card-payments", json=body, headers=pos | pos_key(body))).status_code == 200
        assert (await _refused(http, pos, paying(card_no, 7, 100, **ok))).startswith("超出单日加油次数")
        elsewhere = station_key(app, "demo-03")
        body = paying(card_no, 8, 100, **ok) | {"station": "demo-03"}
        answer = await http.post("/api/v1/card-payments", json=body, headers=elsewhere | pos_key(body))
        assert answer.status_code == 409 and answer.json()["detail"].startswith("限制站点")
        assert (await http.post("/api/v1/card-payments", json=paying(card_no, 9, 100),
                                headers=station_key(app, "demo-02") | {"Idempotency-Key": "scope-0001"})
                ).status_code == 403                                           # another station's payment
        await http.post(f"/api/v1/cards/{card_no}/freeze", json={"freeze": True}, headers=li)
        assert (await _refused(http, pos, paying(card_no, 10, 100, **ok))).startswith("卡已冻结")
        unknown = await http.post("/api/v1/card-payments", json=paying("4111111111111111", 11, 100),
                                  headers=pos | {"Idempotency-Key": "unknown-01"})
        assert unknown.status_code == 404
        assert await balance(database_url, card_no) == 80000                   # only the two that were taken


async def test_concurrent_payments_never_overdraw(database_url: str) -> None:
    app = create_app(database_url)
    li, pos = clerk(app), station_key(app)
    async with client(app) as http:
        await card_type(http, li)
        (card_no,) = await issue(http, li)
        await recharge(http, li, card_no, 10000, "RC-RACE-01")
        bodies = [paying(card_no, n, 3000) for n in range(1, 11)]
        answers = await asyncio.gather(*(http.post("/api/v1/card-payments", json=b, headers=pos | pos_key(b))
                                         for b in bodies))
        assert sorted(a.status_code for a in answers) == [200] * 3 + [409] * 7
        assert {a.json()["detail"] for a in answers if a.status_code == 409} == {
            "余额不足 (the card's balance does not cover the amount)"}
        assert await balance(database_url, card_no) == 1000
        assert len(await rows(database_url, "SELECT 1 FROM business.card_payments")) == 3
