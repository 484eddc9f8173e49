"""Members over the API on real PostgreSQL (control_api/routes/members.py, vehicles.py; business_services/members,
vehicles): registration with its Idempotency-Key and the 409 naming the member, lookups, the 360°, masking by
``pii:read``, the member list feed written in the same transaction, plate bindings and the blacklist, the PIPL
export and erasure, and the audit chain."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openpyxl
import psycopg
import pytest
from fastapi import FastAPI

from business_services.access.demo import seed_demo_company
from control_api.app import create_app
from forecourt.roles import Role
from telemetry.contracts.members import phone_digest
from tests.integration.cards import support as cards
from tests.support.api_client import served_api
from tests.support.auth import bearer

pytestmark = pytest.mark.integration

PHONE, ID_NUMBER = "13812345678", "11010519491231002X"     # GB 11643's sample number
FULL = ("member:read", "member:write", "member:privacy", "pii:read", "export:create")


@contextlib.asynccontextmanager
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app), \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield http


async def _rows(url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute(query, params)   # type: ignore[arg-type]
        return list(await cur.fetchall())


async def _seeded(url: str) -> None:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await seed_demo_company(conn)


def key(n: int) -> dict[str, str]:
    return {"Idempotency-Key": f"member-test-{n:04d}"}


async def test_register_look_up_and_see_the_360_masked_by_role(database_url: str) -> None:
    await _seeded(database_url)
    app = create_app(database_url)
    li = bearer(app, *FULL, username="li")
    reader = bearer(app, "member:read", username="zhao")
    cashier = bearer(app, "member:register", "member:read", stations=frozenset({"demo-01"}), username="cash")
    body = {"phone": PHONE, "name": "张三", "source": "back_office", "plate": "京A12345", "id_number": ID_NUMBER}
    async with client(app) as http:
        first = await http.post("/api/v1/members", json=body, headers={**li, **key(1)})
        assert first.status_code == 201, first.text
        member = first.json()
        no = member["member_no"]
        assert no.startswith("M") and len(no) == 9
        assert member["phone"] == PHONE and member["plates"] == ["京A12345"] and member["level"] == "normal"
        assert member["id_number_masked"] == "1101**********002X" and member["real_name"] == "checked"
        assert member["birthday"] == "1949-12-31"                    # from the ID number
        again = await http.post("/api/v1/members", json=body, headers={**li, **key(1)})
        assert again.status_code == 201 and again.json() == member
        assert again.headers["Idempotent-Replayed"] == "true"
        taken = await http.post("/api/v1/members", json=body | {"plate": None}, headers={**li, **key(2)})
        assert taken.status_code == 409 and taken.json()["member_no"] == no and no in taken.json()["detail"]
        wrong_id = body | {"phone": "13900000000", "id_number": "110105194912310021"}
        bad = await http.post("/api/v1/members", json=wrong_id, headers={**li, **key(3)})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "id_number"
        assert "校验位" in bad.json()["detail"]
        # a cashier registers at its own station only, and must name it
        outside = await http.post("/api/v1/members", json={"phone": "13900000001", "source": "pos",
                                                           "station": "demo-03"}, headers={**cashier, **key(4)})
        assert outside.status_code == 403
        nameless = await http.post("/api/v1/members", json={"phone": "13900000001", "source": "pos"},
                                   headers={**cashier, **key(5)})
        assert nameless.status_code == 422 and nameless.json()["errors"][0]["field"] == "station"
        at_pos = await http.post("/api/v1/members", json={"phone": "13900000001", "source": "pos",
                                                          "station": "demo-01"}, headers={**cashier, **key(6)})
        assert at_pos.status_code == 201 and at_pos.json()["phone"] == "139****0001"   # no pii:read

        by_phone = (await http.get("/api/v1/members/lookup", params={"phone": PHONE}, headers=reader)).json()
        assert by_phone == {"member_no": no, "name": "张*", "phone": "138****5678", "level": "normal",
                            "level_name": "普通会员", "discount_pct": 0, "points_multiplier": 1.0, "status": "active",
                            "points_balance": 0, "cards": [], "plates": ["京A***45"]}
        by_plate = (await http.get("/api/v1/members/lookup", params={"plate": "京A12345"}, headers=li)).json()
        assert by_plate["member_no"] == no and by_plate["phone"] == PHONE
        nobody = await http.get("/api/v1/members/lookup", params={"phone": "13700000000"}, headers=li)
        assert nobody.status_code == 404
        two = await http.get("/api/v1/members/lookup", params={"phone": PHONE, "plate": "京A12345"}, headers=li)
        assert two.status_code == 422

        full = (await http.get(f"/api/v1/members/{no}", headers=li)).json()
        by_qr = (await http.get("/api/v1/members/lookup", params={"qr": full["profile"]["qr_token"]},
                                headers=cashier)).json()
        assert by_qr["member_no"] == no
        masked = (await http.get(f"/api/v1/members/{no}", headers=reader)).json()
        assert masked["profile"]["phone"] == "138****5678" and masked["profile"]["name"] == "张*"
        assert masked["profile"]["qr_token"] is None and masked["vehicles"][0]["plate"] == "京A***45"
        assert set(masked) == {"profile", "vehicles", "tags", "level", "growth", "lifecycle", "points", "orders",
                           "cards"}   # the cards part is installed: its section is there (empty here)
        assert masked["level"]["next"] == {"code": "silver", "name": "银卡会员", "growth_min": 1000}

        listed = (await http.get("/api/v1/members", params={"plate": "京A1"}, headers=reader)).json()
        assert listed["total"] == 1 and listed["items"][0]["phone"] == "138****5678"
        scoped = (await http.get("/api/v1/members", headers=cashier)).json()   # registered at its station only
        assert [m["member_no"] for m in scoped["items"]] == [at_pos.json()["member_no"]]

        edited = await http.patch(f"/api/v1/members/{no}", json={"name": "张三丰", "gender": "male"}, headers=li)
        assert edited.status_code == 200 and edited.json()["name"] == "张三丰"
        clash = await http.patch(f"/api/v1/members/{no}", json={"phone": "13900000001"}, headers=li)
        assert clash.status_code == 409 and clash.json()["member_no"] == at_pos.json()["member_no"]
        assert (await http.patch(f"/api/v1/members/{no}", json={"name": "王"}, headers=reader)).status_code == 403

    # the stations' list: the member with its digest, masked name and phone, and its plate, once per change
    feed = await _rows(database_url, "SELECT item FROM business.member_list_changes WHERE kind = 'member' "
                                     "AND key = %s ORDER BY seq", no)
    newest = feed[-1][0]
    assert newest["phone_digest"] == phone_digest(PHONE, "demo-co") and newest["phone_masked"] == "138****5678"
    assert newest["name_masked"] == "张**" and newest["plates"] == ["京A12345"] and newest["level"] == "normal"
    assert len(feed) == 3          # registered, plate bound, renamed (the refused edits listed nothing)
    audit = await _rows(database_url, "SELECT action, before, after FROM business.audit_log "
                                      "WHERE target = %s ORDER BY seq", f"member:{no}")
    assert [a for a, _, _ in audit] == ["members.register", "vehicles.bind", "members.edit"]
    assert PHONE not in json.dumps([b for _, *b in audit], ensure_ascii=False)   # personal data masked in the chain
    assert "张三" not in json.dumps([b for _, *b in audit], ensure_ascii=False)


async def test_plates_the_blacklist_and_entry_records(database_url: str) -> None:
    app = create_app(database_url)
    li = bearer(app, *FULL, username="li")
    async with client(app) as http:
        a = (await http.post("/api/v1/members", json={"phone": "13811110000", "source": "back_office"},
                             headers={**li, **key(1)})).json()["member_no"]
        b = (await http.post("/api/v1/members", json={"phone": "13822220000", "source": "wechat"},
                             headers={**li, **key(2)})).json()["member_no"]
        bound = await http.post(f"/api/v1/members/{a}/vehicles", json={"plate": "粤BD12345", "model": "比亚迪汉",
                                                                       "colour": "白"}, headers={**li, **key(3)})
        assert bound.status_code == 201 and bound.json()["changed"] is True
        same = await http.post(f"/api/v1/members/{a}/vehicles", json={"plate": "粤BD12345"}, headers={**li, **key(4)})
        assert same.status_code == 200 and same.json()["changed"] is False
        other = await http.post(f"/api/v1/members/{b}/vehicles", json={"plate": "粤BD12345"}, headers={**li, **key(5)})
        assert other.status_code == 409 and "已绑定" in other.json()["detail"]
        bad = await http.post(f"/api/v1/members/{b}/vehicles", json={"plate": "ABC"}, headers={**li, **key(6)})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "plate"
        unknown = await http.post("/api/v1/members/M99999999/vehicles", json={"plate": "粤B12345"},
                                  headers={**li, **key(7)})
        assert unknown.status_code == 404
        freed = await http.post(f"/api/v1/vehicles/{bound.json()['id']}/unbind", headers={**li, **key(8)})
        assert freed.status_code == 200 and freed.json()["member_no"] is None
        moved = await http.post(f"/api/v1/members/{b}/vehicles", json={"plate": "粤BD12345"}, headers={**li, **key(9)})
        assert moved.status_code == 201 and moved.json()["id"] == bound.json()["id"]
        # registering with a plate bound to someone else: refused whole (no member, no audit, no list change)
        refused = await http.post("/api/v1/members", json={"phone": "13833330000", "source": "pos",
                                                           "plate": "粤BD12345"}, headers={**li, **key(20)})
        assert refused.status_code == 409 and refused.json()["errors"][0]["field"] == "plate"
        assert await _rows(database_url, "SELECT count(*) FROM business.members WHERE phone = '13833330000'") == [(0,)]

        blocked = await http.post("/api/v1/vehicles/blocked-plates", json={"plate": "京C88888", "reason": "多次逃单"},
                                  headers={**li, **key(10)})
        assert blocked.status_code == 200 and blocked.json()["changed"] is True
        listed = (await http.get("/api/v1/vehicles/blocked-plates", headers=li)).json()
        assert [(p["plate"], p["reason"]) for p in listed["items"]] == [("京C88888", "多次逃单")]
        no_reason = await http.post("/api/v1/vehicles/blocked-plates", json={"plate": "京C88889", "reason": " "},
                                    headers={**li, **key(11)})
        assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
        lifted = await http.post("/api/v1/vehicles/blocked-plates/京C88888/unblock", json={"reason": "已补缴"},
                                 headers={**li, **key(12)})
        assert lifted.json()["changed"] is True
        twice = await http.post("/api/v1/vehicles/blocked-plates/京C88888/unblock", json={"reason": "已补缴"},
                                headers={**li, **key(13)})
        assert twice.json()["changed"] is False

        sighting = {"plate": "粤BD12345", "station": "demo-01", "direction": "entry", "at": "2026-12-05T08:00:00Z",
                    "lane": "1"}
        one = await http.post("/api/v1/vehicles/passages", json=sighting, headers={**li, **key(14)})
        again = await http.post("/api/v1/vehicles/passages", json=sighting, headers={**li, **key(15)})
        assert one.status_code == 200 and again.json()["id"] == one.json()["id"]
        scoped = bearer(app, "member:read", stations=frozenset({"demo-02"}))
        assert (await http.get("/api/v1/vehicles/passages", headers=scoped)).json()["total"] == 0
        masked = (await http.get("/api/v1/vehicles/passages", headers=bearer(app, "member:read"))).json()
        assert masked["items"][0]["plate"] == "粤B****45"

    changes = await _rows(database_url, "SELECT kind, key, item FROM business.member_list_changes "
                                        "WHERE kind = 'blocked_plate' ORDER BY seq")
    assert changes == [("blocked_plate", "京C88888", {"plate": "京C88888", "reason": "多次逃单"}),
                       ("blocked_plate", "京C88888", None)]
    plates = await _rows(database_url, "SELECT key, item -> 'plates' FROM business.member_list_changes "
                                       "WHERE kind = 'member' ORDER BY seq")
    assert plates[-1] == (b, ["粤BD12345"]) and (a, []) in plates
    actions = await _rows(database_url, "SELECT action FROM business.audit_log WHERE action LIKE 'vehicles.%%' "
                                        "ORDER BY seq")
    assert [r[0] for r in actions] == ["vehicles.bind", "vehicles.unbind", "vehicles.bind", "vehicles.block",
                                       "vehicles.unblock"]


async def test_export_and_erase_one_members_personal_data(database_url: str) -> None:
    app = create_app(database_url)
    li = bearer(app, *FULL, username="li")
    async with client(app) as http:
        body = {"phone": PHONE, "name": "李四", "source": "back_office", "plate": "京A12345"}
        no = (await http.post("/api/v1/members", json=body, headers={**li, **key(1)})).json()["member_no"]
        no_privacy = bearer(app, "member:read", "member:write", "pii:read")
        assert (await http.get(f"/api/v1/members/{no}/personal-data", headers=no_privacy)).status_code == 403
        as_json = await http.get(f"/api/v1/members/{no}/personal-data", params={"format": "json"}, headers=li)
        assert as_json.status_code == 200 and "attachment" in as_json.headers["content-disposition"]
        data = as_json.json()
        assert data["profile"][0]["phone"] == PHONE and data["vehicles"][0]["plate"] == "京A12345"
        as_excel = await http.get(f"/api/v1/members/{no}/personal-data", headers=li)
        book = openpyxl.load_workbook(io.BytesIO(as_excel.content))
        assert book.sheetnames == ["基本资料", "车辆", "标签", "成长值明细", "等级变更", "订单"]
        assert book["基本资料"]["B2"].value == PHONE and book["车辆"]["A2"].value == "京A12345"

        await _rows(database_url, """INSERT INTO business.face_enrolments (person, embedding, embedder, consent_by,
                    consent_at, consent_method, consent_text_version, idempotency_key, enrolled_by)
                VALUES (%s, '{0.6, 0.8}', 'mobilefacenet', '李四', now(), 'paper', 'face-2026.1', 'k1', 'li')
                RETURNING id""", no)
        erased = await http.post(f"/api/v1/members/{no}/erasure", json={"reason": "本人书面申请"},
                                 headers={**li, **key(2)})
        assert erased.json() == {"member_no": no, "erased": True}
        assert await _rows(database_url, "SELECT id FROM business.face_enrolments WHERE person = %s", no) == []
        replay = await http.post(f"/api/v1/members/{no}/erasure", json={"reason": "本人书面申请"},
                                 headers={**li, **key(2)})
        assert replay.json() == erased.json()
        again = await http.post(f"/api/v1/members/{no}/erasure", json={"reason": "本人书面申请"},
                                headers={**li, **key(3)})
        assert again.json() == {"member_no": no, "erased": False}
        profile = (await http.get(f"/api/v1/members/{no}", headers=li)).json()["profile"]
        assert (profile["phone"], profile["name"], profile["status"], profile["plates"]) == (None, None, "erased", [])
        assert (await http.get("/api/v1/members", headers=li)).json()["total"] == 0
        assert (await http.get("/api/v1/members/lookup", params={"phone": PHONE}, headers=li)).status_code == 404
        edit = await http.patch(f"/api/v1/members/{no}", json={"name": "李"}, headers=li)
        assert edit.status_code == 409
        fresh = await http.post("/api/v1/members", json={"phone": PHONE, "source": "pos"}, headers={**li, **key(4)})
        assert fresh.status_code == 201 and fresh.json()["member_no"] != no   # the phone may register again

    assert await _rows(database_url, "SELECT phone, name, birthday FROM business.members WHERE member_no = %s",
                       no) == [(None, None, None)]
    assert await _rows(database_url, "SELECT count(*) FROM business.vehicles WHERE plate = '京A12345'") == [(0,)]
    newest = await _rows(database_url, "SELECT item FROM business.member_list_changes WHERE key = %s "
                                       "ORDER BY seq DESC LIMIT 1", no)
    assert newest == [(None,)]                                 # unlisted from the stations
    audit = await _rows(database_url, "SELECT action, before, after FROM business.audit_log WHERE target = %s "
                                      "ORDER BY seq", f"member:{no}")
    assert [a for a, _, _ in audit] == ["members.register", "vehicles.bind", "members.privacy_export",
                                        "members.privacy_export", "members.erase"]
    assert PHONE not in json.dumps([b for _, *b in audit]) and "李四" not in json.dumps([b for _, *b in audit],
                                                                                      ensure_ascii=False)


async def test_the_360_and_the_lookup_show_the_members_cards_and_points(database_url: str) -> None:
    """The cards and points sections come from those contexts' views: a new member's are empty; with a card
    issued and recharged and points granted the lookup finds the member by card, the POS sees the full card
    number (member:register), a reader without pii:read a masked one, and the 360° the balances."""
    app = create_app(database_url)
    li = bearer(app, *FULL, "card:read", "card:write", "points:write", username="li")
    async with client(app) as http:
        no = (await http.post("/api/v1/members", json={"phone": PHONE, "source": "back_office"},
                              headers={**li, **key(1)})).json()["member_no"]
        before = (await http.get(f"/api/v1/members/{no}", headers=li)).json()
        assert before["cards"] == [] and before["points"]["balance"] == 0
        await cards.card_type(http, li)
        (card_no,) = await cards.issue(http, li, member_no=no)
        assert (await cards.recharge(http, li, card_no, 50_000, "R-360-1")).status_code == 200
        granted = await http.post(f"/api/v1/points/members/{no}/adjustments", headers={**li, **key(2)},
                                  json={"points": 120, "reason": "开卡礼"})
        assert granted.status_code == 200, granted.text
        pos = bearer(app, "member:register", stations=frozenset({"demo-01"}))
        found = (await http.get("/api/v1/members/lookup", params={"card_no": card_no}, headers=pos)).json()
        assert found["member_no"] == no and found["points_balance"] == 120
        assert [(c["card_no"], c["status"], c["balance_fen"]) for c in found["cards"]] == [(card_no, "active", 50_000)]
        masked = (await http.get("/api/v1/members/lookup", params={"card_no": card_no},
                                 headers=bearer(app, "member:read"))).json()
        assert masked["cards"][0]["card_no"] == card_no[:4] + "*" * 8 + card_no[-4:]
        nobody = await http.get("/api/v1/members/lookup", params={"card_no": "6222000099998888"}, headers=pos)
        assert nobody.status_code == 404
        after = (await http.get(f"/api/v1/members/{no}", headers=bearer(app, "member:read"))).json()
        assert after["cards"][0]["card_no"] == masked["cards"][0]["card_no"] and after["points"]["balance"] == 120


async def _exported(http: httpx.AsyncClient, headers: dict[str, str], filters: dict[str, Any]) -> list[tuple[Any, ...]]:
    started = await http.post("/api/v1/exports", headers=headers, json={"kind": "members", "filters": filters})
    assert started.status_code == 202, started.text
    job = started.json()["id"]
    async with asyncio.timeout(30):
        while (status := (await http.get(f"/api/v1/exports/{job}", headers=headers)).json())["status"] == "running":
            await asyncio.sleep(0.1)
    assert status["status"] == "done", status
    content = (await http.get(f"/api/v1/exports/{job}/file", headers=headers)).content
    return list(openpyxl.load_workbook(io.BytesIO(content), read_only=True).worksheets[0].iter_rows(values_only=True))


async def test_the_member_list_exports_to_excel_masked_as_on_screen_and_no_log_holds_personal_data(
        database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with served_api(database_url) as (app, http):
        li = bearer(app, *FULL, username="li")
        body = {"phone": PHONE, "name": "赵六", "source": "back_office", "plate": "京A12345"}
        no = (await http.post("/api/v1/members", json=body, headers={**li, **key(1)})).json()["member_no"]
        await http.post("/api/v1/members", json={"phone": "13900000002", "source": "wechat"}, headers={**li, **key(2)})
        assert (await http.get("/api/v1/members/lookup", params={"phone": PHONE}, headers=li)).status_code == 200
        whole = await _exported(http, li, {"plate": "京A"})
        assert whole[0][:4] == ("会员号", "姓名", "手机号", "性别")
        assert [r[:3] for r in whole[1:]] == [(no, "赵六", PHONE)] and whole[1][7] == "京A12345"
        masked = await _exported(http, bearer(app, "member:read", "export:create", username="zhao"), {})
        assert sorted(r[2] for r in masked[1:]) == ["138****5678", "139****0002"]
        assert all(PHONE not in str(cell) and "赵六" not in str(cell) and "京A12345" not in str(cell)
                   for row in masked for cell in row)
    served = [r for r in caplog.records if r.name != "httpx"]   # the test's own client logs its URLs
    assert served, "nothing was logged at all: the check below would prove nothing"
    for record in served:
        message = record.getMessage()
        assert PHONE not in message and "赵六" not in message and "京A12345" not in message, message


async def test_the_level_table_and_the_tags(database_url: str) -> None:
    app = create_app(database_url)
    li = bearer(app, *FULL, username="li")
    async with client(app) as http:
        no = (await http.post("/api/v1/members", json={"phone": PHONE, "source": "back_office"},
                              headers={**li, **key(1)})).json()["member_no"]
        diamond = {"code": "diamond", "name": "钻石会员", "rank": 4, "growth_min": 50_000, "discount_pct": 5,
                   "points_multiplier": 3, "birthday_privilege": "生日当月积分五倍"}
        made = await http.post("/api/v1/member-levels", json=diamond, headers={**li, **key(2)})
        assert made.status_code == 200 and made.json()["growth_min"] == 50_000
        again = await http.post("/api/v1/member-levels", json=diamond, headers={**li, **key(2)})
        assert again.json() == made.json() and again.headers["Idempotent-Replayed"] == "true"
        taken = await http.post("/api/v1/member-levels", json=diamond, headers={**li, **key(3)})
        assert taken.status_code == 409 and taken.json()["errors"][0]["field"] == "code"
        lower = await http.post("/api/v1/member-levels", json=diamond | {"code": "ruby", "rank": 5, "growth_min": 100},
                                headers={**li, **key(4)})
        assert lower.status_code == 422 and "应高于" in lower.json()["detail"]
        clash = await http.post("/api/v1/member-levels", json=diamond | {"code": "ruby", "rank": 1, "growth_min": 1500},
                                headers={**li, **key(5)})
        assert clash.status_code == 409 and clash.json()["errors"][0]["field"] == "rank"
        normal = {"name": "普通会员", "rank": 0, "growth_min": 0, "discount_pct": 1}
        changed = await http.patch("/api/v1/member-levels/normal", json=normal, headers=li)
        assert changed.status_code == 200 and changed.json()["discount_pct"] == 1 and changed.json()["members"] == 1
        assert (await http.patch("/api/v1/member-levels/nosuch", json=normal, headers=li)).status_code == 404
        levels = (await http.get("/api/v1/member-levels", headers=bearer(app, "member:read"))).json()
        assert [lv["code"] for lv in levels["items"]] == ["normal", "silver", "gold", "platinum", "diamond"]

        vip = await http.post("/api/v1/member-tags", json={"name": "车队客户", "description": "手工"},
                              headers={**li, **key(6)})
        assert vip.status_code == 200 and vip.json()["kind"] == "manual"
        dup = await http.post("/api/v1/member-tags", json={"name": "车队客户"}, headers={**li, **key(7)})
        assert dup.status_code == 409
        half_rule = await http.post("/api/v1/member-tags", json={"name": "高消费", "rule_kind": "spent_in_days"},
                                    headers={**li, **key(8)})
        assert half_rule.status_code == 422 and half_rule.json()["errors"][0]["field"] == "rule"
        rule = await http.post("/api/v1/member-tags", json={"name": "高消费", "rule_kind": "spent_in_days", "days": 30,
                                                            "at_least": 100_000}, headers={**li, **key(9)})
        assert rule.json()["rule"] == {"kind": "spent_in_days", "days": 30, "at_least": 100_000}
        given = await http.post(f"/api/v1/members/{no}/tags", json={"tag_id": vip.json()["id"]},
                                headers={**li, **key(10)})
        assert given.json() == {"changed": True}
        by_rule = await http.post(f"/api/v1/members/{no}/tags", json={"tag_id": rule.json()["id"]},
                                  headers={**li, **key(11)})
        assert by_rule.status_code == 409 and "规则标签" in by_rule.json()["detail"]
        listed = (await http.get("/api/v1/members", params={"tag": vip.json()["id"]}, headers=li)).json()
        assert [m["member_no"] for m in listed["items"]] == [no] and listed["items"][0]["tags"] == ["车队客户"]
        taken_off = await http.delete(f"/api/v1/members/{no}/tags/{vip.json()['id']}", headers=li)
        assert taken_off.json() == {"changed": True}
        tags = (await http.get("/api/v1/member-tags", headers=li)).json()["items"]
        assert {t["name"]: t["members"] for t in tags} == {"近30天加油≥4次": 0, "车队客户": 0, "高消费": 0}

    newest = (await _rows(database_url, "SELECT item FROM business.member_list_changes WHERE key = %s "
                                        "ORDER BY seq DESC LIMIT 1", no))[0][0]
    assert newest["discount_pct"] == 1          # the level's new discount reached the stations' list
    actions = [r[0] for r in await _rows(database_url, "SELECT action FROM business.audit_log "
                                                       "WHERE action LIKE 'members.%%' ORDER BY seq")]
    assert actions == ["members.register", "members.level", "members.level", "members.tag_definition",
                       "members.tag_definition", "members.tag", "members.untag"]


async def test_a_station_server_has_no_member_routes(station_database_url: str) -> None:
    """Members are head office's: a station server keeps its member list instead (part S)."""
    app = create_app(station_database_url, role=Role.STATION)
    li = bearer(app, *FULL, username="li")
    async with client(app) as http:
        for method, path in (("GET", "/api/v1/members"), ("POST", "/api/v1/members"),
                             ("GET", "/api/v1/vehicles/blocked-plates")):
            answer = await http.request(method, path, headers={**li, **key(1)},
                                        json={"phone": PHONE, "source": "pos"} if method == "POST" else None)
            assert answer.status_code == 404 and "总部" in answer.json()["detail"], (method, path)
