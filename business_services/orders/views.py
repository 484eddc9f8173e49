"""Read queries of the orders context, for the API, exports and other contexts.

Lists are keyset-paginated on ``(created_at, order_no)``, newest first: a page starts after the last row of
the one before, so orders arriving between pages are never skipped and never repeated.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict, Field

from business_services.exports.model import Column, Scope
from business_services.orders import repository
from business_services.orders.model import HELD_NAMES, KIND_NAMES, STATUS_NAMES, Due, HeldReason, OrderKind, Status

EXPORT_LIMIT = 5000     # rows in one PDF; beyond, the route asks for narrower filters (the Excel export has no limit)


async def dues(conn: psycopg.AsyncConnection, station: str, order_nos: list[str]) -> dict[str, Due]:
    """What a payment needs of its orders, each locked until the caller's transaction ends (payments)."""
    return await repository.dues(conn, station, order_nos)


class OrderFilter(BaseModel):
    """The order list's filters (the list page, its Excel export and its PDF); all optional but the station."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    station: Annotated[str, Field(max_length=32)]
    status: Status | None = None
    kind: OrderKind | None = None
    shift_no: Annotated[str | None, Field(max_length=64, pattern=r"^[A-Za-z0-9_.-]*$")] = None
    nozzle: Annotated[int | None, Field(ge=1, le=99)] = None
    grade: Annotated[int | None, Field(ge=0, le=999)] = None
    since: Annotated[datetime | None, Field(alias="from", description="从此时起 (ISO UTC, inclusive)")] = None
    until: Annotated[datetime | None, Field(alias="to", description="到此时为止 (ISO UTC, exclusive)")] = None
    q: Annotated[str | None, Field(max_length=64, pattern=r"^[A-Za-z0-9_.-]*$",
                                   description="订单号前缀 (order number prefix)")] = None
    amount_fen: Annotated[int | None, Field(ge=0, le=100_000_000, description="金额，误差 1 分以内")] = None
    volume_l: Annotated[Decimal | None, Field(ge=0, le=100_000, description="升数，误差 0.01 L 以内")] = None


def _where(f: OrderFilter, scope: Scope) -> tuple[sql.Composable, list[Any]]:
    parts: list[sql.Composable] = [sql.SQL("station = %s")]
    params: list[Any] = [f.station]

    def add(clause: str, value: Any) -> None:
        parts.append(sql.SQL(clause))   # our constants only; values go in params
        params.append(value)

    if scope is not None:
        add("station = ANY(%s)", sorted(scope))
    for column in ("status", "kind", "shift_no", "nozzle", "grade"):
        value = getattr(f, column)
        if value is not None:
            add(f"{column} = %s", value.value if isinstance(value, Status | OrderKind) else value)
    if f.since is not None:
        add("created_at >= %s", f.since)
    if f.until is not None:
        add("created_at < %s", f.until)
    if f.q:
        add("order_no LIKE %s", f.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
    if f.amount_fen is not None:
        add("abs(amount_fen - %s) <= 1", f.amount_fen)
    if f.volume_l is not None:
        add("abs(volume_l - %s) <= 0.01", f.volume_l)
    return sql.SQL(" AND ").join(parts), params


def encode_cursor(created_at: datetime, order_no: str) -> str:
    micros = round(created_at.timestamp() * 1_000_000)
    return base64.urlsafe_b64encode(f"k:{micros}|{order_no}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """``ValueError`` for a cursor this module did not make."""
    try:
        kind, _, value = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        micros, _, order_no = value.partition("|")
        if kind == "k" and order_no and micros.isdigit():
            return datetime.fromtimestamp(0, UTC) + timedelta(microseconds=int(micros)), order_no
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError):
        pass
    raise ValueError("分页游标无效，请从第一页重新开始 (the cursor is not valid; start again without it)")


_LIST = """order_no, station, kind, status, nozzle, grade, volume_l, price_fen_per_l, amount_fen, paid_fen, shift_no,
           tags, note, held_reason, locked_by, locked_until, fuelled_at, created_at, price_set"""


async def page(conn: psycopg.AsyncConnection, f: OrderFilter, scope: Scope, cursor: str | None,
               limit: int) -> dict[str, Any]:
    """One page, newest first: ``{"items", "next_cursor", "total"}``."""
    where, params = _where(f, scope)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql.SQL("SELECT count(*) AS n FROM business.orders WHERE {}").format(where), params)
        total = int((await cur.fetchone() or {"n": 0})["n"])
        keyset: list[Any] = []
        if cursor:
            where = sql.SQL("{} AND (created_at, order_no) < (%s, %s)").format(where)
            keyset = list(decode_cursor(cursor))
        await cur.execute(sql.SQL("SELECT " + _LIST + " FROM business.orders WHERE {} "  # noqa: S608
                                  "ORDER BY created_at DESC, order_no DESC LIMIT %s").format(where),
                          [*params, *keyset, limit + 1])
        rows = await cur.fetchall()
    more = len(rows) > limit
    items = rows[:limit]
    last = items[-1] if items else None
    return {"items": items, "total": total,
            "next_cursor": encode_cursor(last["created_at"], last["order_no"]) if more and last else None}


async def payable(conn: psycopg.AsyncConnection, station: str, terminal: str | None, now: datetime,
                  limit: int = 100) -> list[dict[str, Any]]:
    """What a POS shows: payable orders nobody else has in hand (unlocked, lock expired, or ``terminal``'s),
    oldest first."""
    async with conn.cursor(row_factory=dict_row) as cur:
        query = "SELECT " + _LIST + """ FROM business.orders WHERE station = %s AND status = 'payable'
                 AND (locked_by IS NULL OR locked_until <= %s OR locked_by = %s)
               ORDER BY created_at, order_no LIMIT %s"""  # noqa: S608
        await cur.execute(query, (station, now, terminal, limit))
        return await cur.fetchall()


async def detail(conn: psycopg.AsyncConnection, station: str, order_no: str) -> dict[str, Any] | None:
    """One order with its history; ``payments``, ``discounts``, ``member`` and ``vehicle`` are filled by their
    own contexts as they land (empty until then)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT * FROM business.orders WHERE station = %s AND order_no = %s", (station, order_no))
        row = await cur.fetchone()
        if row is None:
            return None
        await cur.execute("""SELECT version, at, action, status, actor, detail FROM business.order_history
                             WHERE order_no = %s ORDER BY version""", (order_no,))
        history = await cur.fetchall()
    return {**row, "history": history, "payments": [], "discounts": [], "member": None, "vehicle": None}


async def changed_since(conn: psycopg.AsyncConnection, station: str, since: datetime) -> list[dict[str, Any]]:
    """The station's orders created or changed (a lock included) at or after ``since``, oldest change first:
    what the live stream compares with what it has sent."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT order_no, status, version, kind, amount_fen, paid_fen, nozzle, grade, volume_l,
                                    locked_by, locked_until, created_at, coalesce(changed_at, created_at) AS changed_at
                             FROM business.orders WHERE station = %s AND coalesce(changed_at, created_at) >= %s
                             ORDER BY coalesce(changed_at, created_at), order_no LIMIT 500""", (station, since))
        return await cur.fetchall()


