"""IC cards at head office (docs/ic-cards.md): the grey list stations ask, loads (圈存) stations write to chips,
and the reconciliation of chips against their purse mirrors.

The grey list and loads are asked by station servers (their API key: ``payment:online``); a load's POSTs take
an ``Idempotency-Key``. A grey record is answered to any station server: whoever holds the card may settle it
there after the rule's delay. The reconciliation needs ``card:read`` and shows the caller's stations only;
card numbers are masked without ``pii:read``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from business_services.ic_cards import views
from business_services.ic_cards.head_office import AuthoriseLoad, ConfirmLoad, ReverseLoad
from business_services.ic_cards.model import IcCardError, Psam, mask_card
from business_services.unit_of_work import UnitOfWork
from control_api.deps import Db
from control_api.idempotency import IdempotencyKey, once
from control_api.security import Principal, require

router = APIRouter(prefix="/api/v1/ic-cards", tags=["ic-cards"])

Station = Annotated[Principal, Depends(require("payment:online"))]
Reader = Annotated[Principal, Depends(require("card:read"))]
CARD = r"^[0-9]{16}([0-9]{3})?$"
CardNoPath = Annotated[str, Path(pattern=CARD, description="卡号 card number (16 or 19 digits)")]
LoadNo = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{6,64}$", description="圈存号 load number")]


class LoadBody(BaseModel):
    load_no: LoadNo
    station: Annotated[str, Field(min_length=1, max_length=32)]
    counter: Annotated[int, Field(ge=1, le=65535, description="the chip's counter now + 1")]
    amount_fen: Annotated[int, Field(gt=0, le=10_000_000)]


class TacBody(BaseModel):
    tac: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{8}$")]


class LoadAnswer(BaseModel):
    load_no: str
    card_no: str
    station: str
    counter: int
    amount_fen: int
    at: datetime
    state: str
    mac: str | None = None


def _psam(request: Request) -> Psam:
    psam: Psam | None = getattr(request.app.state, "ic_psam", None)
    if psam is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            "IC 卡发卡密钥未配置 (the IC issuer key is not set up at head office)")
    return psam


async def _run(request: Request, db: Db, who: Principal, command: Any) -> LoadAnswer:
    try:
        async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
            answer: dict[str, Any] = await request.app.state.bus.handle(command, uow)
    except IcCardError as exc:
        raise HTTPException(exc.status, exc.message) from exc
    return LoadAnswer(**answer)


@router.get("/{card_no}/grey/{counter}")
async def grey_record(card_no: CardNoPath, counter: Annotated[int, Path(ge=1, le=65535)], db: Db,
                      who: Station) -> dict[str, Any]:
    """The grey list's record of one lock (card, counter), or 404."""
    async with db.connection() as conn:
        record = await views.grey_record(conn, card_no, counter)
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "总部没有此灰记录 (head office holds no such grey record)")
    return record


@router.post("/{card_no}/loads")
async def authorise_load(card_no: CardNoPath, body: LoadBody, request: Request, db: Db, who: Station,
                         key: IdempotencyKey) -> JSONResponse:
    """Move ``amount_fen`` from the card's reserve account to its purse and answer the chip's load MAC."""
    who.check_station(body.station)
    command = AuthoriseLoad(body.load_no, card_no, body.station, body.counter, body.amount_fen, who.actor.name,
                            _psam(request))
    return await once(request, db, who, key, lambda: _run(request, db, who, command))


@router.post("/loads/{load_no}/confirm")
async def confirm_load(load_no: Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{6,64}$")], body: TacBody,
                       request: Request, db: Db, who: Station, key: IdempotencyKey) -> JSONResponse:
    """The chip was written: its TAC, checked against the load."""
    command = ConfirmLoad(load_no, body.tac, _psam(request))
    return await once(request, db, who, key, lambda: _run(request, db, who, command))


@router.post("/loads/{load_no}/reverse")
async def reverse_load(load_no: Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{6,64}$")], request: Request, db: Db,
                       who: Station, key: IdempotencyKey) -> JSONResponse:
    """The chip was not written: back to the reserve account."""
    return await once(request, db, who, key, lambda: _run(request, db, who, ReverseLoad(load_no)))


@router.get("/reconciliation")
async def reconciliation(db: Db, who: Reader,
                         differences_only: Annotated[bool, Query(description="只看有差额的卡")] = False
                         ) -> dict[str, Any]:
    """Each card's chip purse as last read beside its purse mirror account, and the difference."""
    async with db.connection() as conn:
        rows = await views.reconciliation(conn, who.stations, differences_only)
    if not who.may("pii:read"):
        rows = [{**row, "card_no": mask_card(row["card_no"])} for row in rows]
    return {"items": rows}
