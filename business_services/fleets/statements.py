"""Statements (对账单) of fleets' credit sales at head office (docs/fleets.md "Statements, receivables and the
bank"): each month, at the enterprise's ``statement_day`` (China time), its credit sales less refunds not yet
billed become one numbered statement with its due date; the enterprise confirms it or disputes it (the whole,
or one sale) and head office resolves a dispute. Each action is audited. ``issue_due`` is the monthly job: run
twice, it makes one statement (the unique (enterprise, period_to) and the rows' ``statement_no``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict, Field

from business_services.audit.model import Actor, AuditEntry
from business_services.cards.model import CHINA, mask_card_no, mask_plate
from business_services.exports.model import Column
from business_services.fleets import bank
from business_services.fleets.settlement_model import (
    SettlementError,
    cut_instant,
    due_on,
    last_cut,
    statement_no,
)
from business_services.pages import After, Sort, keyset_page
from business_services.report_files import Sheet
from business_services.unit_of_work import UnitOfWork

_CREDIT_SALES = """
    FROM business.fleet_payments WHERE enterprise = %(e)s AND pays_from = 'credit' AND statement_no IS NULL
     AND paid_at < %(cut)s"""
_CREDIT_REFUNDS = """
    FROM business.fleet_refunds r JOIN business.fleet_payments p USING (station, payment_no)
    WHERE r.enterprise = %(e)s AND p.pays_from = 'credit' AND r.statement_no IS NULL AND r.refunded_at < %(cut)s"""


class StatementNotFound(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class Dispute:
    statement_no: str
    reason: str
    by: str
    station: str | None = None        # with payment_no: one sale of the statement; neither: the whole
    payment_no: str | None = None


async def issue_due(conn: psycopg.AsyncConnection[Any], now: datetime) -> int:
    """The statements due by ``now`` for every enterprise with unbilled credit sales; how many were made."""
    cur = await conn.execute(
        "SELECT DISTINCT enterprise FROM business.fleet_payments WHERE pays_from = 'credit' AND statement_no IS NULL "
        "UNION SELECT DISTINCT r.enterprise FROM business.fleet_refunds r JOIN business.fleet_payments p "
        "USING (station, payment_no) WHERE p.pays_from = 'credit' AND r.statement_no IS NULL ORDER BY 1")
    made = 0
    for (enterprise,) in await cur.fetchall():
        async with UnitOfWork(conn, Actor.system("fleet-statements")) as uow:
            made += await issue(uow, enterprise, now) is not None
    return made


async def issue(uow: UnitOfWork, enterprise: str, now: datetime) -> str | None:
    """The enterprise's statement at its latest cut on or before ``now``, if it has unbilled credit sales or
    refunds before that cut and none is made for it yet; its number."""
    conn = uow.conn
    cur = await conn.execute("SELECT statement_day, credit_days FROM business.fleet_enterprises WHERE code = %s "
                             "FOR UPDATE", (enterprise,))   # one statement run an enterprise at a time
    row = await cur.fetchone()
    if row is None:
        return None
    statement_day, credit_days = row
    cut = last_cut(statement_day, now)
    number = statement_no(enterprise, cut)
    args = {"e": enterprise, "cut": cut_instant(cut), "no": number}
    if await (await conn.execute("SELECT 1 FROM business.fleet_statements WHERE statement_no = %s",
                                 (number,))).fetchone():
        return None
    # claim the lines first and sum what was claimed: a sale recorded meanwhile is on this statement or the next,
    # never counted by one and billed by another
    claimed = await (await conn.execute(
        f"UPDATE business.fleet_payments SET statement_no = %(no)s WHERE (station, payment_no) IN "  # noqa: S608
        f"(SELECT station, payment_no {_CREDIT_SALES} FOR UPDATE) RETURNING amount_fen", args)).fetchall()
    returned = await (await conn.execute(
        f"UPDATE business.fleet_refunds SET statement_no = %(no)s WHERE (station, refund_no) IN "  # noqa: S608
        f"(SELECT r.station, r.refund_no {_CREDIT_REFUNDS} FOR UPDATE OF r) RETURNING amount_fen", args)).fetchall()
    if not claimed and not returned:
        return None
    sales_fen, refunds_fen = sum(r[0] for r in claimed), sum(r[0] for r in returned)
    previous = await (await conn.execute("SELECT max(period_to) FROM business.fleet_statements WHERE enterprise = %s",
                                         (enterprise,))).fetchone()
    await conn.execute(
        "INSERT INTO business.fleet_statements (statement_no, enterprise, period_from, period_to, sales_fen, "
        "refunds_fen, total_fen, sales, due_on) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (number, enterprise, previous[0] if previous else None, cut, sales_fen, refunds_fen, sales_fen - refunds_fen,
         len(claimed), due_on(cut, credit_days)))
    await uow.audit(AuditEntry("fleet.statement.issue", f"fleet_statement:{number}", None, None,
                               {"enterprise": enterprise, "period_to": cut.isoformat(),
                                "total_fen": sales_fen - refunds_fen, "sales": len(claimed),
                                "refunds": len(returned)}))
    await bank.match_waiting(uow, number)
    return number


async def _locked(conn: psycopg.AsyncConnection[Any], number: str) -> dict[str, Any]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT * FROM business.fleet_statements WHERE statement_no = %s FOR UPDATE", (number,))
        row = await cur.fetchone()
    if row is None:
        raise StatementNotFound(number)
    return row


async def confirm(uow: UnitOfWork, number: str, by: str) -> bool:
    """The enterprise (or head office on its behalf) confirms the statement; False when it already was."""
    row = await _locked(uow.conn, number)
    if row["state"] == "confirmed":
        return False
    if row["state"] == "disputed":
        raise SettlementError("对账单有未解决的异议，请先处理异议再确认 (resolve its disputes first)")
    await uow.conn.execute("UPDATE business.fleet_statements SET state = 'confirmed', confirmed_by = %s, "
                           "confirmed_at = now() WHERE statement_no = %s", (by, number))
    await uow.audit(AuditEntry("fleet.statement.confirm", f"fleet_statement:{number}", None, {"state": row["state"]},
                               {"state": "confirmed", "by": by}))
    return True


async def dispute(uow: UnitOfWork, d: Dispute) -> int:
    """A dispute of the whole statement or of one of its sales; the statement is disputed until each is resolved."""
    row = await _locked(uow.conn, d.statement_no)
    if row["state"] == "confirmed":
        raise SettlementError("对账单已确认，不能再提异议 (a confirmed statement cannot be disputed)")
    if d.payment_no is not None:
        billed = await (await uow.conn.execute(
            "SELECT 1 FROM business.fleet_payments WHERE station = %s AND payment_no = %s AND statement_no = %s",
            (d.station, d.payment_no, d.statement_no))).fetchone()
        if billed is None:
            raise SettlementError(f"交易 {d.station}/{d.payment_no} 不在对账单 {d.statement_no} 中，请核对 "
                                  "(no such sale on this statement)")
    cur = await uow.conn.execute(
        "INSERT INTO business.fleet_statement_disputes (statement_no, station, payment_no, reason, raised_by) "
        "VALUES (%s, %s, %s, %s, %s) RETURNING id", (d.statement_no, d.station, d.payment_no, d.reason, d.by))
    new = await cur.fetchone()
    assert new is not None   # noqa: S101 (RETURNING)
    await uow.conn.execute("UPDATE business.fleet_statements SET state = 'disputed' WHERE statement_no = %s",
                           (d.statement_no,))
    await uow.audit(AuditEntry("fleet.statement.dispute", f"fleet_statement:{d.statement_no}", d.station,
                               {"state": row["state"]}, {"dispute": new[0], "payment_no": d.payment_no,
                                                         "reason": d.reason}))
    return int(new[0])


async def resolve(uow: UnitOfWork, dispute_id: int, resolution: str, by: str) -> str:
    """Head office's answer to a dispute; the statement is issued again (to be confirmed) when none is left open.
    The statement's number."""
    cur = await uow.conn.execute("SELECT statement_no, resolution FROM business.fleet_statement_disputes "
                                 "WHERE id = %s", (dispute_id,))
    row = await cur.fetchone()
    if row is None:
        raise StatementNotFound(str(dispute_id))
    number, done = row
    await _locked(uow.conn, number)
    if done is not None:
        raise SettlementError("该异议已处理 (this dispute is resolved already)")
    await uow.conn.execute("UPDATE business.fleet_statement_disputes SET resolution = %s, resolved_by = %s, "
                           "resolved_at = now() WHERE id = %s", (resolution, by, dispute_id))
    await uow.conn.execute(
        "UPDATE business.fleet_statements SET state = 'issued' WHERE statement_no = %s AND NOT EXISTS (SELECT 1 "
        "FROM business.fleet_statement_disputes WHERE statement_no = %s AND resolved_at IS NULL)", (number, number))
    await uow.audit(AuditEntry("fleet.statement.resolve", f"fleet_statement:{number}", None, {"dispute": dispute_id},
                               {"resolution": resolution}))
    return str(number)


