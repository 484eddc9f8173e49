"""Fleet settlement at head office (docs/fleets.md "Statements, receivables and the bank"): statements of the
enterprises' credit sales (list, detail with its sales, confirmation on the enterprise's behalf, disputes and
their resolution, the monthly run), receivables' ageing and dunning, the bank's transfers (the manual-match
queue, a poll) and the bank's signed notification callback (no login: the signature is the proof).

Reads need ``fleet:read``, everything else ``fleet:settle``; an enterprise is seen by the users of its maintaining
station. Each change is audited (business_services/fleets). A repeated POST changes nothing: a confirmed
statement stays confirmed, a transfer is recorded once by the bank's serial, a match once per transfer and
statement.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import httpx
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from business_services import report_files
from business_services.audit.model import Actor
from business_services.cards.model import CHINA
from business_services.fleets import bank, dunning_sms, receivables, statements
from business_services.fleets.settlement_model import STATEMENT_NO, SettlementError
from business_services.notifications.model import mask_phone
from business_services.unit_of_work import UnitOfWork
from control_api.deps import Db, RowId
from control_api.pagination import Cursor, Limit, after, page
from control_api.security import Principal, require
from telemetry.contracts.identifiers import PLAIN_TEXT as PLAIN
from telemetry.contracts.identifiers import Code

router = APIRouter(prefix="/api/v1", tags=["fleet settlement"])
callbacks = APIRouter(prefix="/api/v1")   # the bank's push: no login (in ROUTERS; a role router names a permission)
Reader = Annotated[Principal, Depends(require("fleet:read"))]
Settler = Annotated[Principal, Depends(require("fleet:settle"))]
StatementNo = Annotated[str, Path(pattern=f"^{STATEMENT_NO.pattern}$", description="对账单号 FS<企业六位>-<日期>")]
TransferNo = Annotated[str, Path(pattern=r"^[0-9A-Za-z-]{1,40}$", description="银行交易流水号")]
Reason = Annotated[str, Field(min_length=1, max_length=200, pattern=PLAIN)]
security_log = logging.getLogger("forecourt.security")
T = TypeVar("T")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DisputeBody(_Body):
    reason: Reason
    station: Code | None = None
    payment_no: Annotated[str, Field(pattern=r"^[0-9A-Za-z-]{1,40}$")] | None = None


class ResolutionBody(_Body):
    resolution: Reason


class MatchBody(_Body):
    statement_no: Annotated[str, Field(pattern=f"^{STATEMENT_NO.pattern}$")]
    amount_fen: Annotated[int, Field(gt=0, le=10_000_000_000)]


class PayerAccountBody(_Body):
    account_no: Annotated[str, Field(pattern=r"^[0-9]{8,32}$")]
    enterprise: Annotated[str, Field(pattern=r"^E[0-9]{6}$")]


def _not_found(what: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"没有{what}，请核对编号 (no such {what})")


async def _settling(db: Db, who: Principal, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """``work`` in the caller's unit of work; a settlement rule's refusal as 409 with its message."""
    try:
        async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
            return await work(uow)
    except SettlementError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None


def _head_office(who: Principal, what: str) -> None:
    """403 for a caller limited to some stations: ``what`` is head office's."""
    if who.stations is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"{what}由总部操作，请联系总部财务 (head office only)")


async def _statement(db: Db, number: str, who: Principal) -> dict[str, Any]:
    async with db.connection() as conn:
        row = await statements.statement(conn, number)
    if row is None:
        raise _not_found("这张对账单")
    who.check_station(row["maintaining_station"])
    return row


async def _enterprise_station(db: Db, code: str) -> str:
    async with db.connection() as conn:
        row = await (await conn.execute("SELECT maintaining_station FROM business.fleet_enterprises WHERE code = %s",
                                        (code,))).fetchone()
    if row is None:
        raise _not_found(f"企业 {code}")
    return str(row[0])


# ---- statements ------------------------------------------------------------------------------------------

@router.get("/fleet-statements")
async def list_statements(who: Reader, db: Db, filters: Annotated[statements.StatementFilter, Query()],
                          cursor: Cursor = "", limit: Limit = 20) -> dict[str, Any]:
    """Statements newest first among the caller's stations' enterprises (``open_only``: not fully paid); the
    Excel export ``fleet_statements`` takes the same filters."""
    async with db.connection() as conn:
        rows, total, last = await statements.statements_of(conn, filters.enterprise, stations=who.stations,
                                                           state=filters.state, open_only=filters.open_only,
                                                           limit=limit, after=after(cursor, statements.NEWEST))
    return page(rows, total, statements.NEWEST, last)


