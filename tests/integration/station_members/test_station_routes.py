"""The station server's member routes for the POS while head office is unreachable: lookups from the list
(marked offline, personal data masked by role), registration refused clearly, the member attached to orders
(order.changed carries member_no), a stored-value payment over HTTP and the member's receipt lines."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest

from business_services.online_payments.station_client import HeadOfficeLink
from business_services.payments.registry import member_providers
from forecourt.local import free_port
from tests.integration.sales.payments_support import STATION, add_orders, open_shift, station_api
from tests.integration.station_members.support import CARD, MEMBER, PHONE, PLATE, card, hold, member
from tests.support.auth import bearer

pytestmark = pytest.mark.integration
POS = ("member:register", "order:write", "payment:read", "payment:take")


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def test_the_pos_serves_a_member_while_head_office_is_away(station_database_url: str) -> None:
    await hold(station_database_url, member(), card())
    link = HeadOfficeLink(f"http://127.0.0.1:{free_port()}", "no-key", timeout_s=1, probe_every_s=3600)
    await open_shift(station_database_url)
    [order_no] = await add_orders(station_database_url, 15000)
    async with station_api(station_database_url, member_providers(link, station_database_url)) as (app, http):
        cashier = bearer(app, *POS, stations=frozenset({STATION}), username="cashier")
        base = f"/api/v1/stations/{STATION}"

        found = await http.get(f"{base}/members/lookup", params={"phone": PHONE}, headers=cashier)
        assert found.status_code == 200, found.text
        body = found.json()
        assert body["member_no"] == MEMBER and body["offline"] is True and body["points_balance"] is None
        assert body["phone"] == "138****8000" and body["plates"] == ["京A***45"]
        assert body["cards"][0]["card_no"] == CARD and body["cards"][0]["card_no_masked"] == "6222 **** **** 2222"
        privileged = bearer(app, *POS, "pii:read", stations=frozenset({STATION}))
        plate = await http.get(f"{base}/members/lookup", params={"plate": PLATE}, headers=privileged)
        assert plate.json()["plates"] == [PLATE] and plate.json()["cards"][0]["card_no_masked"] == CARD

        bad = await http.get(f"{base}/members/lookup", params={"phone": "12345"}, headers=cashier)
        assert bad.status_code == 422 and "手机号" in bad.json()["detail"]
        two = await http.get(f"{base}/members/lookup", params={"phone": PHONE, "plate": PLATE}, headers=cashier)
        assert two.status_code == 422
        none = await http.get(f"{base}/members/lookup", params={"phone": "13900000000"}, headers=cashier)
        assert none.status_code == 404 and "离线" in none.json()["detail"]
        outside = bearer(app, *POS, stations=frozenset({"demo-03"}))
        assert (await http.get(f"{base}/members/lookup", params={"phone": PHONE}, headers=outside)).status_code == 403

        registered = await http.post(f"{base}/members", json={"phone": "13900000000"}, headers=cashier | key())
        assert registered.status_code == 503 and registered.json()["detail"].startswith("总部连接中断")

        attach = {"order_nos": [order_no], "member_no": MEMBER, "plate": PLATE}
        attached = await http.post(f"{base}/orders/member", json=attach, headers=cashier | key())
        assert attached.status_code == 200, attached.text
        again = await http.post(f"{base}/orders/member", json=attach, headers=cashier | key())
        assert again.status_code == 200                          # a second time changes nothing
        wrong = await http.post(f"{base}/orders/member", json=attach | {"member_no": "X1"}, headers=cashier | key())
        assert wrong.status_code == 422

        paid = await http.post(f"{base}/payments", headers=cashier | key(), json={
            "terminal": "pos-1", "order_nos": [order_no],
            "tenders": [{"method": "stored_value", "amount_fen": 15000, "card_no": CARD}]})
        assert paid.status_code == 200, paid.text
        assert paid.json()["payments"][0]["state"] == "succeeded"
        late = await http.post(f"{base}/orders/member", json=attach | {"member_no": "M00000002"},
                               headers=cashier | key())
        assert late.status_code == 409                           # paid already: its points are decided

        receipt = await http.get(f"{base}/orders/{order_no}/member-receipt", headers=cashier)
        assert receipt.status_code == 200, receipt.text
        lines = receipt.json()
        assert lines["member_no"] == MEMBER and lines["offline"] is True
        assert lines["balance_fen"] == 100000 - 15000 and lines["points_note"] == "积分以总部入账为准"
        printed = await http.get(f"{base}/orders/{order_no}/receipt", headers=cashier)
        assert printed.status_code == 200
        for words in (MEMBER, "6222 **** **** 2222", "约 850.00 元", "积分以总部入账为准"):
            assert words in printed.text, words                  # the printable receipt has the member's lines
        assert CARD not in printed.text
        held = (await http.get(f"{base}/member-list/held", headers=cashier)).json()
        assert held["online"] is False and held["members"] == 1
    await link.close()

    async with await psycopg.AsyncConnection.connect(station_database_url) as conn:
        rows = await (await conn.execute(
            "SELECT payload FROM business.outbox WHERE topic LIKE '%%/order.changed' ORDER BY seq")).fetchall()
        changes = [json.loads(p)["data"] if isinstance(p, str) else p["data"] for (p,) in rows]
        members = [(c["action"], c.get("member_no"), c.get("plate")) for c in changes]
        assert members[0] == ("member", MEMBER, PLATE) and members.count(("member", MEMBER, PLATE)) == 1
        assert members[-1][1] == MEMBER                          # the paid order still names its member
        audit = await (await conn.execute(
            "SELECT count(*) FROM business.audit_log WHERE action = 'order.member'")).fetchone()
        assert audit == (1,)
