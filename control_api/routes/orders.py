"""Orders at the station server (docs/orders.md): the list and its exports, what the POS may take, one order's
detail, the POS's lock, held orders and their write-off, make-up and manual orders, tags and notes, and a
WebSocket that pushes each order as it appears or changes.

Reads need ``order:read``, changes ``order:write``; every route checks the caller's station scope. Changes run
one command of ``business_services/orders/handlers.py`` through the bus; only a station server's bus has
them (``forecourt/roles.py``), so head office answers them 409. The WebSocket authenticates as the device
stream does (``access_token`` query parameter; closed 4401/4403).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Query, Request, WebSocket, WebSocketDisconnect, status
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from business_services.orders import handlers, views
from business_services.orders.model import (
    CreateOrder,
    EditOrder,
    HeldReason,
    HoldOrder,
    LockOrder,
    OrderConflict,
    OrderKind,
    OrderNotFound,
    OrderRuleError,
    ReleaseOrder,
    RequestWriteOff,
    Status,
    Tag,
    UnlockOrder,
)
from business_services.orders.pdf import order_list_pdf
from business_services.orders.repository import NOTIFY_CHANNEL
from business_services.unit_of_work import UnitOfWork
from control_api.database import DatabaseUnavailable
from control_api.deps import Db, Station
from control_api.idempotency import IdempotencyKey, once
from control_api.live import wait_or_disconnect
from control_api.pagination import Cursor, Limit
from control_api.security import Principal, require
from forecourt.roles import policy
from telemetry.contracts.identifiers import PLAIN_TEXT as PLAIN

router = APIRouter(prefix="/api/v1/stations/{station}", tags=["orders"])


Reader = Annotated[Principal, Depends(require("order:read"))]
_Writer = Annotated[Principal, Depends(require("order:write"))]


def _station_writer(station: Station, who: _Writer) -> Principal:
    """``order:write`` and the station in scope, checked before the body or query is read: 403, never 422 first."""
    who.check_station(station)
    return who


Writer = Annotated[Principal, Depends(_station_writer)]
OrderNo = Annotated[str, PathParam(min_length=6, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                                   description="订单号 (order number)")]
Terminal = Annotated[str, Field(min_length=1, max_length=64, pattern=PLAIN, description="POS 终端编号，如 pos-1")]
TerminalQuery = Annotated[str, Query(max_length=64, pattern=PLAIN, description="POS 终端编号，如 pos-1")]


class TagBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=16, pattern=PLAIN)]
    amount_fen: Annotated[int | None, Field(ge=0, le=100_000_000)] = None


class LockBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    terminal: Terminal


class HoldBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[HeldReason, Field(description="drive_off 逃单, power_loss 断电, abnormal 异常")]
    note: Annotated[str, Field(max_length=200, pattern=PLAIN)] = ""


class WriteOffBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(min_length=1, max_length=200, pattern=PLAIN)]


class EditBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tags: Annotated[list[TagBody] | None, Field(max_length=10, description="标签，如 滴滴 6.05 元")] = None
    note: Annotated[str | None, Field(max_length=500, pattern=PLAIN)] = None


class CreateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Annotated[OrderKind, Field(description="make_up 补单 (needs approval) or manual 手工单")]
    amount_fen: Annotated[int, Field(gt=0, le=100_000_000)]
    reason: Annotated[str, Field(min_length=1, max_length=200, pattern=PLAIN)]
    nozzle: Annotated[int | None, Field(ge=1, le=99)] = None
    grade: Annotated[int | None, Field(ge=0, le=999)] = None
    volume_l: Annotated[Decimal | None, Field(ge=0, le=100_000, max_digits=8, decimal_places=2)] = None
    price_fen_per_l: Annotated[int | None, Field(ge=100, le=5000)] = None
    item: Annotated[str | None, Field(max_length=64, pattern=PLAIN, description="手工单的商品，如 润滑油")] = None
    tags: Annotated[list[TagBody], Field(max_length=10)] = []


class Created(BaseModel):
    order_no: str
    status: Status
    approval_id: str | None = Field(None, description="补单的审批申请 (the make-up's approval request)")


class Locked(BaseModel):
    order_no: str
    locked_by: str
    locked_until: datetime


class WriteOffAsked(BaseModel):
    order_no: str
    approval_id: str


def _problem_for(exc: Exception) -> HTTPException | JSONResponse:
    if isinstance(exc, OrderRuleError) and not isinstance(exc, OrderConflict):
        return JSONResponse({"detail": str(exc), "errors": [{"field": exc.field, "message": str(exc)}]},
                            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    if isinstance(exc, OrderNotFound):
        return HTTPException(status.HTTP_404_NOT_FOUND, str(exc))
    return HTTPException(status.HTTP_409_CONFLICT, str(exc))


async def _run(request: Request, db: Db, who: Principal, station: str, command: Any) -> Any:
    """One command in a unit of work; rule errors become 422 (naming the field), 404 or 409."""
    who.check_station(station)
    if handlers not in policy(request.app.state.role).contexts:
        raise HTTPException(status.HTTP_409_CONFLICT, "订单由站级服务器处理，请在站点收银台操作 (orders are "
                                                      "handled at the station server; use the station's POS)")
    async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
        return await request.app.state.bus.handle(command, uow)


async def _command(request: Request, db: Db, who: Principal, station: str, make: Any) -> Any:
    """Build the command (its rules may refuse it) and run it; the refusal as a problem."""
    try:
        return await _run(request, db, who, station, make())
    except (OrderRuleError, OrderNotFound, OrderConflict) as exc:
        problem = _problem_for(exc)
        if isinstance(problem, HTTPException):
            raise problem from None
        return problem


def _tags(body: list[TagBody]) -> tuple[Tag, ...]:
    return tuple(Tag(t.name.strip(), t.amount_fen) for t in body)


# --- reads -----------------------------------------------------------------------------------------

def _filter(station: str, query: dict[str, Any]) -> views.OrderFilter:
    try:
        return views.OrderFilter.model_validate({"station": station, **{k: v for k, v in query.items() if v != ""}})
    except ValidationError as exc:
        problems = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()[:10]]
        summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"筛选条件有误 (bad filters): {summary}") from None


FILTERS = {"status", "kind", "shift_no", "nozzle", "grade", "from", "to", "q", "amount_fen", "volume_l"}


def _query_filters(request: Request, station: str) -> views.OrderFilter:
    unknown = set(request.query_params) - FILTERS - {"cursor", "limit"}
    if unknown:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"未知的筛选条件 {sorted(unknown)[:5]} (unknown filters; use {sorted(FILTERS)})")
    return _filter(station, {k: request.query_params[k] for k in FILTERS if k in request.query_params})


@router.get("/orders")
async def list_orders(station: Station, request: Request, db: Db, who: Reader, cursor: Cursor = "",
                      limit: Limit = 20) -> dict[str, Any]:
    """订单列表，最新在前 (newest first). Filters: status, kind, shift_no, nozzle, grade, from/to (ISO UTC),
    q (order number prefix), amount_fen (±1 fen) and volume_l (±0.01 L): the POS's smart search. Keyset
    cursor: orders arriving between pages are never skipped or repeated."""
    who.check_station(station)
    filters = _query_filters(request, station)
    async with db.connection() as conn:
        try:
            return await views.page(conn, filters, who.stations, cursor or None, limit)
        except ValueError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None


@router.get("/orders.pdf")
async def orders_pdf(station: Station, request: Request, db: Db, who: Reader) -> Response:
    """The filtered list as a PDF (A4 landscape, Chinese), at most ``EXPORT_LIMIT`` rows; beyond, 422."""
    who.check_station(station)
    filters = _query_filters(request, station)
    async with db.connection() as conn, conn.transaction():
        total = await views.count(conn, filters, who.stations)
        if total > views.EXPORT_LIMIT:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                f"共 {total} 条，PDF 最多 {views.EXPORT_LIMIT} 条，请缩小筛选范围或导出 Excel "
                                f"({total} orders; a PDF holds at most {views.EXPORT_LIMIT}: narrow the filters "
                                "or export to Excel)")
        rows = [row async for row in views.rows(conn, filters, who.stations, who.may("pii:read"))]
    content = await asyncio.to_thread(order_list_pdf, station, rows)
    return Response(content, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="orders-{station}.pdf"'})


@router.get("/orders/payable")
async def payable_orders(station: Station, db: Db, who: Reader,
                         terminal: TerminalQuery = "") -> dict[str, Any]:
    """What the POS shows: payable orders that are unlocked, whose lock expired, or locked by ``terminal``;
    oldest first."""
    who.check_station(station)
    async with db.connection() as conn:
        items = await views.payable(conn, station, terminal or None, datetime.now(UTC))
    return {"items": items, "next_cursor": None, "total": len(items)}


@router.websocket("/orders/stream")
async def stream(websocket: WebSocket, station: Station, db: Db, who: Reader) -> None:
    """Sends ``{"type": "order", "order_no", "status", "version", …}`` for each order created or changed
    (a lock included) after the client connected, within a second of the change's commit."""
    who.check_station(station, websocket)
    async with await psycopg.AsyncConnection.connect(websocket.app.state.hub.database_url,
                                                     autocommit=True) as listener:
        await listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
        wake, lost = asyncio.Event(), asyncio.Event()

        async def listen() -> None:
            try:
                async for note in listener.notifies():
                    if note.payload == station:
                        wake.set()
            except psycopg.Error:
                lost.set()
                wake.set()
        listening = asyncio.create_task(listen())
        await websocket.accept()
        since = datetime.now(UTC) - timedelta(seconds=1)
        sent: dict[str, tuple[Any, ...]] = {}
        try:
            while True:
                wake.clear()                # a change committed while we read wakes the next round
                async with db.connection() as conn:
                    for row in await views.changed_since(conn, station, since):
                        state = (row["version"], row["status"], row["locked_by"], row["locked_until"])
                        if sent.get(row["order_no"]) != state:
                            sent[row["order_no"]] = state
                            await websocket.send_json({"type": "order", **_json(row)})
                        since = max(since, row["changed_at"] - timedelta(seconds=5))   # a slower writer's commit
                await wait_or_disconnect(websocket, wake.wait())
                if lost.is_set():
                    await websocket.close(status.WS_1013_TRY_AGAIN_LATER, "数据库连接中断，请重连 (reconnect)")
                    return
        except WebSocketDisconnect:
            pass
        except DatabaseUnavailable:
            await websocket.close(status.WS_1013_TRY_AGAIN_LATER, "数据库暂时不可用 (database unavailable)")
        finally:
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError, psycopg.Error):
                await listening


