"""The drive-through routes over HTTP: head office keeps each member's choice (a card of theirs, refused
clearly otherwise) and carries it to the stations on the member list, audited; the station server shows the
attachments masked by role and the cashier's undo refunds the payment once, however often it is sent."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from control_api.app import create_app
from telemetry.contracts.broker import BrokerAddress
from tests.integration.cards import support as cards
from tests.integration.drive_through.test_drive_through import member_tenders, pay, providers, seen
from tests.integration.ic_cards.ic_support import deliver, fuelling, rows
from tests.integration.sales.payments_support import STATION, open_shift, station_api
from tests.integration.station_members.support import CARD, PLATE, card, hold, member
from tests.support.auth import bearer

pytestmark = pytest.mark.integration


async def test_head_office_keeps_the_members_choice_and_lists_it(database_url: str) -> None:
    app = create_app(database_url)
    li = cards.clerk(app, "li", "member:read", "member:write", "pii:read")
    async with cards.client(app) as http:
        no, other = await cards.member(http, li, 1), await cards.member(http, li, 2)
        await cards.card_type(http, li)
        (card_no,) = await cards.issue(http, li, member_no=no)
        (others,) = await cards.issue(http, li, member_no=other)
        url = f"/api/v1/members/{no}/drive-through"

        assert (await http.get(url, headers=li)).json()["method"] == "off"
        chosen = await http.put(url, json={"method": "stored_value", "card_no": card_no}, headers=li)
        assert chosen.status_code == 200, chosen.text
        assert chosen.json()["card_no"] == card_no
        [(item,)] = await rows(database_url, "SELECT item FROM business.member_list_changes WHERE kind = 'member' "
                                             "AND key = %s ORDER BY seq DESC LIMIT 1", no)
        assert (item["drive_through"], item["drive_through_card_no"]) == ("stored_value", card_no)
        reader = await http.get(url, headers=bearer(app, "member:read"))
        assert reader.json()["card_no"] is None and reader.json()["card_masked"] != card_no

        for body, why in (({"method": "stored_value", "card_no": others}, "会员本人"),
                          ({"method": "stored_value"}, "储值卡"), ({"method": "agreement"}, "尚未开通免密支付"),
                          ({"method": "fleet_credit"}, "车辆卡上开通")):
            refused = await http.put(url, json=body, headers=li)
            assert refused.status_code == 422 and why in refused.json()["detail"], refused.text
        assert (await http.put("/api/v1/members/M99999999/drive-through", json={"method": "off"},
                               headers=li)).status_code == 404
        assert (await http.put(url, json={"method": "off"}, headers=bearer(app, "member:read"))).status_code == 403
        assert (await http.put(url, json={"method": "off"}, headers=li)).json()["method"] == "off"
    assert await rows(database_url, "SELECT count(*) FROM business.audit_log WHERE action = 'member.drive_through'") \
        == [(2,)]


async def test_the_cashier_sees_the_attachment_and_undoes_it_once(station_database_url: str,
                                                                   broker: BrokerAddress) -> None:
    url = station_database_url
    await hold(url, member(drive_through="stored_value", drive_through_card_no=CARD), card())
    await open_shift(url)
    now = datetime.now(UTC)
    await deliver(url, broker, seen(2, PLATE, now - timedelta(minutes=3)), STATION)
    await deliver(url, broker, fuelling(STATION, 2, 7, 15000, at=now), STATION)
    assert await pay(url, providers(url)) == 1
    async with station_api(url, member_tenders(url)) as (app, http):
        base = f"/api/v1/stations/{STATION}/drive-through"
        cashier = bearer(app, "payment:read", "payment:take", stations=frozenset({STATION}), username="cashier")
        [shown] = (await http.get(base, headers=cashier)).json()["items"]
        assert shown["state"] == "paid" and shown["plate"] != PLATE and shown["fuelling_point"] == 2
        privileged = bearer(app, "payment:read", "pii:read", stations=frozenset({STATION}))
        assert (await http.get(base, headers=privileged)).json()["items"][0]["plate"] == PLATE
        outside = bearer(app, "payment:read", stations=frozenset({"demo-03"}))
        assert (await http.get(base, headers=outside)).status_code == 403

        undo = f"{base}/{shown['recognition_id']}/undo"
        key = {"Idempotency-Key": str(uuid.uuid4())}
        assert (await http.post(undo, json={"reason": " "}, headers=cashier | key)).status_code == 422
        key = {"Idempotency-Key": str(uuid.uuid4())}
        first = await http.post(undo, json={"reason": "车牌识别错误"}, headers=cashier | key)
        again = await http.post(undo, json={"reason": "车牌识别错误"}, headers=cashier | key)
        other = await http.post(undo, json={"reason": "车牌识别错误"},
                                headers=cashier | {"Idempotency-Key": str(uuid.uuid4())})
        assert first.status_code == again.status_code == other.status_code == 200, first.text
        assert first.json()["state"] == "undone"
        refund = first.json()["refund"]             # head office is away here: the card's refund waits for it
        assert (refund["state"], refund["amount_fen"]) == ("pending", 15000)
        [listed] = (await http.get(base, headers=cashier)).json()["items"]       # the day's list keeps it
        assert (listed["state"], listed["member_name"]) == ("undone", "张*")
        assert listed["refund"] == first.json()["refund"]
        missing = await http.post(f"{base}/{uuid.uuid4()}/undo", json={"reason": "x"},
                                  headers=cashier | {"Idempotency-Key": str(uuid.uuid4())})
        assert missing.status_code == 404 and "无感支付" in missing.json()["detail"]
    assert await rows(url, "SELECT amount_fen FROM business.payment_refunds") == [(15000,)]
    assert await rows(url, "SELECT count(*) FROM business.audit_log WHERE action = 'drive_through.undo'") == [(1,)]
