"""The ledger (``ledger:read``): accounts with balances, an account's statement, the trial balance.

Read-only: entries are posted by the business plane (``business_services/ledger``), never through the API.
A caller scoped to stations sees those stations' accounts only; company-wide accounts need company scope.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import BaseModel

from business_services.ledger import views
from business_services.ledger.model import Kind
from control_api.deps import Db
from control_api.pagination import Cursor, Limit, after, page
from control_api.security import Principal, require

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
    entry_id: int
    kind: str
    reference: str
    memo: str
    station: str | None
    occurred_at: datetime
    recorded_at: datetime
    amount: int


class Statement(BaseModel):
    account: AccountPublic
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
    return who.stations is None or (row["station"] is not None and who.sees(row["station"]))


@router.get("/accounts", response_model=AccountPage)
async def accounts(who: Reader, db: Db, station: Annotated[str | None, Query(max_length=64)] = None,
                   kind: Kind | None = None, prefix: Annotated[str | None, Query(max_length=100)] = None,
                   cursor: Cursor = "", limit: Limit = 50) -> AccountPage:
    """Accounts in code order with their balances (fen or points, in the account's normal direction)."""
    if station is not None:
        who.check_station(station)
    async with db.connection() as conn:
        rows, total, last = await views.accounts(conn, stations=who.stations, station=station, kind=kind,
                                                 prefix=prefix, after=after(cursor, views.BY_CODE), limit=limit)
    return AccountPage(**page([AccountPublic(**r) for r in rows], total, views.BY_CODE, last))


@router.get("/accounts/{code}", response_model=Statement)
async def statement(code: AccountCode, who: Reader, db: Db, cursor: Cursor = "", limit: Limit = 50) -> Statement:
    """One account and its postings, newest first (debit > 0, credit < 0)."""
    start = after(cursor, views.NEWEST_FIRST)
    async with db.connection() as conn:
        row = await views.account(conn, code)
        if row is None or not _visible(who, row):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"没有科目 {code} (no such account in your scope)")
        postings, total, last = await views.statement(conn, code, after=start, limit=limit)
    return Statement(account=AccountPublic(**row),
                     **page([PostingPublic(**p) for p in postings], total, views.NEWEST_FIRST, last))


@router.get("/trial-balance", response_model=list[TrialBalanceLine])
async def trial_balance(who: Reader, db: Db) -> list[TrialBalanceLine]:
    """Balances summed by unit and kind; ``unit_debits_less_credits`` is 0 while double entry holds."""
    if who.stations is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "试算平衡需要全公司范围 (the trial balance needs company scope)")
    async with db.connection() as conn:
        return [TrialBalanceLine(**r) for r in await views.trial_balance(conn)]
