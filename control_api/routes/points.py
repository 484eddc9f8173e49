"""Points at head office (docs/points.md): the earning rules and settings, a member's balance and history, the
quote the POS shows on the receipt, manual adjustments, transfers (转赠) and 积分归属; the points mall is in
``points_mall.py`` (the same permissions, refusals and numbering, from here).

Reading needs ``member:read``; every change ``points:write`` and is audited; the quote ``member:register`` or
``member:read`` (the POS and a station server's API key ask it; the back office too). Every POST takes an
``Idempotency-Key``: a resend gets the first answer, and the document it makes is numbered from the key, so even
a resend after the key was forgotten changes nothing. A caller scoped to stations sees the movements of other
stations without their station and reference. Points live at head office: a station server answers 409.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from business_services.points import members, views
from business_services.points.model import (
    MAX_POINTS,
    AddRule,
    Adjust,
    Assign,
    Basis,
    ChangeRule,
    ChangeSettings,
    PointsError,
    PointsRefused,
    Rule,
    RuleKind,
    Sale,
    Settings,
    Transfer,
    points_for,
)
from business_services.points.repository import rules as current_rules
from business_services.unit_of_work import UnitOfWork
from control_api.deps import Db, head_office_only
from control_api.idempotency import IdempotencyKey, once
from control_api.pagination import Cursor, Limit, after, page
from control_api.security import Principal, require
from telemetry.contracts.identifiers import PLAIN_TEXT as PLAIN
from telemetry.contracts.identifiers import Code
from telemetry.contracts.members import MemberNo

router = APIRouter(prefix="/api/v1/points", tags=["points"])
#: on the changes: points are kept at head office (forecourt/roles.py), so a station server answers 409
AT_HEAD_OFFICE = Depends(head_office_only("积分由总部管理，请在总部后台操作 "
                                          "(points are kept at head office; use its back office)",
                                          status.HTTP_409_CONFLICT))
Reader = Annotated[Principal, Depends(require("member:read"))]
Writer = Annotated[Principal, Depends(require("points:write"))]
Quoter = Annotated[Principal, Depends(require("member:register", "member:read"))]
Member = Annotated[str, Path(pattern=r"^M[0-9]{8,12}$", description="会员号，如 M00000001 (member number)")]
RuleId = Annotated[int, Path(ge=1, le=2**63 - 1, description="积分规则编号 (a points rule's id)")]
Points = Annotated[int, Field(ge=1, le=MAX_POINTS)]
GradeCode = Annotated[str, Field(pattern=r"^(92|95|98|0|cng|lng)$")]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- answers -------------------------------------------------------------------------------------------------

class SettingsPublic(Body):
    expiry_years: Annotated[int, Field(ge=0, le=10)]
    points_per_yuan: Annotated[int, Field(ge=1, le=10_000)]
    assign_days: Annotated[int, Field(ge=0, le=365)]


class RulePublic(BaseModel):
    id: int
    name: str
    kind: RuleKind
    basis: Basis | None
    rate: float | None
    grades: list[str] | None
    level: str | None
    multiplier: float | None
    day_of_month: int | None
    weekday: int | None
    stations: list[str] | None
    bonus: int | None
    effective_from: date
    effective_to: date | None
    note: str
    created_by: str
    created_at: datetime
    changed_at: datetime


class RulePage(BaseModel):
    items: list[RulePublic]
    next_cursor: str | None = None
    total: int


class Quote(BaseModel):
    member_no: str
    points: int
    level: str | None             # the member's level code (None: a member head office does not know)


class Expiring(BaseModel):
    expires_at: datetime
    points: int
    overdue: bool


class Summary(BaseModel):
    member_no: str
    balance: int
    debt: int
    expiring: list[Expiring]


class Movement(BaseModel):
    entry_id: int
    kind: str
    name: str
    reference: str | None
    station: str | None
    occurred_at: datetime
    change: int


class LotPublic(BaseModel):
    id: int
    points: int
    remaining: int
    expired_points: int
    source: str
    station: str | None
    earned_at: datetime
    expires_at: datetime


class DebtChange(BaseModel):
    change: int
    reason: str
    reference: str
    at: datetime


class History(BaseModel):
    member_no: str
    items: list[Movement]
    next_cursor: str | None
    total: int
    lots: list[LotPublic]
    debt_changes: list[DebtChange]


class Done(BaseModel):
    """The answer of a change: its document number, whether it was made now (False: made before, by the same
    request), and the member's balance after."""

    number: str
    done: bool
    points: int
    balance: int | None = None


# ---- requests ------------------------------------------------------------------------------------------------