# --- exports ---------------------------------------------------------------------------------------

COLUMNS = (Column("order_no", "订单号", 26), Column("created_at", "时间", 20), Column("kind", "类型", 8),
           Column("status", "状态", 8), Column("nozzle", "油枪", 6), Column("grade", "油品", 6),
           Column("volume_l", "升数", 10), Column("price_yuan", "单价(元/升)", 10),
           Column("amount_yuan", "金额(元)", 10),
           Column("paid_yuan", "已付(元)", 10), Column("shift_no", "班次", 24), Column("held", "挂单原因", 10),
           Column("tags", "标签", 20), Column("note", "备注", 30))


def _yuan(fen: int | None) -> Decimal | None:
    return None if fen is None else Decimal(fen) / 100


def export_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """One order as the spreadsheet and the PDF show it: Chinese names, yuan with 2 decimals."""
    tags = "、".join(t["name"] + (f"({t['amount_fen'] / 100:.2f})" if t.get("amount_fen") is not None else "")
                    for t in row["tags"])
    return {"order_no": row["order_no"], "created_at": row["created_at"], "kind": KIND_NAMES[OrderKind(row["kind"])],
            "status": STATUS_NAMES[Status(row["status"])], "nozzle": row["nozzle"], "grade": row["grade"],
            "volume_l": row["volume_l"], "price_yuan": _yuan(row["price_fen_per_l"]),
            "amount_yuan": _yuan(row["amount_fen"]), "paid_yuan": _yuan(row["paid_fen"]), "shift_no": row["shift_no"],
            "held": HELD_NAMES[HeldReason(row["held_reason"])] if row["held_reason"] else None, "tags": tags,
            "note": row["note"]}


