"""The ledger (``ledger:read``): accounts with balances, an account's statement, the trial balance.

Read-only: entries are posted by the business plane (``business_services/ledger``), never through the API.
A caller scoped to stations sees those stations' accounts only; company-wide accounts need company scope.
A customer's account (a card's stored value, an IC purse, a member's points) is the customer's, not a
station's: it is read one at a time by its code, by a caller who also holds ``card:read`` (cards, purses)
or ``member:read`` (points), whatever their stations; card numbers in it are masked without ``pii:read``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

from business_services.audit.views import Moment
from business_services.ledger import views
from business_services.ledger.model import Kind, customer_permission, mask_card_numbers
from control_api.deps import Db
from control_api.pagination import Cursor, Limit, after, page
from control_api.security import Principal, require
from telemetry.contracts.identifiers import CODE_PATTERN, PLAIN_TEXT

router = APIRouter(prefix="/api/v1/ledger", tags=["ledger"])
Reader = Annotated[Principal, Depends(require("ledger:read"))]
AccountCode = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$",
                                  description="科目代码，如 sales:demo-01 (account code)")]


class AccountPublic(BaseModel):
    code: str
    name: str
    kind: Kind
    unit: str
    station: str | None
    balance: int
    may_go_negative: bool
    opened_at: datetime


class AccountPage(BaseModel):
    items: list[AccountPublic]
    next_cursor: str | None
    total: int


class PostingPublic(BaseModel):
    seq: int                 # its place in the account's history: 1, 2, 3 … in the order the balance moved
    entry_id: int
    kind: str
    reference: str
    memo: str
    station: str | None
    occurred_at: datetime    # when it happened (at the station)
    recorded_at: datetime
    posted_at: datetime      # when it moved the balance (the statement's periods are on this time)
    amount: int              # debit > 0, credit < 0
    balance_after: int       # the running balance, in the account's normal direction


class Statement(BaseModel):
    account: AccountPublic
    since: datetime | None
    until: datetime | None
    opening: int             # the balance before ``since`` (0 without one)
    closing: int             # the balance before ``until`` (now without one)
    debits: int              # the period's debits and credits, each ≥ 0
    credits: int
    items: list[PostingPublic]
    next_cursor: str | None
    total: int


class TrialBalanceLine(BaseModel):
    unit: str
    kind: Kind
    balance: int
    accounts: int
    unit_debits_less_credits: int


def _visible(who: Principal, row: dict[str, Any]) -> bool:
    """A customer's account to a caller with its permission; a station's to that station's users; a company
    account to company scope."""
    needed = customer_permission(row["code"])
    if needed is not None:
        return who.may(needed)
    return who.stations is None or (row["station"] is not None and who.sees(row["station"]))


def _shown(who: Principal, row: dict[str, Any], *fields: str) -> dict[str, Any]:
    """The row with card numbers masked in ``fields`` for a caller without ``pii:read``."""
    if who.may("pii:read"):
        return row
    return row | {f: mask_card_numbers(row[f]) for f in fields}


@router.get("/accounts", response_model=AccountPage)
async def accounts(who: Reader, db: Db, station: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
                   kind: Kind | None = None,
                   prefix: Annotated[str | None, Query(max_length=100, pattern=PLAIN_TEXT)] = None,
                   cursor: Cursor = "", limit: Limit = 50) -> AccountPage:
    """Accounts in code order with their balances (fen or points, in the account's normal direction)."""
    if station is not None:
        who.check_station(station)
    async with db.connection() as conn:
        rows, total, last = await views.accounts(conn, stations=who.stations, station=station, kind=kind,
                                                 prefix=prefix, after=after(cursor, views.BY_CODE), limit=limit)
    return AccountPage(**page([AccountPublic(**r) for r in rows], total, views.BY_CODE, last))


@router.get("/accounts/{code}", response_model=Statement)
async def statement(code: AccountCode, who: Reader, db: Db, since: Moment | None = None, until: Moment | None = None,
                    order: Literal["newest", "oldest"] = "newest", cursor: Cursor = "",
                    limit: Limit = 50) -> Statement:
    """One account's statement for ``[since, until)`` (either open): opening and closing balance, the
    period's debits and credits, and its postings in the order the balance moved (newest or oldest first),
    each with the running balance after it."""
    if since is not None and until is not None and since >= until:
        raise RequestValidationError([{"loc": ("query", "until"), "type": "value_error", "input": str(until),
                                       "msg": "结束时间应晚于开始时间 (until must be after since)"}])
    sort = views.ORDERS[order]
    start = after(cursor, sort)
    async with db.connection() as conn, views.one_snapshot(conn):
        row = await views.account(conn, code)
        if row is None or not _visible(who, row):
            needed = customer_permission(code)
            if row is not None and needed is not None:
                raise HTTPException(status.HTTP_403_FORBIDDEN, f"没有权限：{needed} (reading a customer's account "
                                                               f"needs {needed}; ask an administrator)")
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"没有科目 {code} (no such account in your scope)")
        totals = await views.period(conn, code, since=since, until=until)
        postings, total, last = await views.statement(conn, code, since=since, until=until, order=order,
                                                      after=start, limit=limit)
    items = [PostingPublic(**_shown(who, p, "memo")) for p in postings]
    return Statement(account=AccountPublic(**_shown(who, row, "code", "name")), since=since, until=until,
                     opening=totals["opening"], closing=totals["closing"], debits=totals["debits"],
                     credits=totals["credits"], **page(items, total, sort, last))


@router.get("/trial-balance", response_model=list[TrialBalanceLine])
async def trial_balance(who: Reader, db: Db) -> list[TrialBalanceLine]:
    """Balances summed by unit and kind; ``unit_debits_less_credits`` is 0 while double entry holds."""
    if who.stations is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "试算平衡需要全公司范围 (the trial balance needs company scope)")
    async with db.connection() as conn:
        return [TrialBalanceLine(**r) for r in await views.trial_balance(conn)]
