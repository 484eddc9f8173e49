"""Statements of fleets' credit sales (business_services/fleets/statements.py, control_api/routes/fleet_statements.py):
a month of credit sales on several cards and stations with a refund makes one statement whose total is the sum of
its sales less the refund and the ledger's movement of receivable:fleet:<code>; a second run makes none;
confirmation, disputes and their resolution are audited; another station's user cannot see it."""

from __future__ import annotations

import asyncio
import io
from datetime import datetime, timedelta

import openpyxl
import psycopg
import pytest

from business_services.cards.model import CHINA
from business_services.fleets import statements
from control_api.app import create_app
from tests.integration.fleets.settle_support import client, refund, sale, scalar, settler
from tests.support.fleets import make_card, make_enterprise

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 5, 10, 0, tzinfo=CHINA)
CUT = datetime(2026, 12, 1, tzinfo=CHINA)


async def _month(url: str) -> tuple[str, list[int], str]:
    """November's traffic of one credit enterprise: 3 cards, 2 stations, a refund, a card-balance sale (not
    billed), a December sale (after the cut), and another enterprise's sale."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        code = await make_enterprise(conn, statement_day=1, credit_days=20)
        other = await make_enterprise(conn, name="另一家")
        cards = [await make_card(conn, code, serial=n) for n in (1, 2, 3)]
        own = await make_card(conn, code, serial=4, pays_from="card")
        other_card = await make_card(conn, other, serial=1)
        amounts = []
        for day in range(2, 30, 3):
            amount = 10_000 + day * 137
            paid = await sale(conn, code, cards[day % 3], amount, datetime(2026, 11, day, 8 + day % 12, tzinfo=CHINA),
                              station="demo-01" if day % 2 else "demo-02")
            amounts.append(amount)
        await refund(conn, code, cards[2], paid, 3_000, datetime(2026, 11, 30, 23, 59, tzinfo=CHINA))
        await sale(conn, code, own, 5_000, datetime(2026, 11, 15, tzinfo=CHINA), pays_from="card")
        await sale(conn, code, cards[0], 7_700, datetime(2026, 12, 1, 0, 1, tzinfo=CHINA))   # December's
        await sale(conn, other, other_card, 9_900, datetime(2026, 11, 20, tzinfo=CHINA))
    return code, amounts, other


async def test_a_month_of_credit_sales_makes_one_statement_equal_to_its_sales_and_the_ledger(
        database_url: str) -> None:
    code, amounts, _ = await _month(database_url)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        assert await statements.issue_due(conn, NOW) == 2                        # this enterprise and the other
        assert await statements.issue_due(conn, NOW) == 0                        # a second run: nothing more
        number = f"FS{code[1:]}-20261201"
        row = await statements.statement(conn, number)
        assert row is not None
        assert row["sales"] == len(amounts) and row["sales_fen"] == sum(amounts)
        assert row["refunds_fen"] == 3_000 and row["total_fen"] == sum(amounts) - 3_000
        assert sum(s["amount_fen"] for s in row["sales_lines"]) - sum(r["amount_fen"] for r in row["refund_lines"]) \
            == row["total_fen"]
        assert str(row["due_on"]) == "2026-12-21"                                # cut + credit_days
        moved = await scalar(database_url, "SELECT sum(p.amount) FROM business.ledger_postings p JOIN "
                             "business.ledger_entries e ON e.id = p.entry_id WHERE p.account = %s AND "
                             "e.occurred_at < %s", f"receivable:fleet:{code}", CUT)
        assert moved == row["total_fen"]                                         # the ledger's movement agrees
        # December's sale waits for the next statement; the card-balance sale is never billed
        assert await scalar(database_url, "SELECT count(*) FROM business.fleet_payments WHERE enterprise = %s "
                            "AND statement_no IS NULL", code) == 2
        assert await scalar(database_url, "SELECT count(*) FROM business.audit_log WHERE action = "
                            "'fleet.statement.issue'") == 2


async def test_confirm_dispute_resolve_over_the_api_each_audited_and_scoped(database_url: str) -> None:
    code, _, _ = await _month(database_url)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await statements.issue_due(conn, NOW)
    number = f"FS{code[1:]}-20261201"
    app = create_app(database_url)
    zhao = settler(app)
    async with client(app) as http:
        listed = await http.get("/api/v1/fleet-statements", params={"enterprise": code}, headers=zhao)
        assert listed.status_code == 200 and [s["statement_no"] for s in listed.json()["items"]] == [number]
        outsider = settler(app, stations=frozenset({"demo-09"}))
        assert (await http.get(f"/api/v1/fleet-statements/{number}", headers=outsider)).status_code == 403
        assert (await http.get("/api/v1/fleet-statements", headers=outsider)).json()["items"] == []
        reader = settler(app, permissions=("fleet:read",))
        refused = await http.post(f"/api/v1/fleet-statements/{number}/confirmation", headers=reader)
        assert refused.status_code == 403
        detail = (await http.get(f"/api/v1/fleet-statements/{number}", headers=zhao)).json()
        line = detail["sales_lines"][0]
        hidden = (await http.get(f"/api/v1/fleet-statements/{number}", headers=reader)).json()["sales_lines"][0]
        assert hidden["card_no"] == line["card_no"][:4] + "********" + line["card_no"][-4:]   # no pii:read
        wrong = await http.post(f"/api/v1/fleet-statements/{number}/disputes", headers=zhao,
                                json={"reason": "没有这笔", "station": "demo-01", "payment_no": "P99999999"})
        assert wrong.status_code == 409 and "不在对账单" in wrong.json()["detail"]
        half = await http.post(f"/api/v1/fleet-statements/{number}/disputes", headers=zhao,
                               json={"reason": "只给站点", "station": "demo-01"})
        assert half.status_code == 422
        raised = await http.post(f"/api/v1/fleet-statements/{number}/disputes", headers=zhao,
                                 json={"reason": "此笔加油量有误", "station": line["station"],
                                       "payment_no": line["payment_no"]})
        assert raised.status_code == 201, raised.text
        blocked = await http.post(f"/api/v1/fleet-statements/{number}/confirmation", headers=zhao)
        assert blocked.status_code == 409                                         # disputed: resolve first
        resolved = await http.post(f"/api/v1/fleet-statement-disputes/{raised.json()['id']}/resolution",
                                   headers=zhao, json={"resolution": "核对加油机记录无误"})
        assert resolved.status_code == 200 and resolved.json()["statement"]["state"] == "issued"
        again = await http.post(f"/api/v1/fleet-statement-disputes/{raised.json()['id']}/resolution",
                                headers=zhao, json={"resolution": "再来一次"})
        assert again.status_code == 409
        confirmed = await http.post(f"/api/v1/fleet-statements/{number}/confirmation", headers=zhao)
        assert confirmed.json() == {"statement_no": number, "state": "confirmed", "changed": True}
        repeat = await http.post(f"/api/v1/fleet-statements/{number}/confirmation", headers=zhao)
        assert repeat.json()["changed"] is False
        late = await http.post(f"/api/v1/fleet-statements/{number}/disputes", headers=zhao, json={"reason": "晚了"})
        assert late.status_code == 409
        missing = await http.get("/api/v1/fleet-statements/FS000000-20260101", headers=zhao)
        assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")
    actions = await scalar(database_url, "SELECT array_agg(action ORDER BY seq) FROM business.audit_log WHERE "
                           "target = %s", f"fleet_statement:{number}")
    assert actions == ["fleet.statement.issue", "fleet.statement.dispute", "fleet.statement.resolve",
                       "fleet.statement.confirm"]


async def test_the_statement_as_excel_and_pdf_masked_without_pii_read(database_url: str) -> None:
    code, amounts, _ = await _month(database_url)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await statements.issue_due(conn, NOW)
    number = f"FS{code[1:]}-20261201"
    app = create_app(database_url)
    async with client(app) as http:
        answer = await http.get(f"/api/v1/fleet-statements/{number}/file", headers=settler(app, permissions=(
            "fleet:read",)))
        assert answer.status_code == 200 and answer.headers["content-disposition"].endswith(f'{number}.xlsx"')
        book = openpyxl.load_workbook(io.BytesIO(answer.content))
        sales = list(book["交易明细"].iter_rows(min_row=3, values_only=True))
        assert len(sales) == len(amounts)
        assert sum(round(float(r[7]) * 100) for r in sales) == sum(amounts)
        assert all("********" in str(r[3]) for r in sales)                      # masked: no pii:read
        summary = {r[0]: r[1] for r in book["汇总"].iter_rows(min_row=3, values_only=True)}
        assert summary["应付合计"] == f"{(sum(amounts) - 3_000) / 100:.2f}"
        full = await http.get(f"/api/v1/fleet-statements/{number}/file", headers=settler(app))
        assert "********" not in str(next(openpyxl.load_workbook(io.BytesIO(full.content))["交易明细"].iter_rows(
            min_row=3, values_only=True))[3])
        pdf = await http.get(f"/api/v1/fleet-statements/{number}/file", params={"format": "pdf"}, headers=settler(app))
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        bad = await http.get(f"/api/v1/fleet-statements/{number}/file", params={"format": "doc"}, headers=settler(app))
        assert bad.status_code == 422


async def test_two_statement_runs_at_once_make_each_statement_once(database_url: str) -> None:
    code, amounts, _ = await _month(database_url)

    async def run() -> int:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            return await statements.issue_due(conn, NOW)

    assert sum(await asyncio.gather(run(), run(), run())) == 2                  # two enterprises, once each
    assert await scalar(database_url, "SELECT count(*) FROM business.fleet_statements") == 2
    assert await scalar(database_url, "SELECT sales_fen FROM business.fleet_statements WHERE enterprise = %s",
                        code) == sum(amounts)


async def test_the_statement_list_exports_to_excel_within_the_callers_stations(database_url: str) -> None:
    code, amounts, other = await _month(database_url)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await statements.issue_due(conn, NOW)
        await conn.execute("UPDATE business.fleet_enterprises SET maintaining_station = 'demo-02' WHERE code = %s",
                           (other,))
    app = create_app(database_url)
    who = settler(app, "export:create", stations=frozenset({"demo-01"}))
    async with client(app) as http:
        started = await http.post("/api/v1/exports", headers=who, json={"kind": "fleet_statements", "filters": {}})
        assert started.status_code == 202, started.text
        job = started.json()["id"]
        async with asyncio.timeout(30):
            while (state := (await http.get(f"/api/v1/exports/{job}", headers=who)).json())["status"] == "running":
                await asyncio.sleep(0.1)
        assert state["status"] == "done", state
        content = (await http.get(f"/api/v1/exports/{job}/file", headers=who)).content
    sheet = list(openpyxl.load_workbook(io.BytesIO(content), read_only=True).worksheets[0].iter_rows(values_only=True))
    assert sheet[0][:3] == ("对账单号", "企业编码", "企业")
    assert [r[0] for r in sheet[1:]] == [f"FS{code[1:]}-20261201"]               # not demo-02's enterprise
    assert sheet[1][8] == (sum(amounts) - 3_000) / 100 and sheet[1][12] == "待确认"


async def test_the_runs_over_the_api_are_head_offices_and_make_things_once(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        code = await make_enterprise(conn, statement_day=1, credit_days=0)
        card = await make_card(conn, code, serial=1)
        await sale(conn, code, card, 12_300, datetime.now(CHINA) - timedelta(days=40))   # before the latest cut
    app = create_app(database_url)
    zhao = settler(app)
    station_user = settler(app, stations=frozenset({"demo-01"}))
    async with client(app) as http:
        assert (await http.post("/api/v1/fleet-statements/run", headers=station_user)).status_code == 403
        assert (await http.post("/api/v1/fleet-statements/run", headers=zhao)).json() == {"made": 1}
        assert (await http.post("/api/v1/fleet-statements/run", headers=zhao)).json() == {"made": 0}
        assert (await http.post("/api/v1/fleet-receivables/dunning", headers=station_user)).status_code == 403
        first = (await http.post("/api/v1/fleet-receivables/dunning", headers=zhao)).json()["made"]
        again = (await http.post("/api/v1/fleet-receivables/dunning", headers=zhao)).json()["made"]
        assert again == 0 and first <= 1                 # overdue or not by today's date; never twice
        listed = (await http.get("/api/v1/fleet-statements", params={"open_only": "true"}, headers=zhao)).json()
        assert listed["total"] == 1 and listed["items"][0]["outstanding_fen"] == 12_300
