"""An enterprise's money over the API: recharge (paid + gift, once per number), allocation 划拨 to its cards and
back, all or none and never beyond the balance (also when two clerks allocate at once), adjustments 调账 posted
only when a second person approves (docs/fleets.md "Enterprises and accounts")."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from business_services.fleets import views
from business_services.ledger.model import card
from control_api.app import create_app
from tests.integration.fleets.enterprise_support import (
    STATION,
    approve,
    approver,
    clerk,
    client,
    enterprise,
    key,
    scalar,
)
from tests.support.auth import bearer
from tests.support.fleets import make_card, make_enterprise

# bursts of requests at once: alone, so that the API pool's 2 s wait is their own
pytestmark = [pytest.mark.integration, pytest.mark.serial]


def _recharge(recharge_no: str, paid_fen: int, gift_fen: int = 0, **more: object) -> dict[str, object]:
    return {"recharge_no": recharge_no, "paid_fen": paid_fen, "gift_fen": gift_fen, "method": "wechat",
            "station": STATION} | more


async def _balance(url: str, code: str) -> int:
    return int(await scalar(url, "SELECT coalesce((SELECT balance FROM business.ledger_balances WHERE code = %s), 0)",
                            code))


async def test_a_recharge_posts_once_per_number(database_url: str) -> None:
    app = create_app(database_url)
    li, boss = clerk(app), approver(app)
    async with client(app) as http:
        code = await enterprise(http, li, boss)
        other = await enterprise(http, li, boss, name="远通运输", customer_code="YT")
        headers = li | key()
        done = await http.post(f"/api/v1/fleet-enterprises/{code}/recharges", headers=headers,
                               json=_recharge("FR-0000001", 500_000, 50_000))
        assert done.status_code == 200, done.text
        assert (done.json()["prepaid_fen"], done.json()["gift_fen"]) == (500_000, 50_000)
        replay = await http.post(f"/api/v1/fleet-enterprises/{code}/recharges", headers=headers,
                                 json=_recharge("FR-0000001", 500_000, 50_000))
        assert replay.json() == done.json() and replay.headers["Idempotent-Replayed"] == "true"
        same_no = await http.post(f"/api/v1/fleet-enterprises/{code}/recharges", headers=li | key(),
                                  json=_recharge("FR-0000001", 500_000, 50_000))
        assert same_no.status_code == 200 and same_no.json()["prepaid_fen"] == 500_000     # nothing posted again
        elsewhere = await http.post(f"/api/v1/fleet-enterprises/{other}/recharges", headers=li | key(),
                                    json=_recharge("FR-0000001", 1000))
        assert elsewhere.status_code == 409 and "另一家企业" in elsewhere.json()["detail"]
        cash = await http.post(f"/api/v1/fleet-enterprises/{code}/recharges", headers=li | key(),
                               json=_recharge("FR-0000002", 1000, method="cash"))
        assert cash.status_code == 422 and "班次" in cash.json()["detail"]
        assert await scalar(database_url, "SELECT count(*) FROM business.ledger_entries WHERE kind = "
                                          "'fleet.recharged'") == 1
        assert await scalar(database_url, "SELECT count(*) FROM business.audit_log "
                                          "WHERE action = 'fleet.recharge'") == 1
        statement = (await http.get(f"/api/v1/fleet-enterprises/{code}/statement", headers=li)).json()
        assert [(r["kind"], r["reference"], r["balance_after"]) for r in statement["items"]] == \
            [("fleet.recharged", "FR-0000001", 500_000)]


async def test_allocation_to_cards_and_back_all_or_none(database_url: str) -> None:
    app = create_app(database_url)
    li, boss = clerk(app), approver(app)
    async with client(app) as http:
        code = await enterprise(http, li, boss)
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            first = await make_card(conn, code, serial=1, plate="粤B12345", pays_from="card")
            second = await make_card(conn, code, serial=2, pays_from="card")
            on_credit = await make_card(conn, code, serial=3, pays_from="credit")
            stranger = await make_enterprise(conn)
            not_ours = await make_card(conn, stranger, serial=1, pays_from="card")
        await http.post(f"/api/v1/fleet-enterprises/{code}/recharges", headers=li | key(),
                        json=_recharge("FR-0000010", 100_000))

        async def allocate(allocation_no: str, lines: list[tuple[str, int]], **more: object) -> tuple[int, str]:
            answer = await http.post(f"/api/v1/fleet-enterprises/{code}/allocations", headers=li | key(),
                                     json={"allocation_no": allocation_no, "lines": [
                                         {"card_no": n, "amount_fen": a} for n, a in lines]} | more)
            return answer.status_code, answer.text

        assert (await allocate("AL-000001", [(first, 30_000), (second, 20_000)]))[0] == 200
        assert await _balance(database_url, card(first).code) == 30_000
        assert await _balance(database_url, card(second).code) == 20_000
        status, text = await allocate("AL-000002", [(first, 10_000), (second, 60_000)])   # 60 000 > 50 000 left
        assert status == 409 and "企业预付余额不足" in text
        assert await _balance(database_url, card(first).code) == 30_000                   # the first line neither
        status, text = await allocate("AL-000003", [(first, 40_000)], back=True)
        assert status == 409 and "余额不足" in text and first not in text                  # masked in the message
        assert (await allocate("AL-000004", [(first, 25_000)], back=True))[0] == 200
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            assert (await views.money(conn, code))["prepaid_fen"] == 75_000
        assert (await allocate("AL-000005", [(not_ours, 1000)]))[0] == 422
        assert (await allocate("AL-000006", [(on_credit, 1000)]))[0] == 409
        assert (await allocate("AL-000001", [(first, 30_000), (second, 20_000)]))[0] == 200   # the same number
        assert await _balance(database_url, card(first).code) == 5_000                        # posted nothing
        cards = (await http.get(f"/api/v1/fleet-enterprises/{code}/cards", headers=li)).json()["items"]
        assert [(c["card_no"], c["balance_fen"]) for c in cards] == [(first, 5_000), (second, 20_000),
                                                                      (on_credit, 0)]
        masked = (await http.get(f"/api/v1/fleet-enterprises/{code}/cards",
                                 headers=bearer(app, "fleet:read", username="wu"))).json()["items"]
        assert masked[0]["card_no"] == first[:4] + "********" + first[-4:] and masked[0]["plate"] != "粤B12345"


async def test_two_clerks_allocating_at_once_cannot_spend_one_balance_twice(database_url: str) -> None:
    app = create_app(database_url)
    li, boss = clerk(app), approver(app)
    async with client(app) as http:
        code = await enterprise(http, li, boss)
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            cards = [await make_card(conn, code, serial=i, pays_from="card") for i in range(1, 5)]
        await http.post(f"/api/v1/fleet-enterprises/{code}/recharges", headers=li | key(),
                        json=_recharge("FR-0000020", 100_000))
        answers = await asyncio.gather(*(http.post(
            f"/api/v1/fleet-enterprises/{code}/allocations", headers=li | key(),
            json={"allocation_no": f"AL-1000{i}", "lines": [{"card_no": n, "amount_fen": 40_000}]})
            for i, n in enumerate(cards)))
        assert sorted(a.status_code for a in answers) == [200, 200, 409, 409]
        assert sum([await _balance(database_url, card(n).code) for n in cards]) == 80_000
        assert await _balance(database_url, f"fleet:{code}:prepaid") == 20_000


async def test_an_adjustment_moves_money_only_when_another_person_approves(database_url: str) -> None:
    app = create_app(database_url)
    li, boss = clerk(app), approver(app)
    async with client(app) as http:
        code = await enterprise(http, li, boss)
        await http.post(f"/api/v1/fleet-enterprises/{code}/recharges", headers=li | key(),
                        json=_recharge("FR-0000030", 10_000))

        async def ask(adjustment_no: str, amount_fen: int) -> str:
            asked = await http.post(f"/api/v1/fleet-enterprises/{code}/adjustments", headers=li | key(),
                                    json={"adjustment_no": adjustment_no, "amount_fen": amount_fen,
                                          "reason": "对账差异"})
            assert asked.status_code == 200, asked.text
            return str(asked.json()["approval_id"])

        plus = await ask("ADJ-000001", 2_500)
        assert await _balance(database_url, f"fleet:{code}:prepaid") == 10_000          # not yet
        li_deciding = clerk(app, "li", "fleet:approve", "approval:decide")
        assert (await approve(http, li_deciding, plus)).status_code in (403, 409)      # never the requester
        assert (await approve(http, boss, plus)).status_code == 200
        assert await _balance(database_url, f"fleet:{code}:prepaid") == 12_500
        assert (await approve(http, boss, plus)).status_code == 200                     # a retried decision
        assert await _balance(database_url, f"fleet:{code}:prepaid") == 12_500

        minus = await ask("ADJ-000002", -20_000)                                        # more than it holds
        refused = await approve(http, boss, minus)
        assert refused.status_code == 422 and "余额" in refused.json()["detail"]
        assert await _balance(database_url, f"fleet:{code}:prepaid") == 12_500
        closing = await http.post("/api/v1/fleet-enterprises/batch/status", headers=li,
                                  json={"codes": [code], "status": "closed", "note": "合同到期"})
        assert closing.status_code == 409 and "余额" in closing.json()["detail"]   # 125 元 still on it
        zero = await http.post(f"/api/v1/fleet-enterprises/{code}/adjustments", headers=li | key(),
                               json={"adjustment_no": "ADJ-000003", "amount_fen": 0, "reason": "x"})
        assert zero.status_code == 422
        assert await scalar(database_url, "SELECT count(*) FROM business.audit_log WHERE action = 'fleet.adjust'") == 1


async def _listed(url: str, card_no: str) -> dict[str, object]:
    """The newest member-list change of a fleet card: what the stations hold for deciding offline."""
    return dict(await scalar(url, "SELECT item FROM business.member_list_changes WHERE kind = 'fleet_card' "
                                  "AND key = %s ORDER BY seq DESC LIMIT 1", card_no))


async def test_the_stations_list_follows_an_allocation_and_a_freeze(database_url: str) -> None:
    app = create_app(database_url)
    li, boss = clerk(app), approver(app)
    async with client(app) as http:
        code = await enterprise(http, li, boss)
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            own = await make_card(conn, code, serial=1, pays_from="card")
        await http.post(f"/api/v1/fleet-enterprises/{code}/recharges", headers=li | key(),
                        json=_recharge("FR-0000020", 100_000))
        moved = await http.post(f"/api/v1/fleet-enterprises/{code}/allocations", headers=li | key(),
                                json={"allocation_no": "AL-000020", "lines": [{"card_no": own, "amount_fen": 30_000}]})
        assert moved.status_code == 200, moved.text
        listed = await _listed(database_url, own)
        assert (listed["available_fen"], listed["enterprise_status"]) == (30_000, "normal")
        frozen = await http.post("/api/v1/fleet-enterprises/batch/status", headers=li,
                                 json={"codes": [code], "status": "frozen", "note": "逾期未付"})
        assert frozen.status_code == 200, frozen.text
        assert (await _listed(database_url, own))["enterprise_status"] == "normal"       # not before the review
        assert (await approve(http, boss, frozen.json()["requests"][0]["approval_id"])).status_code == 200
        assert (await _listed(database_url, own))["enterprise_status"] == "frozen"