def _json(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, Decimal) else v)
            for k, v in row.items()}



@router.get("/orders/{order_no}")
async def order_detail(station: Station, order_no: OrderNo, db: Db, who: Reader) -> dict[str, Any]:
    """One order: price per litre, totalizers, fuelling times, tags, note, lock, status history. ``payments``,
    ``discounts``, ``member`` and ``vehicle`` are placeholders that the payments, promotions, member and
    vehicle contexts fill as they land (empty or null until then)."""
    who.check_station(station)
    async with db.connection() as conn:
        found = await views.detail(conn, station, order_no)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"本站没有订单 {order_no} (no order {order_no} at {station})")
    return found


# --- changes ---------------------------------------------------------------------------------------

@router.post("/orders", response_model=Created)
async def create_order(station: Station, body: CreateBody, request: Request, db: Db, who: Writer,
                       key: IdempotencyKey) -> Any:
    """A make-up order (补单, ``kind: make_up``: nozzle, grade, volume, price, amount, reason; pending approval
    ``order.make_up`` until a station manager approves) or a manual sale (``kind: manual``: item, amount;
    payable at once). Audited. A retry with the same Idempotency-Key makes no second order."""
    who.check_station(station)

    async def work() -> Created:
        try:
            command = CreateOrder(station, body.kind, body.amount_fen, body.reason.strip(), body.nozzle, body.grade,
                                  body.volume_l, body.price_fen_per_l, body.item, _tags(body.tags))
            row = await _run(request, db, who, station, command)
        except (OrderRuleError, OrderConflict) as exc:
            raise HTTPException(status.HTTP_409_CONFLICT if isinstance(exc, OrderConflict)
                                else status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
        approval = row["approval_id"]
        return Created(order_no=row["order_no"], status=row["status"],
                       approval_id=None if approval is None else str(approval))

    return await once(request, db, who, key, work)


@router.patch("/orders/{order_no}")
async def edit_order(station: Station, order_no: OrderNo, body: EditBody, request: Request, db: Db,
                     who: Writer) -> Any:
    """Tags (e.g. 滴滴 6.05 元: ``{"name": "滴滴", "amount_fen": 605}``) and the note; audited."""
    tags = None if body.tags is None else body.tags
    row = await _command(request, db, who, station,
                         lambda: EditOrder(station, order_no, None if tags is None else _tags(tags), body.note))
    return row if isinstance(row, JSONResponse) else {"order_no": order_no, "tags": row["tags"], "note": row["note"],
                                                      "version": row["version"]}


@router.post("/orders/{order_no}/lock", response_model=Locked)
async def lock(station: Station, order_no: OrderNo, body: LockBody, request: Request, db: Db, who: Writer) -> Any:
    """Take the order in hand at one POS for 60 s (the same terminal renews it); 409 "订单正在 pos-1 收款"
    while another terminal holds an unexpired lock."""
    until = await _command(request, db, who, station, lambda: LockOrder(station, order_no, body.terminal,
                                                                        datetime.now(UTC)))
    return until if isinstance(until, JSONResponse) else Locked(order_no=order_no, locked_by=body.terminal,
                                                                locked_until=until)


@router.delete("/orders/{order_no}/lock")
async def unlock(station: Station, order_no: OrderNo, request: Request, db: Db, who: Writer,
                 terminal: Annotated[TerminalQuery, Query(min_length=1)]) -> Any:
    """Release the terminal's lock (a payment releases it too); ``released: false`` when it held none."""
    released = await _command(request, db, who, station, lambda: UnlockOrder(station, order_no, terminal))
    return released if isinstance(released, JSONResponse) else {"order_no": order_no, "released": released}


def _state(row: Any) -> Any:
    if isinstance(row, JSONResponse):
        return row
    return {"order_no": row["order_no"], "status": row["status"], "held_reason": row["held_reason"],
            "version": row["version"]}


@router.post("/orders/{order_no}/hold")
async def hold(station: Station, order_no: OrderNo, body: HoldBody, request: Request, db: Db, who: Writer) -> Any:
    """挂单: drive-off 逃单, power loss 断电 or abnormal 异常 (+ note); no longer payable at the POS. Audited."""
    return _state(await _command(request, db, who, station, lambda: HoldOrder(station, order_no, body.reason,
                                                                             body.note)))


@router.post("/orders/{order_no}/release")
async def release(station: Station, order_no: OrderNo, request: Request, db: Db, who: Writer) -> Any:
    """A held order payable again. Audited."""
    return _state(await _command(request, db, who, station, lambda: ReleaseOrder(station, order_no)))


@router.post("/orders/{order_no}/write-off", status_code=status.HTTP_202_ACCEPTED)
async def write_off(station: Station, order_no: OrderNo, body: WriteOffBody, request: Request, db: Db,
                    who: Writer) -> Any:
    """Ask to write off a held order's outstanding amount: an ``order.write_off`` approval request, decided by a
    station manager (or above) of the station. A retry returns the pending request."""
    asked = await _command(request, db, who, station, lambda: RequestWriteOff(station, order_no, body.reason))
    return asked if isinstance(asked, JSONResponse) else WriteOffAsked(order_no=order_no, approval_id=asked)
