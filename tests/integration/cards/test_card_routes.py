"""Cards at head office over the API (control_api/routes/cards.py, business_services/cards): types, issue one and a
batch, recharge with an offer, main and sub cards, freeze, close, and the changes by approval; each change audited
and listed for the stations; numbers masked without pii:read; retries change nothing (docs/cards.md)."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import httpx
import openpyxl
import psycopg
import pytest

from business_services.cards import views
from business_services.cards.model import luhn_valid
from control_api.app import create_app
from tests.integration.cards.support import (
    CLERK,
    STATION,
    balance,
    balances,
    card_type,
    clerk,
    client,
    issue,
    key,
    listed,
    member,
    recharge,
    rows,
    scalar,
)
from tests.support.auth import bearer

pytestmark = pytest.mark.integration


async def test_issue_one_and_a_batch_each_listed_and_audited(database_url: str) -> None:
    app = create_app(database_url)
    li = clerk(app)
    async with client(app) as http:
        made = await card_type(http, li)
        m1 = await member(http, li, 1)
        assert made["next_serial"] == 1 and made["scope"] == "chain"
        again = await http.post("/api/v1/card-types", json={**made, "code": "other"} | {"prefix": "8861"}, headers=li)
        assert again.status_code in (409, 422), again.text                 # the prefix is taken
        (first,) = await issue(http, li, member_no=m1, plates=["粤B12345"])
        assert first.startswith("8861") and len(first) == 16 and luhn_valid(first)
        body = {"card_type": "chain-sv", "station": STATION, "count": 50}
        headers = li | key()
        batch = await http.post("/api/v1/cards", json=body, headers=headers)
        assert batch.status_code == 200, batch.text
        numbers = batch.json()["card_nos"]
        assert batch.json()["count"] == 50 and len(set(numbers)) == 50 and all(map(luhn_valid, numbers))
        assert [int(n[4:-1]) for n in numbers] == list(range(2, 52))           # consecutive serials after the first
        replay = await http.post("/api/v1/cards", json=body, headers=headers)   # a retry: the same 50, no more
        assert replay.json() == batch.json() and replay.headers["Idempotent-Replayed"] == "true"
        assert await scalar(database_url, "SELECT count(*) FROM business.cards") == 51
        clash = await http.post("/api/v1/cards", json=body | {"first_serial": 10}, headers=li | key())
        assert clash.status_code == 409 and "已发出" in clash.json()["detail"]

        item = await listed(database_url, first)
        assert item is not None and item["status"] == "active" and item["member_no"] == m1
        assert item["plates"] == ["粤B12345"] and item["offline_limit_fen"] == 20000 and item["balance_fen"] == 0
        assert await scalar(database_url, "SELECT count(DISTINCT key) FROM business.member_list_changes "
                                          "WHERE kind = 'card'") == 51
        audit = await rows(database_url, "SELECT action, target FROM business.audit_log WHERE action LIKE 'card.%%' "
                                         "ORDER BY seq")
        assert audit == [("card.type.create", "card_type:chain-sv"), ("card.issue", f"card:{first}"),
                         ("card.issue", "card_batch:chain-sv:2-51")]

        # a reader without pii:read sees masked numbers and plates, and names a card by its id
        marketing = bearer(app, "card:read", username="mk")
        page = (await http.get("/api/v1/cards", params={"member_no": m1}, headers=marketing)).json()
        shown = page["items"][0]
        assert shown["card_no"] == first[:4] + "********" + first[-4:] and shown["plates"] == ["粤B****5"]
        detail = await http.get(f"/api/v1/cards/{shown['id']}", headers=marketing)
        assert detail.status_code == 200 and detail.json()["card_no"] == shown["card_no"]
        assert (await http.get(f"/api/v1/cards/{first}", headers=li)).json()["card_no"] == first
        # another station's clerk neither reads nor issues demo-01's cards
        other = clerk(app, "zhao", stations=frozenset({"demo-03"}))
        assert (await http.get(f"/api/v1/cards/{first}", headers=other)).status_code == 403
        assert (await http.post("/api/v1/cards", json={"card_type": "chain-sv", "station": STATION},
                                headers=other | key())).status_code == 403
        assert (await http.get("/api/v1/cards", headers=other)).json()["total"] == 0


async def test_recharge_with_an_offer_posts_once(database_url: str) -> None:
    app = create_app(database_url)
    li = clerk(app)
    async with client(app) as http:
        await card_type(http, li)
        offer = await http.post("/api/v1/card-offers", headers=li,
                                json={"name": "充500送50", "min_paid_fen": 50000, "bonus_fen": 5000,
                                      "starts_on": "2026-01-01", "ends_on": "2099-12-31"})
        assert offer.status_code == 201, offer.text
        quote = await http.get("/api/v1/card-offers/quote", params={"paid_fen": 50000, "station": STATION,
                                                                     "card_type": "chain-sv"}, headers=li)
        assert quote.json() == {"offer_id": offer.json()["id"], "name": "充500送50", "bonus_fen": 5000}
        (card_no,) = await issue(http, li)
        body = {"paid_fen": 50000, "method": "wechat", "station": STATION, "recharge_no": "RC-000001"}
        headers = li | key()
        first = await http.post(f"/api/v1/cards/{card_no}/recharges", json=body, headers=headers)
        assert first.status_code == 200, first.text
        assert first.json() | {} == {"card_no": card_no, "recharge_no": "RC-000001", "bonus_fen": 5000,
                                     "balance_fen": 55000}
        assert (await http.post(f"/api/v1/cards/{card_no}/recharges", json=body,
                                headers=headers)).headers["Idempotent-Replayed"] == "true"
        by_number = await http.post(f"/api/v1/cards/{card_no}/recharges", json=body, headers=li | key())
        assert by_number.json()["balance_fen"] == 55000                      # the same recharge number: posted once
        small = await recharge(http, li, card_no, 49999, "RC-000002")
        assert small.json()["bonus_fen"] == 0 and small.json()["balance_fen"] == 104999
        assert await balance(database_url, card_no) == 104999
        accounts = await balances(database_url, "marketing:recharge-bonus", f"clearing:wechat:{STATION}")
        assert accounts == {"marketing:recharge-bonus": 5000, f"clearing:wechat:{STATION}": 99999}
        assert (await listed(database_url, card_no) or {})["balance_fen"] == 104999
        cash = await http.post(f"/api/v1/cards/{card_no}/recharges", headers=li | key(),
                               json=body | {"method": "cash", "recharge_no": "RC-000003"})
        assert cash.status_code == 422 and "班次" in cash.json()["detail"]
        statement = (await http.get(f"/api/v1/cards/{card_no}/statement", headers=li)).json()
        assert [(e["kind"], e["amount"]) for e in statement["items"]] == [("card.recharged", -49999),
                                                                         ("card.recharged", -55000)]
        detail = (await http.get(f"/api/v1/cards/{card_no}", headers=li)).json()
        assert [r["offer"] for r in detail["recharges"]] == [None, "充500送50"]


async def test_a_main_card_allocates_to_its_sub_card_and_back(database_url: str) -> None:
    app = create_app(database_url)
    li = clerk(app)
    async with client(app) as http:
        await card_type(http, li)
        m2 = await member(http, li, 2)
        (main,) = await issue(http, li, member_no=m2)
        (sub,) = await issue(http, li, member_no=m2, main_card_no=main, grades=[0],
                             daily_limit_fen=80000)
        assert (await recharge(http, li, sub, 100, "RC-SUB-01")).status_code == 409   # funded by its main card
        await recharge(http, li, main, 100000, "RC-MAIN-01")
        to_sub = await http.post(f"/api/v1/cards/{main}/allocations", json={"sub_card_no": sub, "amount_fen": 30000},
                                 headers=li | key())
        assert to_sub.json() == {"main_balance_fen": 70000, "sub_balance_fen": 30000}
        back = await http.post(f"/api/v1/cards/{main}/allocations",
                               json={"sub_card_no": sub, "amount_fen": 10000, "back": True}, headers=li | key())
        assert back.json() == {"main_balance_fen": 80000, "sub_balance_fen": 20000}
        too_much = await http.post(f"/api/v1/cards/{main}/allocations", json={"sub_card_no": sub,
                                                                              "amount_fen": 80001},
                                   headers=li | key())
        assert too_much.status_code == 409 and too_much.json()["detail"].startswith("余额不足")
        kinds = await rows(database_url, "SELECT kind FROM business.ledger_entries ORDER BY id")
        assert [k for (k,) in kinds] == ["card.recharged", "card.allocated", "card.reclaimed"]
        assert (await listed(database_url, sub) or {})["main_card_no"] == main
        detail = (await http.get(f"/api/v1/cards/{main}", headers=li)).json()
        assert detail["sub_cards"] == [sub]
        refused = await http.post(f"/api/v1/cards/{main}/close", json={"reason": "退卡"}, headers=li | key())
        assert refused.status_code == 409 and "副卡" in refused.json()["detail"]


async def test_freeze_and_close_refund_a_named_card_and_forfeit_an_anonymous_one(database_url: str) -> None:
    app = create_app(database_url)
    li = clerk(app)
    async with client(app) as http:
        await card_type(http, li)
        await card_type(http, li, code="bearer-sv", name="不记名卡", named=False, prefix="8862")
        (named,) = await issue(http, li)
        (anonymous,) = await issue(http, li, card_type="bearer-sv")
        for card_no in (named, anonymous):
            await recharge(http, li, card_no, 20000, f"RC-{card_no[-6:]}")
        frozen = await http.post(f"/api/v1/cards/{named}/freeze", json={"freeze": True, "reason": "客户要求"},
                                 headers=li)
        assert frozen.json()["status"] == "frozen" and (await listed(database_url, named) or {})["status"] == "frozen"
        assert (await http.post(f"/api/v1/cards/{named}/freeze", json={"freeze": True},
                                headers=li)).status_code == 409
        for card_no, rule in ((named, "refund"), (anonymous, "forfeit")):
            closed = await http.post(f"/api/v1/cards/{card_no}/close", json={"reason": "退卡"}, headers=li | key())
            assert closed.json() == {"card_no": card_no, "balance_fen": 20000, "rule": rule}, closed.text
            assert await listed(database_url, card_no) is None                  # unlisted
            assert await balance(database_url, card_no) == 0
        accounts = await balances(database_url, "payable:card-refunds", "income:card-forfeited")
        assert accounts == {"payable:card-refunds": 20000, "income:card-forfeited": 20000}
        again = await http.post(f"/api/v1/cards/{named}/close", json={"reason": "退卡"}, headers=li | key())
        assert again.status_code == 409


async def test_loss_report_and_replacement_by_approval(database_url: str) -> None:
    app = create_app(database_url)
    li, boss = clerk(app, "li"), clerk(app, "boss", "approval:decide", "approval:read")
    async with client(app) as http:
        await card_type(http, li)
        m3 = await member(http, li, 3)
        (card_no,) = await issue(http, li, member_no=m3, plates=["粤B12345"])
        await recharge(http, li, card_no, 30000, "RC-LOSS-01")

        async def ask(action: str, **more: str) -> str:
            asked = await http.post(f"/api/v1/cards/{card_no}/requests", headers=li,
                                    json={"action": action, "reason": "客户来电"} | more)
            assert asked.status_code == 202, asked.text
            return str(asked.json()["approval_id"])

        loss = await ask("report_loss")
        assert (await http.get(f"/api/v1/cards/{card_no}", headers=li)).json()["status"] == "active"   # not yet
        own = await http.post(f"/api/v1/approvals/{loss}/approve", json={}, headers=li)
        assert own.status_code in (403, 409)                                     # never the requester
        approved = await http.post(f"/api/v1/approvals/{loss}/approve", json={}, headers=boss)
        assert approved.status_code == 200, approved.text
        assert (await http.get(f"/api/v1/cards/{card_no}", headers=li)).json()["status"] == "lost"
        assert (await listed(database_url, card_no) or {})["status"] == "lost"

        replace = await ask("replace")
        assert (await http.post(f"/api/v1/approvals/{replace}/approve", json={}, headers=boss)).status_code == 200
        old = (await http.get(f"/api/v1/cards/{card_no}", headers=li)).json()
        new_no = old["replaced_by"]
        assert old["status"] == "closed" and luhn_valid(new_no) and await listed(database_url, card_no) is None
        new = (await http.get(f"/api/v1/cards/{new_no}", headers=li)).json()
        assert (new["status"], new["balance_fen"], new["member_no"], new["plates"]) == ("active", 30000,
                                                                                        m3, ["粤B12345"])
        assert await balance(database_url, card_no) == 0
        actions = [a for (a,) in await rows(database_url, "SELECT action FROM business.audit_log WHERE action "
                                                          "LIKE 'card.%%' OR action LIKE 'approval.%%' ORDER BY seq")]
        assert actions[-7:] == ["approval.request", "approval.approve", "card.report_loss", "approval.request",
                                "approval.approve", "card.issue", "card.replace"]
        refused = await http.post(f"/api/v1/cards/{card_no}/requests", headers=li,
                                  json={"action": "unlock", "reason": "找到了"})
        assert refused.status_code == 409                                        # a closed card


async def test_transfer_and_binding(database_url: str) -> None:
    app = create_app(database_url)
    li, boss = clerk(app, "li"), clerk(app, "boss", "approval:decide")
    async with client(app) as http:
        await card_type(http, li)
        await card_type(http, li, code="app-sv", name="电子储值卡", medium="electronic", prefix="8863")
        m5 = await member(http, li, 5)
        m4 = await member(http, li, 4)
        assert (await http.post("/api/v1/cards", json={"card_type": "app-sv", "station": STATION},
                                headers=li | key())).status_code == 422             # an electronic card for a member
        (electronic,) = await issue(http, li, card_type="app-sv", member_no=m4)
        (physical,) = await issue(http, li)
        bound = await http.post(f"/api/v1/cards/{physical}/binding", json={"linked_card_no": electronic}, headers=li)
        assert bound.status_code == 200, bound.text
        assert (bound.json()["linked_card_no"], bound.json()["member_no"]) == (electronic, m4)
        asked = await http.post(f"/api/v1/cards/{physical}/requests", headers=li,
                                json={"action": "transfer", "reason": "过户", "to_member_no": m5})
        await http.post(f"/api/v1/approvals/{asked.json()['approval_id']}/approve", json={}, headers=boss)
        assert (await http.get(f"/api/v1/cards/{physical}", headers=li)).json()["member_no"] == m5
        assert (await listed(database_url, physical) or {})["member_no"] == m5
        mine = await http.put(f"/api/v1/cards/{physical}/restrictions", headers=li,
                              json={"plates": ["粤B54321"], "grades": [92, 95], "fills_per_day": 3})
        assert mine.status_code == 200 and mine.json()["grades"] == [92, 95] and mine.json()["fills_per_day"] == 3


async def test_the_largest_batch_is_one_request_and_a_members_cards_are_one_view(database_url: str) -> None:
    app = create_app(database_url)
    li = clerk(app)
    async with client(app) as http:
        await card_type(http, li)
        m9 = await member(http, li, 9)
        batch = await http.post("/api/v1/cards", json={"card_type": "chain-sv", "station": STATION, "count": 1000,
                                                       "first_serial": 500000}, headers=li | key())
        assert batch.status_code == 200 and batch.json()["count"] == 1000, batch.text
        assert (await http.post("/api/v1/cards", json={"card_type": "chain-sv", "station": STATION, "count": 1001},
                                headers=li | key())).status_code == 422
        assert await scalar(database_url, "SELECT count(DISTINCT key) FROM business.member_list_changes "
                                          "WHERE kind = 'card'") == 1000
        assert await scalar(database_url, "SELECT next_serial FROM business.card_types") == 501000
        (electronic,) = await issue(http, li, member_no=m9)
        (other,) = await issue(http, li, member_no=m9)
        await recharge(http, li, other, 1234, "RC-VIEW-01")
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cards = await views.cards_of(conn, m9)
        one = await views.card(conn, other)
    assert [(c["card_no"], c["balance_fen"], c["status"]) for c in cards] == [(electronic, 0, "active"),
                                                                            (other, 1234, "active")]
    assert one is not None and one["balance_fen"] == 1234 and one["sub_cards"] == []


async def test_a_replaced_main_card_hands_its_sub_cards_to_the_new_one(database_url: str) -> None:
    app = create_app(database_url)
    li, boss = clerk(app, "li"), clerk(app, "boss", "approval:decide")
    async with client(app) as http:
        await card_type(http, li)
        m6 = await member(http, li, 6)
        (main,) = await issue(http, li, member_no=m6)
        (sub,) = await issue(http, li, member_no=m6, main_card_no=main)
        asked = await http.post(f"/api/v1/cards/{main}/requests", headers=li,
                                json={"action": "replace", "reason": "卡片损坏"})
        assert (await http.post(f"/api/v1/approvals/{asked.json()['approval_id']}/approve", json={},
                                headers=boss)).status_code == 200
        new_main = (await http.get(f"/api/v1/cards/{main}", headers=li)).json()["replaced_by"]
        assert (await http.get(f"/api/v1/cards/{new_main}", headers=li)).json()["sub_cards"] == [sub]
        assert (await listed(database_url, sub) or {})["main_card_no"] == new_main
        assert (await http.get(f"/api/v1/cards/{main}", headers=li)).json()["sub_cards"] == []


async def _exported(http: httpx.AsyncClient, headers: dict[str, str], filters: dict[str, Any]) -> list[tuple[Any, ...]]:
    started = await http.post("/api/v1/exports", headers=headers, json={"kind": "cards", "filters": filters})
    assert started.status_code == 202, started.text
    job = started.json()["id"]
    async with asyncio.timeout(30):
        while (status := (await http.get(f"/api/v1/exports/{job}", headers=headers)).json())["status"] == "running":
            await asyncio.sleep(0.1)
    assert status["status"] == "done", status
    content = (await http.get(f"/api/v1/exports/{job}/file", headers=headers)).content
    return list(openpyxl.load_workbook(io.BytesIO(content), read_only=True).worksheets[0].iter_rows(values_only=True))


async def test_the_card_list_exports_to_excel_masked_as_on_screen(database_url: str) -> None:
    app = create_app(database_url)
    li = clerk(app)
    async with client(app) as http:
        await card_type(http, li)
        (first,) = await issue(http, li, plates=["粤B12345"])
        (second,) = await issue(http, li)
        await recharge(http, li, second, 12345, "RC-EXPORT-1")
        await http.post(f"/api/v1/cards/{first}/freeze", json={"freeze": True}, headers=li)
        masked = await _exported(http, bearer(app, "card:read", "export:create", username="mk"),
                                 {"status": "", "card_type": "chain-sv", "station": "", "member_no": ""})
        assert masked[0] == ("卡号", "卡类型", "状态", "会员号", "发卡站点", "余额（元）", "离线透支（元）", "限制车牌",
                             "批次", "发卡时间")
        assert [r[:8] for r in masked[1:]] == [
            (second[:4] + "********" + second[-4:], "连锁储值卡", "正常", None, STATION, 123.45, 0, None),
            (first[:4] + "********" + first[-4:], "连锁储值卡", "冻结", None, STATION, 0, 0, "粤B****5")]
        whole = await _exported(http, bearer(app, *CLERK, "export:create", username="li"), {"status": "frozen"})
        assert [(r[0], r[7]) for r in whole[1:]] == [(first, "粤B12345")]
        other = bearer(app, "card:read", "export:create", stations=frozenset({"demo-03"}), username="zhao")
        assert len(await _exported(http, other, {"station": ""})) == 1        # the header only: not its station
        refused = await http.post("/api/v1/exports", headers=other, json={"kind": "cards",
                                                                         "filters": {"station": STATION}})
        assert refused.status_code == 403