async def count(conn: psycopg.AsyncConnection, f: OrderFilter, scope: Scope) -> int:
    where, params = _where(f, scope)
    cur = await conn.execute(sql.SQL("SELECT count(*) FROM business.orders WHERE {}").format(where), params)
    found = await cur.fetchone()
    return int(found[0]) if found else 0


async def rows(conn: psycopg.AsyncConnection, f: OrderFilter, scope: Scope,
               pii: bool) -> AsyncIterator[Mapping[str, Any]]:
    """Every matching order newest first, streamed (for exports); call inside a transaction. (``pii``: an order
    holds no personal data yet; the member and vehicle columns will be masked by it when they land.)"""
    where, params = _where(f, scope)
    async with conn.cursor(name="order_rows", row_factory=dict_row) as cur:
        cur.itersize = 2000
        await cur.execute(sql.SQL("SELECT " + _LIST + " FROM business.orders WHERE {} "  # noqa: S608
                                  "ORDER BY created_at DESC, order_no DESC").format(where), params)
        async for row in cur:
            yield export_row(row)


# --- for the shifts context (business_services/shifts/views.py) -------------------------------------------

async def sales_by_nozzle(conn: psycopg.AsyncConnection, shift_no: str) -> list[dict[str, object]]:
    """The shift's sales (orders stamped with it) per nozzle and grade: orders, litres, fen."""
    cur = await conn.execute(
        """SELECT pump, fuelling_point, nozzle, grade, count(*), coalesce(sum(volume_l), 0), sum(amount_fen)
           FROM business.orders WHERE shift_no = %s
           GROUP BY pump, fuelling_point, nozzle, grade ORDER BY pump, fuelling_point, nozzle, grade""",
        (shift_no,))
    return [{"pump": r[0], "fuelling_point": r[1], "nozzle": r[2], "grade": r[3], "orders": int(r[4]),
             "volume_l": r[5], "amount_fen": int(r[6])} for r in await cur.fetchall()]


async def latest_totalizers(conn: psycopg.AsyncConnection, station: str) -> list[tuple[str, int, int, object]]:
    """Each nozzle's totalizer after its latest fuelling at the station: (pump, fuelling point, nozzle, litres)."""
    cur = await conn.execute(
        """SELECT DISTINCT ON (pump, fuelling_point, nozzle) pump, fuelling_point, nozzle, totalizer_after_l
           FROM business.orders WHERE station = %s AND kind = 'fuelling' AND totalizer_after_l IS NOT NULL
           ORDER BY pump, fuelling_point, nozzle, fuelled_at DESC, created_at DESC""", (station,))
    return [(r[0], int(r[1]), int(r[2]), r[3]) for r in await cur.fetchall()]


async def unpaid(conn: psycopg.AsyncConnection, station: str) -> list[dict[str, object]]:
    """The station's orders not paid in full, oldest first, with the shift each was sold in."""
    cur = await conn.execute(
        """SELECT order_no, shift_no, amount_fen, paid_fen, fuelled_at, created_at FROM business.orders
           WHERE station = %s AND status = 'payable' ORDER BY created_at, order_no""", (station,))
    return [{"order_no": r[0], "shift_no": r[1], "amount_fen": int(r[2]), "paid_fen": int(r[3]),
             "fuelled_at": r[4], "created_at": r[5]} for r in await cur.fetchall()]


async def order_of_fuelling(conn: psycopg.AsyncConnection, fuelling_event_id: str) -> tuple[str, int] | None:
    """The order a fuelling became and what it owes now (its number, amount − paid), for the IC-card context."""
    cur = await conn.execute("SELECT order_no, amount_fen - paid_fen FROM business.orders WHERE fuelling_event_id = %s",
                             (fuelling_event_id,))
    row = await cur.fetchone()
    return None if row is None else (str(row[0]), int(row[1]))
