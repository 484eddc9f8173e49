"""What a pending (online) payment reserves of its orders, against the pay endpoint's short path: a payment
is allocated as if nothing were reserved and its first statement checks that with the orders locked
(``payments/repository.add_unless_reserved``), so these prove the check: a cash payment next to a waiting
QR payment gets only what is left, racing QR payments together never reserve more than is owed, and a
payment refused or allocated twice takes no number (numbers have no gaps). Real PostgreSQL, the station
server's real API."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.integration.sales.payments_support import STATION, add_orders, cash, cashier, open_shift, scalar, station_api
from tests.integration.sales.test_payments import QrProvider, paid

# bursts of requests at once: alone, so that the API pool's 2 s wait is their own
pytestmark = [pytest.mark.integration, pytest.mark.serial]
PAYMENTS = f"/api/v1/stations/{STATION}/payments"


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def _qr(fen: int) -> dict[str, object]:
    return {"method": "wechat", "amount_fen": fen}


async def test_cash_beside_a_waiting_qr_payment_gets_only_what_is_left(station_database_url: str) -> None:
    url = station_database_url
    await open_shift(url)
    order_no, other = await add_orders(url, 10000, 3000)
    async with station_api(url, online=[QrProvider()]) as (app, http):
        auth = cashier(app)

        async def pay(order_nos: list[str], *tenders: dict[str, object]) -> tuple[int, dict[str, object]]:
            answer = await http.post(PAYMENTS, headers={**auth, **_key()},
                                     json={"terminal": "pos-1", "order_nos": order_nos, "tenders": list(tenders)})
            return answer.status_code, answer.json()

        status, waiting = await pay([order_no], _qr(6000))
        assert status == 200 and waiting["payments"][0]["state"] == "pending"
        status, refused = await pay([order_no], cash(4001))                    # 10000 - 6000 reserved = 4000
        assert status == 409 and "4000" in refused["detail"]
        status, split = await pay([order_no, other], cash(2000), cash(5000))   # merged and split: 4000 + 3000 left
        assert status == 200, split
        allocations = [p["allocations"] for p in split["payments"]]
        assert [[(a["order_no"], a["amount_fen"]) for a in a_list] for a_list in allocations] == [
            [(order_no, 2000)], [(order_no, 2000), (other, 3000)]]
    assert await paid(url, order_no) == (4000, "payable") and await paid(url, other) == (3000, "paid")
    numbers = [str(n) for n in await _numbers(url)]
    assert [n.rsplit("P", 1)[1] for n in numbers] == ["00001", "00002", "00003"]     # no gap for the refusal


async def test_racing_qr_payments_never_reserve_more_than_is_owed(station_database_url: str) -> None:
    url = station_database_url
    await open_shift(url)
    [order_no] = await add_orders(url, 10000)
    async with station_api(url, online=[QrProvider()]) as (app, http):
        auth = cashier(app)
        body = {"terminal": "pos-1", "order_nos": [order_no], "tenders": [_qr(4000)]}
        answers = await asyncio.gather(*[http.post(PAYMENTS, headers={**auth, **_key()}, json=body)
                                         for _ in range(10)])
        last = await http.post(PAYMENTS, headers={**auth, **_key()},
                               json={"terminal": "pos-1", "order_nos": [order_no], "tenders": [cash(2000)]})
    assert sorted(a.status_code for a in answers) == [200, 200] + [409] * 8
    assert last.status_code == 200, last.text                                # 10000 - 2 x 4000 reserved
    assert await scalar(url, "SELECT sum(a.amount_fen) FROM business.payment_allocations a "
                             "JOIN business.payments p USING (payment_no) WHERE p.state = 'pending'") == 8000
    assert len(await _numbers(url)) == 3


async def _numbers(url: str) -> list[object]:
    found = await scalar(url, "SELECT coalesce(array_agg(payment_no ORDER BY payment_no), '{}') "
                              "FROM business.payments")
    assert isinstance(found, list)
    return found