@router.get("/fleet-statements/{statement_no}")
async def get_statement(statement_no: StatementNo, who: Reader, db: Db) -> dict[str, Any]:
    """A statement with its sales and refunds, disputes and settlements; card numbers and plates masked without
    ``pii:read``."""
    row = await _statement(db, statement_no, who)
    return row if who.may("pii:read") else statements.masked(row)


@router.get("/fleet-statements/{statement_no}/file", response_class=Response,
            responses={200: {"content": {XLSX: {}, "application/pdf": {}}}})
async def statement_file(statement_no: StatementNo, who: Reader, db: Db,
                         format: Annotated[str, Query(pattern="^(xlsx|pdf)$")] = "xlsx") -> Response:
    """The statement as the enterprise files it: Excel or PDF (its sales, refunds, disputes and settlements)."""
    row = await _statement(db, statement_no, who)
    title, subtitle, sheets = statements.statement_sheets(row if who.may("pii:read") else statements.masked(row))
    if format == "pdf":
        content, media = report_files.pdf(title, sheets, subtitle=subtitle, wide=True), "application/pdf"
    else:
        content, media = report_files.xlsx(title, sheets), XLSX
    return Response(content, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{statement_no}.{format}"'})


@router.post("/fleet-statements/run")
async def run_statements(who: Settler, db: Db) -> dict[str, Any]:
    """Make the statements due now (what the monthly job does); a second run makes none."""
    _head_office(who, "出具对账单")
    async with db.connection() as conn:
        made = await statements.issue_due(conn, datetime.now(UTC))
    return {"made": made}


@router.post("/fleet-statements/{statement_no}/confirmation")
async def confirm_statement(statement_no: StatementNo, who: Settler, db: Db) -> dict[str, Any]:
    """The enterprise's confirmation, recorded by head office on its behalf (a repeat changes nothing)."""
    await _statement(db, statement_no, who)
    changed = await _settling(db, who, lambda uow: statements.confirm(uow, statement_no, who.username))
    return {"statement_no": statement_no, "state": "confirmed", "changed": changed}


@router.post("/fleet-statements/{statement_no}/disputes", status_code=status.HTTP_201_CREATED)
async def dispute_statement(statement_no: StatementNo, body: DisputeBody, who: Settler, db: Db) -> dict[str, Any]:
    """A dispute of the whole statement, or of one sale (``station`` and ``payment_no``), with the reason."""
    if (body.station is None) != (body.payment_no is None):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "异议某笔交易须同时填写站点和交易号 (give both station and payment_no, or neither)")
    await _statement(db, statement_no, who)
    dispute = statements.Dispute(statement_no, body.reason, who.username, body.station, body.payment_no)
    dispute_id = await _settling(db, who, lambda uow: statements.dispute(uow, dispute))
    return {"id": dispute_id, "statement_no": statement_no, "state": "disputed"}


@router.post("/fleet-statement-disputes/{dispute_id}/resolution")
async def resolve_dispute(dispute_id: Annotated[int, Path(ge=1, le=2**62)], body: ResolutionBody, who: Settler,
                          db: Db) -> dict[str, Any]:
    """Head office's resolution of a dispute; with none left open the statement awaits confirmation again."""
    async with db.connection() as conn:
        disputed = await statements.statement_of_dispute(conn, dispute_id)
    if disputed is None:
        raise _not_found("这条异议")
    await _statement(db, disputed, who)
    number = await _settling(db, who, lambda uow: statements.resolve(uow, dispute_id, body.resolution, who.username))
    async with db.connection() as conn:
        return {"id": dispute_id, "statement": await statements.statement(conn, number)}


# ---- receivables -----------------------------------------------------------------------------------------

@router.get("/fleet-receivables")
async def list_receivables(who: Reader, db: Db) -> dict[str, Any]:
    """What each enterprise owes: the ledger's receivable, its open statements by age past due, the unbilled rest."""
    async with db.connection() as conn:
        rows = await receivables.ageing(conn, datetime.now(CHINA).date(), who.stations)
    return {"items": rows}


@router.get("/fleet-dunning-notices")
async def list_dunning(who: Reader, db: Db, limit: Annotated[int, Query(ge=1, le=100)] = 50) -> dict[str, Any]:
    """Dunning notices, newest first; the contact's phone masked without ``pii:read``."""
    async with db.connection() as conn:
        rows = await receivables.notices(conn, who.stations, limit)
    if not who.may("pii:read"):
        for r in rows:
            r["contact_phone"] = mask_phone(r["contact_phone"]) if r["contact_phone"] else ""
    return {"items": rows}


@router.post("/fleet-receivables/dunning")
async def run_dunning(who: Settler, db: Db) -> dict[str, Any]:
    """Make the dunning notices due today (what the daily job does); a second run makes none."""
    _head_office(who, "催款")
    async with db.connection() as conn:
        return {"made": await receivables.dun(conn, datetime.now(CHINA).date())}