async def statement_of_dispute(conn: psycopg.AsyncConnection[Any], dispute_id: int) -> str | None:
    row = await (await conn.execute("SELECT statement_no FROM business.fleet_statement_disputes WHERE id = %s",
                                    (dispute_id,))).fetchone()
    return None if row is None else str(row[0])


# ---- reading ----------------------------------------------------------------------------------------------

_LIST = """SELECT s.statement_no, s.enterprise, e.name AS enterprise_name, e.maintaining_station, s.period_from,
                  s.period_to, s.sales,
                  s.sales_fen, s.refunds_fen, s.total_fen, s.paid_fen, s.total_fen - s.paid_fen AS outstanding_fen,
                  s.due_on, s.state, s.confirmed_by, s.confirmed_at, s.created_at,
                  CASE WHEN s.paid_fen = 0 THEN 'unpaid' WHEN s.paid_fen < s.total_fen THEN 'partly' ELSE 'paid' END
                  AS payment
             FROM business.fleet_statements s JOIN business.fleet_enterprises e ON e.code = s.enterprise"""
_FILTERED = _LIST + """
    WHERE (%(e)s::text IS NULL OR s.enterprise = %(e)s)
      AND (%(st)s::text[] IS NULL OR e.maintaining_station = ANY(%(st)s))
      AND (%(state)s::text IS NULL OR s.state = %(state)s) AND (NOT %(open)s OR s.paid_fen < s.total_fen)"""
