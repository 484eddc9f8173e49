"""Fleet fuelling at the station server (docs/fleets.md "At the station", docs/pos.md 车队加油 F7).

- ``POST …/fleet-authorisations`` {card_no | plate, pin?, nozzle, wanted_fen?}: may this fleet card fuel at this
  nozzle, and how much? Asked of head office while it answers, else decided here from the member list; an
  allowed preset is sent to the pump (``command.authorize_nozzle`` by amount, through the edge) before the answer.
  A refusal is an answer (200, ``state: refused`` with the reason), not an error: the POS shows it.
- ``GET …/fleet-authorisations?state=``: the station's newest authorisations (the POS offers 车队挂账 on the
  order of an open one's nozzle).
- ``POST …/fleet-authorisations/{auth_no}/release``: the fuelling never started (the cashier cancels): the pump's
  authorisation is taken back (``command.stop_fuelling``) and the reservation released.

Permission ``payment:take`` and the station in the caller's scope; POSTs take an Idempotency-Key; card numbers
and plates are masked without ``pii:read``. A station server's routes only (``ROLE_ROUTERS``).
"""

from __future__ import annotations

import logging
from typing import Annotated, Literal, cast

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from business_services.audit.model import AuditEntry
from business_services.payments.registry import head_office_link
from business_services.station_fleets import repository, service
from business_services.station_fleets.model import Authorisation, FleetRuleError
from business_services.station_members.model import mask_card, mask_plate
from business_services.unit_of_work import UnitOfWork
from control_api.deps import Db, Station
from control_api.idempotency import IdempotencyKey, once
from control_api.routes.commands import publish
from control_api.routes.payments import providers_of
from control_api.security import Principal, at_station
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.commands import AUTHORIZE_NOZZLE, STOP_FUELLING, AuthorizeNozzle, StopFuelling
from telemetry.contracts.events import CloudEvent

router = APIRouter(prefix="/api/v1/stations/{station}/fleet-authorisations", tags=["station-fleets"])
log = logging.getLogger(__name__)

Taker = Annotated[Principal, Depends(at_station("payment:take"))]
AuthNoPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{5,63}$", description="授权号 auth number")]
NO_BROKER = "本站服务器未连接 MQTT 代理，不能授权加油机 (the station server has no broker to reach the pumps)"


class AskBody(BaseModel):
    nozzle: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}/[1-4]/[1-4]$",
                                 description="油枪 加油机/加油点/枪号，如 disp-01/1/1")]
    card_no: Annotated[str | None, Field(pattern=r"^[0-9]{16}([0-9]{3})?$", description="车队卡号")] = None
    plate: Annotated[str | None, Field(pattern=r"^[\u4e00-\u9fa5][A-Z][A-Z0-9]{5,6}$", description="车牌")] = None
    pin: Annotated[str | None, Field(pattern=r"^[0-9]{4,6}$", description="卡密码")] = None
    wanted_fen: Annotated[int | None, Field(gt=0, le=10_000_000, description="想加的金额（分）")] = None


class AuthorisationOut(BaseModel):
    auth_no: str
    state: str
    allowed: bool
    preset_fen: int
    code: str
    reason: str
    offline: bool
    card_no: str | None       # the whole number only with pii:read (the POS pays with auth_no and card_no)
    card_masked: str | None
    plate: str | None
    enterprise: str | None
    nozzle: str
    grade: int
    fen_per_l: int
    payment_no: str | None
    captured_fen: int | None
    order_no: str | None = None   # the payable order its fuelling made (an open authorisation's)


class AuthorisationList(BaseModel):
    items: list[AuthorisationOut]
    next_cursor: None = None
    total: int


def _out(a: Authorisation, who: Principal, order_no: str | None = None) -> AuthorisationOut:
    pii = who.may("pii:read")
    return AuthorisationOut(
        auth_no=a.auth_no, state=a.state, allowed=a.state in ("reserved", "captured"), preset_fen=a.preset_fen,
        code=a.code, reason=a.reason, offline=a.offline, card_no=a.card_no,
        card_masked=a.card_no and mask_card(a.card_no),
        plate=a.plate if pii or not a.plate else mask_plate(a.plate), enterprise=a.enterprise, nozzle=a.nozzle_key,
        grade=a.grade, fen_per_l=a.fen_per_l, payment_no=a.payment_no, captured_fen=a.captured_fen, order_no=order_no)


