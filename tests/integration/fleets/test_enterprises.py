"""Fleet enterprises at head office over the API (control_api/routes/fleets.py, business_services/fleets): codes,
review of new enterprises and of credit and status changes by a second person, the edit history, groups and
batch operations, the list with totals and its Excel export, scope and masking (docs/fleets.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from business_services.ledger import repository as ledger
from business_services.ledger.model import fleet_payment_entry
from control_api.app import create_app
from tests.integration.fleets.enterprise_support import (
    STATION,
    approve,
    approver,
    clerk,
    client,
    enterprise,
    exported,
    key,
    scalar,
)
from tests.support.auth import bearer

pytestmark = pytest.mark.integration


async def test_a_new_enterprise_gets_the_next_code_and_waits_for_a_second_person(database_url: str) -> None:
    app = create_app(database_url)
    li, boss = clerk(app), approver(app)
    async with client(app) as http:
        body = {"name": "顺达物流有限公司", "maintaining_station": STATION, "settlement": "credit",
                "credit_limit_fen": 5_000_000, "contacts": [{"name": "王经理", "phone": "13812345678"}]}
        headers = li | key()
        made = await http.post("/api/v1/fleet-enterprises", headers=headers, json=body)
        assert made.status_code == 200, made.text
        assert made.json()["code"] == "E000001"
        again = await http.post("/api/v1/fleet-enterprises", headers=headers, json=body)   # a retry: the same one
        assert again.json() == made.json() and again.headers["Idempotent-Replayed"] == "true"
        second = await http.post("/api/v1/fleet-enterprises", headers=li | key(),
                                 json=body | {"name": "远通运输", "customer_code": "YT-01"})
        assert second.json()["code"] == "E000002"
        assert await scalar(database_url, "SELECT count(*) FROM business.fleet_enterprises") == 2

        read = (await http.get("/api/v1/fleet-enterprises/E000001", headers=li)).json()
        assert read["review"] == "pending" and read["customer_code"] == "E000001"
        refused = await http.post("/api/v1/fleet-enterprises/E000001/recharges", headers=li | key(),
                                  json={"recharge_no": "FR-000001", "paid_fen": 100000, "method": "bank_card",
                                        "station": STATION})
        assert refused.status_code == 409 and "审核" in refused.json()["detail"]    # no money before review
        own = await approve(http, li | bearer(app, "fleet:approve", "approval:decide", username="li"),
                            made.json()["approval_id"])
        assert own.status_code in (403, 409)                                       # never the requester
        assert (await approve(http, boss, made.json()["approval_id"])).status_code == 200
        assert (await http.get("/api/v1/fleet-enterprises/E000001", headers=li)).json()["review"] == "approved"
        rejected = await http.post(f"/api/v1/approvals/{second.json()['approval_id']}/reject",
                                   json={"comment": "资料不全"}, headers=boss)
        assert rejected.status_code == 200, rejected.text
        assert (await http.get("/api/v1/fleet-enterprises/E000002", headers=li)).json()["review"] == "rejected"
        history = (await http.get("/api/v1/fleet-enterprises/E000001/history", headers=li)).json()["items"]
        assert [(h["kind"], h["state"], h["reviewed_by"]) for h in history] == [("create", "applied", "boss")]
        actions = await scalar(database_url, "SELECT array_agg(action ORDER BY seq) FROM business.audit_log "
                                             "WHERE target = 'fleet_enterprise:E000001'")
        assert actions == ["fleet.enterprise.create", "fleet.enterprise.create"]   # asked, then applied


async def test_credit_and_status_changes_wait_for_review_other_edits_apply_at_once(database_url: str) -> None:
    app = create_app(database_url)
    li, boss = clerk(app), approver(app)
    async with client(app) as http:
        code = await enterprise(http, li, boss, settlement="credit", credit_limit_fen=1_000_000)
        edit = await http.patch(f"/api/v1/fleet-enterprises/{code}", headers=li,
                                json={"name": "顺达物流（集团）", "credit_limit_fen": 3_000_000, "note": "年度续签"})
        assert edit.status_code == 200, edit.text
        assert edit.json()["applied"] == ["name"] and edit.json()["review"]["approval_id"]
        now = edit.json()["enterprise"]
        assert now["name"] == "顺达物流（集团）" and now["credit_limit_fen"] == 1_000_000     # the line waits
        busy = await http.patch(f"/api/v1/fleet-enterprises/{code}", headers=li, json={"credit_limit_fen": 1})
        assert busy.status_code == 409                                  # one change under review at a time
        bad = await http.patch(f"/api/v1/fleet-enterprises/{code}", headers=li, json={"settlement": "prepaid"})
        assert bad.status_code == 422 and "预付企业没有授信额度" in bad.json()["detail"]   # the line is not 0
        assert (await approve(http, boss, edit.json()["review"]["approval_id"])).status_code == 200
        read = (await http.get(f"/api/v1/fleet-enterprises/{code}", headers=li)).json()
        assert read["credit_limit_fen"] == 3_000_000 and read["remaining_credit_fen"] == 3_000_000

        frozen = await http.post("/api/v1/fleet-enterprises/batch/status", headers=li,
                                 json={"codes": [code], "status": "frozen", "note": "逾期未付"})
        assert frozen.status_code == 200, frozen.text
        assert (await http.get(f"/api/v1/fleet-enterprises/{code}", headers=li)).json()["status"] == "normal"
        assert (await approve(http, boss, frozen.json()["requests"][0]["approval_id"])).status_code == 200
        assert (await http.get(f"/api/v1/fleet-enterprises/{code}", headers=li)).json()["status"] == "frozen"
        history = (await http.get(f"/api/v1/fleet-enterprises/{code}/history", headers=li)).json()["items"]
        assert [(h["kind"], h["state"]) for h in history] == [("freeze", "applied"), ("credit", "applied"),
                                                              ("edit", "applied"), ("create", "applied")]
        assert history[1]["before"] == {"credit_limit_fen": 1_000_000} and history[1]["note"] == "年度续签"
        assert history[2]["after"] == {"name": "顺达物流（集团）"} and history[2]["reviewed_by"] is None


async def test_groups_and_batch_operations_are_all_or_none(database_url: str) -> None:
    app = create_app(database_url)
    li, boss = clerk(app), approver(app)
    async with client(app) as http:
        codes = [await enterprise(http, li, boss, name=f"车队{i}", customer_code=f"C-{i}") for i in range(3)]
        group = await http.post("/api/v1/fleet-groups", headers=li, json={"name": "危化品运输"})
        assert group.status_code == 201, group.text
        assert (await http.post("/api/v1/fleet-groups", headers=li, json={"name": "危化品运输"})).status_code == 409
        moved = await http.post("/api/v1/fleet-enterprises/batch/group", headers=li,
                                json={"codes": codes[:2], "group_id": group.json()["id"]})
        assert moved.json() == {"moved": 2}
        groups = (await http.get("/api/v1/fleet-groups", headers=li)).json()["items"]
        assert [(g["name"], g["enterprises"]) for g in groups] == [("危化品运输", 2)]
        listed = (await http.get("/api/v1/fleet-enterprises", headers=li,
                                 params={"group_id": group.json()["id"]})).json()
        assert [r["code"] for r in listed["items"]] == codes[:2] and listed["items"][0]["group_name"] == "危化品运输"

        first = await http.post("/api/v1/fleet-enterprises/batch/status", headers=li,
                                json={"codes": [codes[0]], "status": "frozen", "note": "风控"})
        await approve(http, boss, first.json()["requests"][0]["approval_id"])
        again = await http.post("/api/v1/fleet-enterprises/batch/status", headers=li,
                                json={"codes": codes, "status": "frozen", "note": "风控"})
        assert again.status_code == 409 and codes[0] in again.json()["detail"]    # already frozen: none asked
        assert await scalar(database_url, "SELECT count(*) FROM business.fleet_enterprise_changes "
                                          "WHERE state = 'pending'") == 0
        rest = await http.post("/api/v1/fleet-enterprises/batch/status", headers=li,
                               json={"codes": codes[1:], "status": "frozen", "note": "风控"})
        for asked in rest.json()["requests"]:
            assert (await approve(http, boss, asked["approval_id"])).status_code == 200
        frozen = (await http.get("/api/v1/fleet-enterprises", headers=li, params={"status": "frozen"})).json()
        assert frozen["total"] == 3


async def test_the_list_shows_money_and_warnings_with_totals_and_exports_them(database_url: str) -> None:
    app = create_app(database_url)
    li, boss = clerk(app, "li", "export:create"), approver(app)
    async with client(app) as http:
        a = await enterprise(http, li, boss, name="甲物流", customer_code="JIA", settlement="credit",
                             credit_limit_fen=1_000_000, warn_pct=80)
        b = await enterprise(http, li, boss, name="乙运输", customer_code="YI", settlement="credit",
                             credit_limit_fen=1_000_000, warn_pct=80)
        other = await enterprise(http, li, boss, name="丙车队", customer_code="BING", maintaining_station="demo-03")
        for code, paid in ((a, 200_000), (b, 50_000)):
            done = await http.post(f"/api/v1/fleet-enterprises/{code}/recharges", headers=li | key(),
                                   json={"recharge_no": f"FR-{code}", "paid_fen": paid, "gift_fen": paid // 10,
                                         "method": "bank_card", "station": STATION})
            assert done.status_code == 200, done.text
        async with await psycopg.AsyncConnection.connect(database_url) as conn:   # sales on credit (挂账)
            await ledger.post(conn, fleet_payment_entry(STATION, "demo-01-P1", a, None, 850_000, datetime.now(UTC)))
            await ledger.post(conn, fleet_payment_entry(STATION, "demo-01-P2", b, None, 100_000, datetime.now(UTC)))
        listed = (await http.get("/api/v1/fleet-enterprises", headers=li)).json()
        rows = {r["code"]: r for r in listed["items"]}
        assert (rows[a]["prepaid_fen"], rows[a]["gift_fen"], rows[a]["debt_fen"], rows[a]["remaining_credit_fen"]) \
            == (200_000, 20_000, 850_000, 150_000)
        assert rows[a]["over_warning"] and not rows[b]["over_warning"]        # 85% ≥ 80%; 10% is not
        assert listed["totals"] == {"count": 3, "prepaid_fen": 250_000, "gift_fen": 25_000, "debt_fen": 950_000,
                                    "remaining_credit_fen": 150_000 + 900_000}
        detail = (await http.get(f"/api/v1/fleet-enterprises/{a}", headers=li)).json()
        assert detail["over_warning"] and detail["debt_fen"] == 850_000
        statement = (await http.get(f"/api/v1/fleet-enterprises/{a}/statement", headers=li,
                                    params={"account": "receivable"})).json()
        assert [r["amount"] for r in statement["items"]] == [850_000]

        east = clerk(app, "zhao", "export:create", stations=frozenset({"demo-03"}))
        seen = (await http.get("/api/v1/fleet-enterprises", headers=east)).json()
        assert [r["code"] for r in seen["items"]] == [other] and seen["totals"]["count"] == 1
        assert (await http.get(f"/api/v1/fleet-enterprises/{a}", headers=east)).status_code == 403
        assert (await http.get("/api/v1/fleet-enterprises", headers=east,
                               params={"station": STATION})).status_code == 403

        sheet = await exported(http, li, {"q": "物流"})
        assert sheet[0][:2] == ("企业编号", "企业名称") and len(sheet) == 2
        assert sheet[1][0] == a and sheet[1][10] == 8500 and sheet[1][14] == "超限"
        assert len(await exported(http, east, {})) == 2                      # the header and its own one


async def test_phones_are_masked_without_pii_read_and_bad_input_is_a_clear_4xx(database_url: str) -> None:
    app = create_app(database_url)
    li, boss = clerk(app), approver(app)
    reader = bearer(app, "fleet:read", username="wu")
    async with client(app) as http:
        code = await enterprise(http, li, boss, contacts=[{"name": "王经理", "phone": "13812345678"}])
        seen = (await http.get(f"/api/v1/fleet-enterprises/{code}", headers=reader)).json()
        assert seen["contacts"][0]["phone"] == "138****5678"
        history = (await http.get(f"/api/v1/fleet-enterprises/{code}/history", headers=reader)).json()["items"]
        assert "13812345678" not in str(history)
        assert (await http.post("/api/v1/fleet-groups", headers=reader, json={"name": "x"})).status_code == 403
        for body in ({"name": "", "maintaining_station": STATION}, {"name": "x", "maintaining_station": STATION,
                                                                     "settlement": "credit"},
                     {"name": "x", "maintaining_station": STATION, "price_agreement": "NO-SUCH"},
                     {"name": "x", "maintaining_station": STATION, "group_id": 99}):
            refused = await http.post("/api/v1/fleet-enterprises", headers=li | key(), json=body)
            assert refused.status_code == 422, (body, refused.text)
            assert refused.headers["content-type"].startswith("application/problem+json")
        assert (await http.get("/api/v1/fleet-enterprises/E123456", headers=li)).status_code == 404
        taken = await http.post("/api/v1/fleet-enterprises", headers=li | key(),
                                json={"name": "x", "maintaining_station": STATION, "customer_code": code})
        assert taken.status_code == 409 and "客户编码" in taken.json()["detail"]