#: newest first: as made, then by number
NEWEST = Sort("created_at", datetime, descending=True, tiebreak="statement_no", tiebreak_kind=str)


async def statements_of(conn: psycopg.AsyncConnection[Any], enterprise: str | None = None, *,
                        stations: frozenset[str] | None = None, state: str | None = None, open_only: bool = False,
                        limit: int = 50, after: After | None = None,
                        ) -> tuple[list[dict[str, Any]], int, After | None]:
    """Statements, newest first: one enterprise's (the portal's view), or every one maintained by ``stations``
    (None: all); a keyset page (business_services/pages.py): rows, total, the last row's key when more follow."""
    return await keyset_page(conn, _FILTERED, {"e": enterprise, "st": None if stations is None else sorted(stations),
                                               "state": state, "open": open_only}, NEWEST, limit, after)


async def statement(conn: psycopg.AsyncConnection[Any], number: str) -> dict[str, Any] | None:
    """A statement with its sales, refunds, disputes and settlements; None when there is none."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_LIST + " WHERE s.statement_no = %s", (number,))
        head = await cur.fetchone()
        if head is None:
            return None
        await cur.execute("SELECT station, payment_no, card_no, plate, grade, litres_ml, amount_fen, paid_at, "
                          "order_nos, offline FROM business.fleet_payments WHERE statement_no = %s "
                          "ORDER BY paid_at, station, payment_no", (number,))
        head["sales_lines"] = await cur.fetchall()
        await cur.execute("SELECT station, refund_no, payment_no, card_no, amount_fen, refunded_at "
                          "FROM business.fleet_refunds WHERE statement_no = %s ORDER BY refunded_at", (number,))
        head["refund_lines"] = await cur.fetchall()
        await cur.execute("SELECT id, station, payment_no, reason, raised_by, raised_at, resolution, resolved_by, "
                          "resolved_at FROM business.fleet_statement_disputes WHERE statement_no = %s ORDER BY id",
                          (number,))
        head["disputes"] = await cur.fetchall()
        await cur.execute("SELECT settlement_no, transfer_no, amount_fen, how, settled_by, settled_at "
                          "FROM business.fleet_settlements WHERE statement_no = %s ORDER BY settled_at", (number,))
        head["settlements"] = await cur.fetchall()
    return head


async def issue_job(conn: psycopg.AsyncConnection[Any]) -> int:
    """The daily run (business_services/jobs): each enterprise's statement is made on its statement_day."""
    return await issue_due(conn, datetime.now(UTC))


# ---- the statement as files (Excel, PDF: business_services/report_files.py) ---------------------------------

def _yuan(fen: int) -> str:
    return f"{fen / 100:.2f}"


def masked(row: dict[str, Any]) -> dict[str, Any]:
    """A statement (``statement``'s row) as a caller without ``pii:read`` sees it: card numbers and plates masked."""
    def line(item: dict[str, Any]) -> dict[str, Any]:
        return item | {"card_no": mask_card_no(item["card_no"])} | (
            {"plate": mask_plate(item["plate"])} if item.get("plate") else {})
    return row | {"sales_lines": [line(s) for s in row["sales_lines"]],
                  "refund_lines": [line(r) for r in row["refund_lines"]]}


