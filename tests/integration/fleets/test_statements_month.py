"""Issue 19's third Done-when, through head office's own capture (POST /api/v1/fleet-payments and its refunds, the
wt-auth part): a month of simulated fleet traffic — credit sales on several cards at two stations, a card-balance
sale, a refund — produces a statement whose total equals the sum of its orders and the ledger's movement of
receivable:fleet:<code>, and a bank transfer from simulators/bank is matched to it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from business_services.fleets import statements
from business_services.fleets.settlement_model import cut_instant, last_cut, statement_no
from control_api.app import create_app
from tests.integration.fleets.card_support import capturing, put_on_card, station_key
from tests.integration.fleets.settle_support import bank_for, client, scalar, settler, transfer
from tests.support.fleets import make_card, make_enterprise

pytestmark = pytest.mark.integration


async def test_a_month_of_fleet_traffic_makes_a_statement_equal_to_its_orders_and_the_ledger_and_is_paid(
        database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        code = await make_enterprise(conn, statement_day=1, credit_days=15, credit_limit_fen=10_000_000)
        cards = [await make_card(conn, code, serial=n, plate=f"沪A1000{n}") for n in (1, 2, 3)]
        own = await make_card(conn, code, serial=4, pays_from="card")
    await put_on_card(database_url, code, own, 50_000)
    app = create_app(database_url)
    zhao = settler(app)
    start = datetime.now(UTC) - timedelta(days=30)     # the sales' own times: the month before the refund
    captured: list[int] = []
    async with client(app) as http:
        for n in range(12):
            station = ("demo-01", "demo-02")[n % 2]
            amount = 15_000 + n * 1_111
            body = capturing(cards[n % 3], amount, station=station, paid_at=(start + timedelta(days=2 * n)).isoformat(),
                             payment_no=f"{station}-20261105-P{n + 1:05d}",
                             order_nos=[f"{station}-20261105-O{n + 1:05d}"])
            answer = await http.post("/api/v1/fleet-payments", json=body, headers=station_key(app, station))
            assert answer.status_code == 200, answer.text
            assert answer.json()["pays_from"] == "credit"
            captured.append(amount)
            if n == 5:
                refunded = body
        card_sale = capturing(own, 8_000, paid_at=start.isoformat(), payment_no="demo-01-20261105-P00099")
        assert (await http.post("/api/v1/fleet-payments", json=card_sale, headers=station_key(app))).status_code == 200
        back = await http.post(f"/api/v1/fleet-payments/{refunded['station']}/{refunded['payment_no']}/refunds",
                               json={"refund_no": f"{refunded['station']}-20261106-R00001", "amount_fen": 4_000},
                               headers=station_key(app, refunded["station"]))
        assert back.status_code == 200, back.text

        # the statement run of a day after the next cut (the refund, made now, is before it)
        run_at = datetime.now(UTC) + timedelta(days=35)
        cut = last_cut(1, run_at)
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            assert await statements.issue_due(conn, run_at) == 1
            assert await statements.issue_due(conn, run_at) == 0                  # run twice: one statement
        number = statement_no(code, cut)
        detail = (await http.get(f"/api/v1/fleet-statements/{number}", headers=zhao)).json()
        orders = sum(line["amount_fen"] for line in detail["sales_lines"])
        assert len(detail["sales_lines"]) == 12 and orders == sum(captured)     # the credit sales, not the card's
        assert detail["total_fen"] == orders - 4_000 == detail["sales_fen"] - detail["refunds_fen"]
        moved = await scalar(database_url, "SELECT sum(p.amount) FROM business.ledger_postings p JOIN "
                             "business.ledger_entries e ON e.id = p.entry_id WHERE p.account = %s AND "
                             "e.occurred_at < %s", f"receivable:fleet:{code}", cut_instant(cut))
        assert moved == detail["total_fen"]                                      # the ledger's movement agrees

        async with bank_for(app) as (sim, bank):
            await transfer(bank, detail["total_fen"], memo=f"付{number}油款")
            assert [n["status"] for n in sim.notifications] == [200]
        paid = (await http.get(f"/api/v1/fleet-statements/{number}", headers=zhao)).json()
        assert paid["payment"] == "paid" and paid["settlements"][0]["amount_fen"] == detail["total_fen"]
    assert await scalar(database_url, "SELECT balance FROM business.ledger_balances WHERE code = %s",
                        f"receivable:fleet:{code}") == 0
