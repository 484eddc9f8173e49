"""What the enterprises owe (应收账款, ``receivable:fleet:<code>``) at head office (docs/fleets.md "Statements,
receivables and the bank"): the ageing of their open statements by due date (0–30, 31–60, 61–90, >90 days), and
the dunning notices (催款通知) of overdue statements, one per statement and level (``settlement_model``'s rule)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from business_services.audit.model import Actor, AuditEntry
from business_services.cards.model import CHINA
from business_services.fleets.settlement_model import AGEING, ageing_bucket, dunning_level, dunning_text
from business_services.unit_of_work import UnitOfWork


async def ageing(conn: psycopg.AsyncConnection[Any], today: date,
                 stations: frozenset[str] | None = None) -> list[dict[str, Any]]:
    """One row per enterprise that owes something: its ledger debt (billed or not), what its open statements still
    owe in each ageing bucket, and the unmatched-by-statement rest (sales not yet billed)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT e.code AS enterprise, e.name, e.maintaining_station, e.credit_limit_fen, "
            "coalesce(a.balance, 0) AS receivable_fen FROM business.fleet_enterprises e "
            "LEFT JOIN business.ledger_balances a ON a.code = 'receivable:fleet:' || e.code "
            "WHERE (%(st)s::text[] IS NULL OR e.maintaining_station = ANY(%(st)s)) ORDER BY e.code",
            {"st": None if stations is None else sorted(stations)})
        enterprises = {r["enterprise"]: r for r in await cur.fetchall()}
        await cur.execute("SELECT enterprise, due_on, total_fen - paid_fen AS owed FROM business.fleet_statements "
                          "WHERE paid_fen < total_fen AND enterprise = ANY(%s)", (list(enterprises),))
        statements = await cur.fetchall()
    for row in enterprises.values():
        row.update({name: 0 for name, _, _ in AGEING}, billed_fen=0)
    for s in statements:
        row = enterprises[s["enterprise"]]
        row[ageing_bucket(s["due_on"], today)] += s["owed"]
        row["billed_fen"] += s["owed"]
    for row in enterprises.values():
        row["unbilled_fen"] = row["receivable_fen"] - row["billed_fen"]
    return [r for r in enterprises.values() if r["receivable_fen"] or r["billed_fen"]]


async def dun(conn: psycopg.AsyncConnection[Any], today: date) -> int:
    """A dunning notice for each overdue statement whose next level is due; how many were made. The notice names
    the enterprise's first contact; the job ``fleet_dunning_sms`` sends it to them (``dunning_sms.py``)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT s.statement_no, s.enterprise, s.due_on, s.total_fen - s.paid_fen AS owed, e.name, e.contacts, "
            "(SELECT count(*) FROM business.fleet_dunning_notices d WHERE d.statement_no = s.statement_no) AS sent "
            "FROM business.fleet_statements s JOIN business.fleet_enterprises e ON e.code = s.enterprise "
            "WHERE s.paid_fen < s.total_fen AND s.due_on < %s ORDER BY s.statement_no", (today,))
        due = await cur.fetchall()
    made = 0
    for s in due:
        level = dunning_level(s["due_on"], today, s["sent"])
        if level is None:
            continue
        contact = (s["contacts"] or [{}])[0]
        days = (today - s["due_on"]).days
        text = dunning_text(s["name"], s["statement_no"], s["owed"], s["due_on"], days)
        async with UnitOfWork(conn, Actor.system("fleet-dunning")) as uow:
            cur2 = await uow.conn.execute(
                "INSERT INTO business.fleet_dunning_notices (statement_no, enterprise, level, overdue_days, "
                "outstanding_fen, contact_name, contact_phone, text) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT DO NOTHING", (s["statement_no"], s["enterprise"], level, days, s["owed"],
                                           contact.get("name", ""), contact.get("phone", ""), text))
            if cur2.rowcount:
                made += 1
                await uow.audit(AuditEntry("fleet.dunning", f"fleet_statement:{s['statement_no']}", None, None,
                                           {"level": level, "overdue_days": days, "outstanding_fen": s["owed"]}))
    return made


async def notices(conn: psycopg.AsyncConnection[Any], stations: frozenset[str] | None = None,
                  limit: int = 100) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT d.id, d.statement_no, d.enterprise, e.name, d.level, d.overdue_days, d.outstanding_fen, "
            "d.contact_name, d.contact_phone, d.text, d.created_at, d.sms_status, d.sms_attempts, d.sms_error, "
            "d.sms_sent_at FROM business.fleet_dunning_notices d "
            "JOIN business.fleet_enterprises e ON e.code = d.enterprise WHERE (%(st)s::text[] IS NULL OR "
            "e.maintaining_station = ANY(%(st)s)) ORDER BY d.id DESC LIMIT %(limit)s",
            {"st": None if stations is None else sorted(stations), "limit": limit})
        return list(await cur.fetchall())


async def dun_job(conn: psycopg.AsyncConnection[Any]) -> int:
    """The daily dunning run (business_services/jobs)."""
    return await dun(conn, datetime.now(CHINA).date())