@router.post("/fleet-dunning-notices/{notice_id}/resend", status_code=204)
async def resend_dunning(notice_id: RowId, who: Settler, db: Db) -> None:
    """Send a failed notice again, to the enterprise's contact as it is now (put the phone right first)."""
    _head_office(who, "催款")
    async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
        if not await dunning_sms.resend(uow, notice_id):
            raise HTTPException(status.HTTP_409_CONFLICT, "该催款通知已发送或正在发送，无需重发 "
                                                          "(the notice is sent or on its way; nothing to resend)")


# ---- the bank --------------------------------------------------------------------------------------------

def _link(request: Request) -> bank.BankLink:
    link: bank.BankLink | None = getattr(request.app.state, "bank", None) or bank.BankLink.from_env()
    if link is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "银企直连尚未开通，请先配置银行参数 (no bank link set up)")
    return link


@router.get("/bank-transfers")
async def list_transfers(who: Reader, db: Db, unmatched: bool = False,
                         limit: Annotated[int, Query(ge=1, le=100)] = 50) -> dict[str, Any]:
    """Transfers received, newest first (``unmatched``: the manual-match queue); payer accounts masked without
    ``pii:read``. Head office's account: company-wide callers only."""
    _head_office(who, "银行到账")
    async with db.connection() as conn:
        rows = await bank.transfers(conn, unmatched=unmatched, limit=limit)
    if not who.may("pii:read"):
        for r in rows:
            r["payer_account"] = "****" + r["payer_account"][-4:]
    return {"items": rows}


@router.post("/bank-transfers/{transfer_no}/matches", status_code=status.HTTP_201_CREATED)
async def match_transfer(transfer_no: TransferNo, body: MatchBody, who: Settler, db: Db) -> dict[str, Any]:
    """A person's match of (part of) a transfer to a statement; the payer's account is remembered for the
    enterprise."""
    await _statement(db, body.statement_no, who)
    _head_office(who, "银行到账核销")
    try:
        amount = await _settling(db, who, lambda uow: bank.settle(uow, transfer_no, body.statement_no,
                                                                  body.amount_fen, who.username))
    except LookupError:
        raise _not_found(f"到账 {transfer_no}") from None
    return {"transfer_no": transfer_no, "statement_no": body.statement_no, "amount_fen": amount}


@router.post("/fleet-payer-accounts", status_code=status.HTTP_201_CREATED)
async def add_payer_account(body: PayerAccountBody, who: Settler, db: Db) -> dict[str, Any]:
    """An enterprise's paying account: its transfers of one open statement's exact amount pay that statement."""
    who.check_station(await _enterprise_station(db, body.enterprise))
    await _settling(db, who, lambda uow: bank.add_payer_account(uow, body.account_no, body.enterprise))
    return body.model_dump()


@router.post("/bank-transfers/poll")
async def poll_bank(request: Request, who: Settler, db: Db) -> dict[str, Any]:
    """Ask the bank now for the last days' transfers (what the job does every few minutes)."""
    _head_office(who, "银企直连")
    link = _link(request)
    client: httpx.AsyncClient | None = getattr(request.app.state, "bank_client", None)
    try:
        async with db.connection() as conn:
            if client is not None:
                return {"new": await bank.poll(conn, link, client, datetime.now(CHINA).date())}
            async with httpx.AsyncClient() as own:
                return {"new": await bank.poll(conn, link, own, datetime.now(CHINA).date())}
    except bank.BankUnavailable as error:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, f"银行暂时无法查询，请稍后重试 ({error})") from None


@callbacks.post("/bank/notifications", include_in_schema=False)
async def bank_notification(request: Request, db: Db) -> JSONResponse:
    """The bank's push of an incoming transfer: 200 ``{"code": "SUCCESS"}`` once recorded (a repeat too), 401 for a
    signature that is not the bank's, 400 for a notification we cannot read (the bank retries neither)."""
    link = _link(request)
    body = await request.body()
    try:
        transfer = bank.verified(link, request.headers, body, time.time())
    except bank.BadNotification as error:
        security_log.warning("security: bank notification refused (%s) from %s", error,
                             request.client.host if request.client else "?")
        return JSONResponse({"code": "FAIL", "msg": str(error)}, status.HTTP_401_UNAUTHORIZED
                            if isinstance(error, bank.BadSignature) else status.HTTP_400_BAD_REQUEST)
    async with db.connection() as conn, UnitOfWork(conn, Actor.system("bank-notification")) as uow:
        await bank.receive(uow, transfer, "notification")
    return JSONResponse({"code": "SUCCESS"})
