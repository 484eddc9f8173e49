"""Authorisation before fuelling and fleet sales, asked by station servers at head office (docs/fleets.md
"Cards and authorisation"; contract ``telemetry/contracts/fleets.py``).

Every route needs ``payment:online`` (a station server's API key carries it) and the station in the caller's
scope: a station asks, releases and captures for itself only. Each is idempotent by its own document number, so a
POS or station server may simply retry: the same ``auth_no`` answers as the first time, a release of a released
reservation changes nothing, a sale (``station`` + ``payment_no``) or a refund (``refund_no``) is recorded and
posted once. A number reused for something else is 409; no such card, authorisation or sale, 404. A refused
authorisation is an answer (200, ``allowed: false`` with the reason the cashier reads out), not an error.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, status
from pydantic import BaseModel, ConfigDict, Field

from business_services.fleets.authorisation import Authorise, Release, authorisation
from business_services.fleets.cards import FleetError, FleetNotFound, FleetRefused
from business_services.fleets.payments import Capture, Refund
from business_services.unit_of_work import UnitOfWork
from control_api.deps import Db, Station
from control_api.security import Principal, require
from telemetry.contracts.events.payments import DocumentNo
from telemetry.contracts.fleets import FleetAnswer, FleetAsk, FleetCapture

router = APIRouter(prefix="/api/v1", tags=["fleet-authorisations"])
StationServer = Annotated[Principal, Depends(require("payment:online"))]
Number = Annotated[str, Path(min_length=6, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                             description="单据号 (a document number)")]


class Captured(BaseModel):
    """A fleet sale as head office recorded it, and the money the card may still spend."""

    state: str
    station: str
    payment_no: str
    card_no: str
    enterprise: str
    amount_fen: int
    pays_from: str
    balance_fen: int | None          # a card paying from its own balance: what is left on it
    remaining_credit_fen: int | None   # a card on the enterprise's credit: the credit line less debt
    flag: str                         # an offline sale recorded past its limits: why


class FleetRefundBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refund_no: DocumentNo
    amount_fen: Annotated[int, Field(gt=0, le=100_000_000)]


def refusal(exc: FleetError) -> HTTPException:
    """One way to refuse: 404 for what does not exist, 409 for what the state of things forbids, else 422."""
    if isinstance(exc, FleetNotFound):
        return HTTPException(status.HTTP_404_NOT_FOUND, "没有这张车队卡、授权或支付记录，请核对单号 "
                                                        f"(not found: {exc.message})")
    code = status.HTTP_409_CONFLICT if isinstance(exc, FleetRefused) else status.HTTP_422_UNPROCESSABLE_CONTENT
    return HTTPException(code, exc.message)


async def handle(request: Request, db: Db, who: Principal, command: Any) -> Any:
    """The command through the bus in one unit of work; a rule's refusal as 404/409/422."""
    try:
        async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
            return await request.app.state.bus.handle(command, uow)
    except FleetError as exc:
        raise refusal(exc) from None


@router.post("/fleet-authorisations", response_model=FleetAnswer)
async def authorise(ask: FleetAsk, request: Request, db: Db, who: StationServer) -> FleetAnswer:
    """May this card (or the plate's vehicle card) fuel here, and how much? A reserved preset in fen, or
    ``allowed: false`` with the reason; the same ``auth_no`` again answers as the first time."""
    who.check_station(ask.station)
    if ask.card_no is None and ask.plate is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "请刷车队卡或输入车牌 (name the card or the plate)")
    answer: FleetAnswer = await handle(request, db, who, Authorise(ask))
    return answer


@router.post("/fleet-authorisations/{auth_no}/release")
async def release(auth_no: Number, request: Request, db: Db, who: StationServer) -> dict[str, Any]:
    """The fuelling never started (or the pump was not used): the reservation's money is free again.
    {auth_no, state, released_fen}."""
    async with db.connection() as conn:
        row = await authorisation(conn, auth_no)
    if row is None:
        raise refusal(FleetNotFound(auth_no))
    who.check_station(row["station"])
    done: dict[str, Any] = await handle(request, db, who, Release(auth_no, datetime.now(UTC)))
    return done


@router.post("/fleet-payments", response_model=Captured)
async def capture(body: FleetCapture, request: Request, db: Db, who: StationServer) -> Captured:
    """A fleet sale paid: the actual amount captured against its authorisation (the rest released) and
    settled from the card's balance or the enterprise's credit, once by ``station`` + ``payment_no``."""
    who.check_station(body.station)
    return Captured.model_validate(await handle(request, db, who, Capture(body)))


@router.post("/fleet-payments/{station}/{payment_no}/refunds")
async def refund(station: Station, payment_no: Number, body: FleetRefundBody, request: Request, db: Db,
                 who: StationServer) -> dict[str, Any]:
    """Part or all of a fleet sale back where its money came from, once by ``refund_no``:
    {state, refund_no, amount_fen, refunded_fen}."""
    who.check_station(station)
    done: dict[str, Any] = await handle(request, db, who, Refund(station, payment_no, body.refund_no,
                                                                 body.amount_fen, datetime.now(UTC)))
    return done