async def _command(request: Request, station: str, type_: str, data: dict[str, object]) -> str | None:
    """Send one command to the station's edge node: None when the pump accepted it, else why not."""
    broker = cast(BrokerAddress | None, request.app.state.broker)
    if broker is None:
        return NO_BROKER
    answer = await publish(broker, cast(str, request.app.state.group), station,
                           CloudEvent(source="forecourt/control-api", type=type_, data=data))
    if answer is None:
        return "加油机未应答 (no answer from the pump)"
    return None if answer.result == "accepted" else f"{answer.result} {answer.detail}".strip()


def _pump(request: Request, station: str) -> service.Pump:
    async def authorise(device: str, fuelling_point: int, nozzle: int, preset_fen: int) -> str | None:
        return await _command(request, station, AUTHORIZE_NOZZLE, AuthorizeNozzle(
            device=device, fuelling_point=fuelling_point, nozzle=nozzle, preset_type="amount",
            preset_value=preset_fen).model_dump())
    return authorise


def _stop(request: Request, station: str) -> service.StopPump:
    async def stop(device: str, fuelling_point: int) -> str | None:
        return await _command(request, station, STOP_FUELLING,
                              StopFuelling(device=device, fuelling_point=fuelling_point).model_dump())
    return stop


@router.post("", response_model=AuthorisationOut)
async def ask(station: Station, body: AskBody, who: Taker, db: Db, key: IdempotencyKey,
              request: Request) -> JSONResponse:
    """Ask for a preset and authorise the pump with it; a refusal says why (state ``refused``)."""
    async def work() -> AuthorisationOut:
        async with db.autocommit() as conn:
            try:
                decided = await service.authorise(conn, head_office_link(providers_of(request)),
                                                  _pump(request, station), service.FleetRequest(
                                                      station, body.nozzle, body.card_no, body.plate, body.pin,
                                                      body.wanted_fen))
            except FleetRuleError as exc:
                raise HTTPException(exc.status, exc.message) from None
            async with UnitOfWork(conn, who.actor) as uow:
                await uow.audit(AuditEntry("fleet.authorise", decided.auth_no, station, after={
                    "state": decided.state, "preset_fen": decided.preset_fen, "code": decided.code,
                    "offline": decided.offline, "nozzle": decided.nozzle_key,
                    "card": decided.card_no and mask_card(decided.card_no)}))
        log.info("fleet authorisation %s at %s: %s %s fen", decided.auth_no, decided.nozzle_key, decided.state,
                 decided.preset_fen)
        return _out(decided, who)
    return await once(request, db, who, key, work)


@router.get("", response_model=AuthorisationList)
async def listed(station: Station, who: Taker, db: Db,
                 state: Annotated[Literal["asked", "reserved", "refused", "captured", "released"] | None,
                                  Query(description="只看此状态")] = None,
                 limit: Annotated[int, Query(ge=1, le=200)] = 50) -> AuthorisationList:
    async with db.connection() as conn:
        items = [_out(a, who, order_no) for a, order_no in await repository.listed(conn, station, state, limit)]
    return AuthorisationList(items=items, total=len(items))


@router.post("/{auth_no}/release", response_model=AuthorisationOut)
async def release(station: Station, auth_no: AuthNoPath, who: Taker, db: Db, key: IdempotencyKey,
                  request: Request) -> JSONResponse:
    """The fuelling never started: give the reservation back (here and at head office)."""
    async def work() -> AuthorisationOut:
        async with db.autocommit() as conn:
            found = await repository.get(conn, auth_no)
            if found is None or found.station != station:
                raise HTTPException(404, f"本站没有授权 {auth_no} (no such authorisation)")
            if not await service.release(conn, head_office_link(providers_of(request)), auth_no,
                                         _stop(request, station)) \
                    and found.state not in ("released",):
                raise HTTPException(409, f"授权 {auth_no} 已{_STATES.get(found.state, found.state)}，不能取消 "
                                         f"(the authorisation is {found.state})")
            async with UnitOfWork(conn, who.actor) as uow:
                await uow.audit(AuditEntry("fleet.release", auth_no, station, before={"state": found.state},
                                           after={"state": "released"}))
            after = await repository.get(conn, auth_no)
        return _out(after or found, who)
    return await once(request, db, who, key, work)


_STATES = {"captured": "付款", "refused": "拒绝", "released": "取消"}