def statement_sheets(row: dict[str, Any]) -> tuple[str, str, list[Sheet]]:
    """A statement (``statement``'s row, or ``masked``) as a report: its title, subtitle and sheets (summary,
    sales, refunds, disputes, settlements)."""
    def local(at: datetime) -> str:
        return f"{at.astimezone(CHINA):%Y-%m-%d %H:%M}"

    title = f"{row['enterprise_name']} 对账单 {row['statement_no']}"
    subtitle = (f"企业 {row['enterprise']}  截至 {row['period_to']}（不含）  到期日 {row['due_on']}  "
                f"应付 {_yuan(row['total_fen'])} 元  已付 {_yuan(row['paid_fen'])} 元")
    figures = (("挂账消费", "sales_fen"), ("退款", "refunds_fen"), ("应付合计", "total_fen"), ("已付", "paid_fen"),
               ("未付", "outstanding_fen"))
    summary = ("汇总", ["项目", "金额（元）"], [[name, _yuan(row[key])] for name, key in figures])
    sales = ("交易明细", ["时间", "站点", "交易号", "卡号", "车牌", "油品", "升数", "金额（元）"],
             [[local(s["paid_at"]), s["station"], s["payment_no"], s["card_no"], s["plate"] or "",
               s["grade"] or "", f"{s['litres_ml'] / 1000:.2f}", _yuan(s["amount_fen"])] for s in row["sales_lines"]])
    refunds = ("退款", ["时间", "站点", "退款号", "原交易号", "金额（元）"],
               [[local(r["refunded_at"]), r["station"], r["refund_no"], r["payment_no"], _yuan(r["amount_fen"])]
                for r in row["refund_lines"]])
    disputes = ("异议", ["交易号", "原因", "处理结果"],
                [[d["payment_no"] or "整单", d["reason"], d["resolution"] or "未处理"] for d in row["disputes"]])
    settled = ("收款核销", ["银行流水号", "金额（元）", "方式", "时间"],
               [[s["transfer_no"], _yuan(s["amount_fen"]), s["how"], local(s["settled_at"])]
                for s in row["settlements"]])
    return title, subtitle, [summary, sales, refunds, disputes, settled]


# ---- the list's Excel export (business_services/exports/kinds.py) ------------------------------------------

class StatementFilter(BaseModel):
    """The statement list's filters (the page and its Excel export); all optional."""

    model_config = ConfigDict(extra="ignore")    # the list's own cursor, limit and sort pass beside them
    enterprise: Annotated[str | None, Field(pattern=r"^E[0-9]{6}$")] = None
    state: Annotated[str | None, Field(pattern=r"^(issued|confirmed|disputed)$")] = None
    open_only: bool = False


COLUMNS = (Column("statement_no", "对账单号", 20), Column("enterprise", "企业编码", 10),
           Column("enterprise_name", "企业", 20), Column("period_from", "起始日", 12),
           Column("period_to", "截止日", 12), Column("sales", "笔数", 8), Column("sales_fen", "挂账消费（元）", 14),
           Column("refunds_fen", "退款（元）", 12), Column("total_fen", "应付（元）", 14),
           Column("paid_fen", "已付（元）", 14),
           Column("outstanding_fen", "未付（元）", 14), Column("due_on", "到期日", 12), Column("state", "状态", 8),
           Column("payment", "付款", 8))
_STATES = {"issued": "待确认", "confirmed": "已确认", "disputed": "有异议"}
_PAYMENTS = {"unpaid": "未付", "partly": "部分付款", "paid": "已结清"}


def _params(f: StatementFilter, scope: frozenset[str] | None) -> dict[str, Any]:
    return {"e": f.enterprise, "st": None if scope is None else sorted(scope), "state": f.state, "open": f.open_only}


async def count(conn: psycopg.AsyncConnection[Any], f: StatementFilter, scope: frozenset[str] | None) -> int:
    row = await (await conn.execute(f"SELECT count(*) FROM ({_FILTERED}) AS q", _params(f, scope))).fetchone()  # noqa: S608
    return int(row[0]) if row else 0


async def rows(conn: psycopg.AsyncConnection[Any], f: StatementFilter, scope: frozenset[str] | None,
               pii: bool) -> AsyncIterator[Mapping[str, Any]]:
    """Every matching statement newest first, streamed; money in yuan, states in Chinese (no personal data)."""
    async with conn.cursor(name="fleet_statement_rows", row_factory=dict_row) as cur:
        cur.itersize = 2000
        await cur.execute(f"SELECT * FROM ({_FILTERED}) AS q ORDER BY created_at DESC, statement_no DESC",  # noqa: S608
                          _params(f, scope))
        async for row in cur:
            yield row | {k: Decimal(row[k]) / 100 for k in ("sales_fen", "refunds_fen", "total_fen", "paid_fen",
                                                     "outstanding_fen")} | {
                "state": _STATES[row["state"]], "payment": _PAYMENTS[row["payment"]]}