class RuleBody(Body):
    name: Annotated[str, Field(min_length=1, max_length=60, pattern=PLAIN)]
    kind: RuleKind
    basis: Basis | None = None
    rate: Annotated[Decimal, Field(gt=0, le=1000, max_digits=8, decimal_places=4)] | None = None
    grades: Annotated[list[GradeCode], Field(max_length=6)] | None = None        # none or []: every grade
    level: Annotated[str, Field(min_length=1, max_length=32, pattern=PLAIN)] | None = None
    multiplier: Annotated[Decimal, Field(ge=1, le=20, max_digits=4, decimal_places=2)] | None = None
    day_of_month: Annotated[int, Field(ge=1, le=31)] | None = None
    weekday: Annotated[int, Field(ge=1, le=7)] | None = None
    stations: Annotated[list[Code], Field(max_length=500)] | None = None         # none or []: every station
    bonus: Annotated[int, Field(ge=0, le=MAX_POINTS)] | None = None
    effective_from: date
    effective_to: date | None = None
    note: Annotated[str, Field(max_length=200, pattern=PLAIN)] = ""

    def rule(self, rule_id: int = 0) -> Rule:
        return Rule(kind=self.kind, effective_from=self.effective_from, effective_to=self.effective_to,
                    name=self.name, id=rule_id, basis=self.basis, rate=self.rate,
                    grades=frozenset(self.grades) if self.grades else None, level=self.level,
                    multiplier=self.multiplier, day_of_month=self.day_of_month, weekday=self.weekday,
                    stations=frozenset(self.stations) if self.stations else None, bonus=self.bonus)


class QuoteBody(Body):
    member_no: MemberNo
    station: Code
    grade: GradeCode | None = None
    volume_l: Annotated[Decimal, Field(ge=0, le=100_000, max_digits=16, decimal_places=2)] | None = None
    amount_fen: Annotated[int, Field(ge=0, le=100_000_000)]
    at: datetime | None = None


class AdjustBody(Body):
    points: Annotated[int, Field(ge=-MAX_POINTS, le=MAX_POINTS)]
    reason: Annotated[str, Field(min_length=1, max_length=200, pattern=PLAIN)]


class TransferBody(Body):
    from_member: MemberNo
    to_member: MemberNo
    points: Points


class AssignBody(Body):
    station: Code
    order_no: Annotated[str, Field(min_length=6, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    member_no: MemberNo


# ---- helpers -------------------------------------------------------------------------------------------------

def number_of(prefix: str, who: Principal, key: str) -> str:
    """The document a request makes, numbered from its caller and Idempotency-Key (the same request: the same)."""
    return prefix + hashlib.sha256(f"{who.username}\n{key}".encode()).hexdigest()[:20]


async def change(request: Request, db: Db, who: Principal, command: object) -> Any:
    """Hand ``command`` to the bus in one unit of work; a rule's refusal as 422 (the field) or 409 (the state)."""
    try:
        async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
            return await request.app.state.bus.handle(command, uow)
    except PointsError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{exc.message} ({exc.field})") from exc
    except PointsRefused as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, exc.message) from exc


async def _receiver(db: Db, member_no: str) -> None:
    """404 for points given to a member head office does not have (a mistyped number would lose them)."""
    async with db.connection() as conn:
        if not await members.known(conn, member_no):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"没有会员 {member_no}，请核对会员号 "
                                                           "(no such member; check the number)")


async def _balance(db: Db, member_no: str) -> int:
    async with db.connection() as conn:
        return await views.balance(conn, member_no)


# ---- settings and rules --------------------------------------------------------------------------------------

@router.get("/settings", response_model=SettingsPublic)
async def get_settings(who: Reader, db: Db) -> SettingsPublic:
    """The company's points settings: lots' expiry (years after the year earned), points per 元 as a tender,
    and the days within which a sale's points may be assigned to another member."""
    async with db.connection() as conn:
        s = await views.settings(conn)
    return SettingsPublic(expiry_years=s.expiry_years, points_per_yuan=s.points_per_yuan, assign_days=s.assign_days)


@router.put("/settings", dependencies=[AT_HEAD_OFFICE], response_model=SettingsPublic)
async def put_settings(body: SettingsPublic, request: Request, who: Writer, db: Db) -> SettingsPublic:
    """Change the settings (company scope). Audited; the same settings again change nothing."""
    if who.stations is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "积分设置适用于全公司，需要全公司范围 (company scope needed)")
    await change(request, db, who, ChangeSettings(Settings(body.expiry_years, body.points_per_yuan,
                                                            body.assign_days)))
    return body


@router.get("/rules", response_model=RulePage)
async def list_rules(who: Reader, db: Db, kind: RuleKind | None = None) -> RulePage:
    """Every earning rule, newest first, with its effective dates (ended rules too: the history of the rules)."""
    async with db.connection() as conn:
        rows = await views.rules(conn, None if kind is None else kind.value)
    return RulePage(items=[RulePublic(**r) for r in rows], total=len(rows))


@router.post("/rules", dependencies=[AT_HEAD_OFFICE], response_model=RulePublic)
async def add_rule(body: RuleBody, request: Request, who: Writer, db: Db, key: IdempotencyKey) -> JSONResponse:
    """Add an earning rule (docs/points.md "Rules" for each kind's fields). Audited."""
    if who.stations is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "积分规则适用于全公司，需要全公司范围 (company scope needed)")

    async def work() -> RulePublic:
        rule_id = await change(request, db, who, AddRule(body.rule(), body.note))
        async with db.connection() as conn:
            row = await views.rule(conn, rule_id)
        return RulePublic(**(row or {}))
    return await once(request, db, who, key, work)


