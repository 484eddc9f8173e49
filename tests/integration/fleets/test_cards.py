"""Fleet cards at head office (/api/v1/fleet-cards): issue (numbered by the enterprise's serial, a vehicle's plate on
its whitelist, once per Idempotency-Key), limits, PIN, freeze / unfreeze / lost / close, each audited and listed
to the stations (a closed card unlisted); numbers and plates masked without pii:read; the caller's stations."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from typing import Any

import openpyxl
import pytest

from business_services.fleets.cards import fleet_card_no, listed_enterprise
from control_api.app import create_app
from tests.integration.fleets.card_support import (
    asking,
    client,
    connected,
    put_on_card,
    scalar,
    station_key,
)
from tests.support.auth import bearer
from tests.support.fleets import make_card, make_enterprise

pytestmark = pytest.mark.integration
CARDS = "/api/v1/fleet-cards"
CLERK = ("fleet:read", "fleet:write", "pii:read")


def key(name: str) -> dict[str, str]:
    return {"Idempotency-Key": f"fleet-card-{name}"}


def vehicle_card(enterprise: str, plate: str = "沪A12345", **more: Any) -> dict[str, Any]:
    return {"enterprise": enterprise, "holder": "vehicle", "pays_from": "credit", "plate": plate,
            "daily_fen": 30000, "grades": [0, 92], "hours_from": 6, "hours_to": 22} | more


async def listed(url: str, card_no: str) -> Any:
    return await scalar(url, "SELECT item FROM business.member_list_changes WHERE kind = 'fleet_card' AND key = %s "
                             "ORDER BY seq DESC LIMIT 1", card_no)


async def test_issue_numbers_whitelists_lists_and_audits_a_card_once(database_url: str) -> None:
    async with connected(database_url) as conn:
        enterprise = await make_enterprise(conn, credit_limit_fen=500000)
        prepaid = await make_enterprise(conn, settlement="prepaid", credit_limit_fen=0)
    app = create_app(database_url)
    li = bearer(app, *CLERK, username="li")
    async with client(app) as http:
        first_key = key("issue-01")
        issued = await http.post(CARDS, json=vehicle_card(enterprise), headers=li | first_key)
        assert issued.status_code == 200, issued.text
        card_no = issued.json()["card_no"]
        assert card_no == fleet_card_no(enterprise, 1) and card_no.startswith("9100" + enterprise[1:])
        again = await http.post(CARDS, json=vehicle_card(enterprise), headers=li | first_key)
        assert again.json() == issued.json() and again.headers["Idempotent-Replayed"] == "true"
        second = await http.post(CARDS, json={"enterprise": enterprise, "holder": "driver", "pays_from": "credit",
                                              "driver": "王师傅"}, headers=li | key("02"))
        assert second.json()["card_no"] == fleet_card_no(enterprise, 2)

        same_plate = await http.post(CARDS, json=vehicle_card(enterprise), headers=li | key("03x"))
        assert same_plate.status_code == 409 and "已有未注销的车队卡" in same_plate.json()["detail"]
        no_credit = await http.post(CARDS, json=vehicle_card(prepaid, "沪B11111"),
                                    headers=li | key("04"))
        assert no_credit.status_code == 409 and "不是挂账结算" in no_credit.json()["detail"]
        no_plate = await http.post(CARDS, json=vehicle_card(enterprise, plate=None),
                                   headers=li | key("05"))
        assert no_plate.status_code == 422 and "车辆卡须填写车牌" in no_plate.json()["detail"]
        half_hours = await http.post(CARDS, json=vehicle_card(enterprise, "沪C22222", hours_to=None),
                                     headers=li | key("06"))
        assert half_hours.status_code == 422 and "开始和结束" in half_hours.json()["detail"]

    assert await scalar(database_url, "SELECT count(*) FROM business.fleet_cards") == 2
    fleet_id = await scalar(database_url, "SELECT v.fleet_id = e.id FROM business.vehicles v, "
                                          "business.fleet_enterprises e WHERE v.plate = '沪A12345' AND e.code = %s",
                            enterprise)
    assert fleet_id is True
    item = await listed(database_url, card_no)
    assert (item["plate"], item["daily_fen"], item["grades"], item["hours"], item["available_fen"]) == \
        ("沪A12345", 30000, [0, 92], [6, 22], 500000)
    audit = await scalar(database_url, "SELECT after FROM business.audit_log WHERE action = 'fleet.card.issue' "
                                       "ORDER BY seq LIMIT 1")
    assert audit["card_no"] == card_no[:4] + "********" + card_no[-4:] and audit["plate"] == "沪A****5"


async def test_limits_pin_and_status_change_what_the_pump_is_allowed(database_url: str) -> None:
    async with connected(database_url) as conn:
        enterprise = await make_enterprise(conn, settlement="prepaid", credit_limit_fen=0)
    app = create_app(database_url)
    li, pos = bearer(app, *CLERK, username="li"), station_key(app)
    async with client(app) as http:
        issued = await http.post(CARDS, json={"enterprise": enterprise, "holder": "driver", "pays_from": "card",
                                              "pin": "1357"}, headers=li | key("11"))
        card_no, card_id = issued.json()["card_no"], issued.json()["id"]
        await put_on_card(database_url, enterprise, card_no, 50000)

        async def ask(**more: Any) -> tuple[str, int]:
            answer = (await http.post("/api/v1/fleet-authorisations", json=asking(card_no, pin="1357") | more,
                                      headers=pos)).json()
            if answer["allowed"]:
                await http.post(f"/api/v1/fleet-authorisations/{answer['auth_no']}/release", headers=pos)
            return answer["code"], answer["preset_fen"]

        assert await ask() == ("ok", 50000)
        limits = await http.put(f"{CARDS}/{card_id}/limits", json={"per_fill_fen": 20000, "driver": "王师傅"},
                                headers=li)
        assert limits.json() == {"card_no": card_no, "changed": True}
        assert await ask() == ("ok", 20000)
        assert (await listed(database_url, card_no))["per_fill_fen"] == 20000

        assert [await ask(pin="0000") for _ in range(5)][-1] == ("pin_locked", 0)
        reset = await http.post(f"{CARDS}/{card_id}/pin", json={"pin": "2468"}, headers=li)
        assert reset.json() == {"card_no": card_no, "pin": True}
        assert await ask(pin="2468") == ("ok", 20000)

        async def status(action: str) -> Any:
            return await http.post(f"{CARDS}/{card_id}/status", json={"action": action, "reason": "司机离职"},
                                   headers=li)
        assert (await status("freeze")).json() == {"card_no": card_no, "status": "frozen"}
        assert await ask(pin="2468") == ("card_status", 0)
        assert (await status("freeze")).status_code == 409
        assert (await status("unfreeze")).json()["status"] == "active"
        assert (await status("lost")).json()["status"] == "lost"
        assert (await status("unfreeze")).status_code == 409
        refused = await status("close")
        assert refused.status_code == 409 and "划拨回企业" in refused.json()["detail"]
        detail = (await http.get(f"{CARDS}/{card_id}", headers=li)).json()
        assert (detail["status"], detail["driver"], detail["money_fen"], detail["pin"]) == \
            ("lost", "王师傅", 50000, True)
        assert len(detail["authorisations"]) == 9

    actions = await scalar(database_url, "SELECT array_agg(action ORDER BY seq) FROM business.audit_log "
                                         "WHERE action LIKE 'fleet.card.%%'")
    assert actions == ["fleet.card.issue", "fleet.card.limits", "fleet.card.pin_locked", "fleet.card.pin",
                       "fleet.card.freeze", "fleet.card.unfreeze", "fleet.card.lost"]


async def test_a_closed_card_is_unlisted_and_frees_its_plate(database_url: str) -> None:
    async with connected(database_url) as conn:
        enterprise = await make_enterprise(conn)
    app = create_app(database_url)
    li = bearer(app, *CLERK, username="li")
    async with client(app) as http:
        first = (await http.post(CARDS, json=vehicle_card(enterprise), headers=li | key("21-a")))
        closed = await http.post(f"{CARDS}/{first.json()['id']}/status", json={"action": "close", "reason": "报废"},
                                 headers=li)
        assert closed.json()["status"] == "closed"
        assert await listed(database_url, first.json()["card_no"]) is None
        renewed = await http.post(CARDS, json=vehicle_card(enterprise), headers=li | key("21-b"))
        assert renewed.status_code == 200 and renewed.json()["card_no"] == fleet_card_no(enterprise, 2)


async def test_numbers_and_plates_are_masked_and_other_stations_cards_hidden(database_url: str) -> None:
    async with connected(database_url) as conn:
        ours = await make_enterprise(conn, station="demo-01")
        theirs = await make_enterprise(conn, station="demo-02", name="远方物流")
    app = create_app(database_url)
    li = bearer(app, *CLERK, username="li")
    async with client(app) as http:
        mine = await http.post(CARDS, json=vehicle_card(ours), headers=li | key("31-a"))
        other = await http.post(CARDS, json=vehicle_card(theirs, "沪D33333"), headers=li | key("31-b"))
        reader = bearer(app, "fleet:read", stations=frozenset({"demo-01"}), username="zhao")
        found = (await http.get(CARDS, headers=reader)).json()
        assert found["total"] == 1
        (item,) = found["items"]
        assert (item["id"], item["plate"], item["card_no"]) == \
            (mine.json()["id"], "沪A****5", mine.json()["card_no"][:4] + "********" + mine.json()["card_no"][-4:])
        assert (await http.get(f"{CARDS}/{other.json()['id']}", headers=reader)).status_code == 403
        writer = bearer(app, "fleet:read", "fleet:write", stations=frozenset({"demo-01"}), username="qian")
        issue_there = await http.post(CARDS, json=vehicle_card(theirs, "沪E44444"),
                                      headers=writer | key("31-c"))
        assert issue_there.status_code == 403
        by_plate = (await http.get(CARDS, params={"plate": "D333"}, headers=li)).json()
        assert [i["id"] for i in by_plate["items"]] == [other.json()["id"]]
        assert (await http.get(f"{CARDS}/{mine.json()['id']}", headers=bearer(app, "card:read"))).status_code == 403


async def test_the_card_list_exports_to_excel_masked_as_on_screen_within_the_stations(database_url: str) -> None:
    async with connected(database_url) as conn:
        ours = await make_enterprise(conn, station="demo-01", credit_limit_fen=123456)
        theirs = await make_enterprise(conn, station="demo-02", name="远方物流")
    app = create_app(database_url)
    li = bearer(app, *CLERK, username="li")
    async with client(app) as http:
        mine = (await http.post(CARDS, json=vehicle_card(ours), headers=li | key("41-a"))).json()["card_no"]
        await http.post(CARDS, json=vehicle_card(theirs, "沪D33333"), headers=li | key("41-b"))
        who = bearer(app, "fleet:read", "export:create", stations=frozenset({"demo-01"}), username="mk")
        started = await http.post("/api/v1/exports", headers=who, json={"kind": "fleet_cards", "filters": {}})
        assert started.status_code == 202, started.text
        url = f"/api/v1/exports/{started.json()['id']}"
        async with asyncio.timeout(30):
            while (status := (await http.get(url, headers=who)).json())["status"] == "running":
                await asyncio.sleep(0.1)
        assert status["status"] == "done", status
        content = (await http.get(f"{url}/file", headers=who)).content
    sheet = list(openpyxl.load_workbook(io.BytesIO(content), read_only=True).worksheets[0].iter_rows(values_only=True))
    assert sheet[0][:10] == ("卡号", "企业编码", "企业", "类型", "车牌", "司机", "状态", "付款方式",
                             "余额/剩余额度（元）", "日限额（元）")
    masked = mine[:4] + "********" + mine[-4:]
    assert [row[:10] for row in sheet[1:]] == [(masked, ours, "顺达物流", "车辆卡", "沪A****5", None, "正常",
                                                "企业挂账", 1234.56, 300)]


async def test_an_enterprise_change_relists_its_open_cards(database_url: str) -> None:
    async with connected(database_url) as conn:
        enterprise = await make_enterprise(conn, credit_limit_fen=10000)
        open_card = await make_card(conn, enterprise, serial=1)
        await make_card(conn, enterprise, serial=2, status="closed")
        await conn.execute("UPDATE business.fleet_enterprises SET status = 'frozen', credit_limit_fen = 20000 "
                           "WHERE code = %s", (enterprise,))
        assert await listed_enterprise(conn, enterprise, datetime.now(UTC)) == 1
    item = await listed(database_url, open_card)
    assert (item["enterprise_status"], item["available_fen"]) == ("frozen", 20000)