@router.patch("/rules/{rule_id}", dependencies=[AT_HEAD_OFFICE], response_model=RulePublic)
async def change_rule(rule_id: RuleId, body: RuleBody, request: Request, who: Writer, db: Db) -> RulePublic:
    """Change a rule: the whole rule is sent back (end it by giving ``effective_to``). Audited with before/after."""
    if who.stations is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "积分规则适用于全公司，需要全公司范围 (company scope needed)")
    await change(request, db, who, ChangeRule(body.rule(rule_id), body.note))
    async with db.connection() as conn:
        row = await views.rule(conn, rule_id)
    return RulePublic(**(row or {}))


@router.post("/quote", response_model=Quote)
async def quote(body: QuoteBody, who: Quoter, db: Db) -> Quote:
    """What a sale would earn the member by today's rules (the receipt shows it; the award itself happens when the
    paid order reaches head office). Changes nothing, so it takes no Idempotency-Key."""
    who.check_station(body.station)
    at = body.at or datetime.now(UTC)
    if at.tzinfo is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "时间须带时区 (at needs a time zone)")
    async with db.connection() as conn:
        level = await members.level_of(conn, body.member_no)
        rules = await current_rules(conn)
    sale = Sale(body.station, body.amount_fen, body.grade, body.volume_l)
    return Quote(member_no=body.member_no, points=points_for(sale, level, rules, at),
                 level=None if level is None else level.code)


# ---- a member's points ---------------------------------------------------------------------------------------

@router.get("/members/{member_no}", response_model=Summary)
async def summary(member_no: Member, who: Reader, db: Db) -> Summary:
    """Balance, points debt, and how many points expire when."""
    async with db.connection() as conn:
        return Summary(**await views.summary(conn, member_no, datetime.now(UTC)))


@router.get("/members/{member_no}/history", response_model=History)
async def history(member_no: Member, who: Reader, db: Db, cursor: Cursor = "", limit: Limit = 50) -> History:
    """Movements newest first (``change`` > 0: points in), and on the first page the lots and the debt's changes.
    A caller scoped to stations sees other stations' movements without their station and reference."""
    async with db.connection() as conn:
        found = await views.history(conn, member_no, after=after(cursor, views.MOVEMENTS), limit=limit)
    items = []
    for m in found["movements"]:
        if m["station"] is not None and not who.sees(m["station"]):
            m = m | {"station": None, "reference": None}
        items.append(Movement(**m))
    paged = page(items, found["total"], views.MOVEMENTS, found["last"])
    return History(member_no=member_no, **paged, lots=[LotPublic(**lot) for lot in found["lots"]],
                   debt_changes=[DebtChange(**d) for d in found["debt_changes"]])


@router.post("/members/{member_no}/adjustments", dependencies=[AT_HEAD_OFFICE], response_model=Done)
async def adjust(member_no: Member, body: AdjustBody, request: Request, who: Writer, db: Db,
                 key: IdempotencyKey) -> JSONResponse:
    """A manual grant (``points`` > 0) or deduction (< 0) with its reason. Audited."""
    number = number_of("PA", who, key)

    async def work() -> Done:
        try:
            command = Adjust(number, member_no, body.points, body.reason, datetime.now(UTC))
        except PointsError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{exc.message} ({exc.field})") from exc
        done = await change(request, db, who, command)
        return Done(number=number, done=done, points=body.points, balance=await _balance(db, member_no))
    return await once(request, db, who, key, work)


@router.post("/transfers", dependencies=[AT_HEAD_OFFICE], response_model=Done)
async def transfer(body: TransferBody, request: Request, who: Writer, db: Db, key: IdempotencyKey) -> JSONResponse:
    """转赠: points from one member to another; they keep the expiry dates of the lots they came from. Audited."""
    await _receiver(db, body.to_member)
    number = number_of("PT", who, key)

    async def work() -> Done:
        try:
            command = Transfer(number, body.from_member, body.to_member, body.points, datetime.now(UTC))
        except PointsError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{exc.message} ({exc.field})") from exc
        done = await change(request, db, who, command)
        return Done(number=number, done=done, points=body.points, balance=await _balance(db, body.from_member))
    return await once(request, db, who, key, work)


@router.post("/assignments", dependencies=[AT_HEAD_OFFICE], response_model=Done)
async def assign(body: AssignBody, request: Request, who: Writer, db: Db, key: IdempotencyKey) -> JSONResponse:
    """积分归属: a sale's points go to ``member_no`` (from the member who earned them, or a sale without a member),
    within the days the settings allow, once per order. Audited."""
    who.check_station(body.station)
    await _receiver(db, body.member_no)

    async def work() -> Done:
        moved = await change(request, db, who, Assign(body.station, body.order_no, body.member_no,
                                                       datetime.now(UTC)))
        return Done(number=f"{body.station}/{body.order_no}", done=True, points=moved,
                    balance=await _balance(db, body.member_no))
    return await once(request, db, who, key, work)
