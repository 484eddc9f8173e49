"""Commands to a station's equipment (authorise a nozzle, stop, set a price), answered by the edge node.

The API publishes the command on ``forecourt/v1/{group}/{station}/commands/{type}`` (the group is the
company this API serves) and waits for the edge node's acknowledgement on that station's
``command.acknowledged`` events (parsed with ``Acknowledgement``, the model the edge builds): 200 with
the result, or 504 with the command id when the station does not
answer in time (its answer may come later).

Needs ``device:command`` and the station in the caller's scope, and an ``Idempotency-Key``: a retried
request gets the first answer and never sends the command twice (``control_api/idempotency.py``). Each
command is audited (``command.<type>``: who, what, which station) before it is sent.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, cast

import aiomqtt
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from business_services.audit.model import AuditEntry
from business_services.unit_of_work import UnitOfWork
from control_api.deps import Db, Station
from control_api.idempotency import IdempotencyKey, once
from control_api.security import Principal, require
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.commands import ACKNOWLEDGED, COMMANDS, Acknowledgement, command_topic
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.topics import event_topic

router = APIRouter(prefix="/api/v1/stations/{station}/commands", tags=["commands"])

ACK_WAIT_S = 12.0


class CommandRequest(BaseModel):
    type: str
    data: dict[str, Any]


class CommandAnswer(BaseModel):
    command_id: str
    result: str
    detail: str = ""


def _broker(request: Request) -> BrokerAddress:
    broker = request.app.state.broker
    if broker is None:
        raise HTTPException(503, "此 API 未连接 MQTT 代理 (the API was started without a broker)")
    return cast(BrokerAddress, broker)


@router.post("", response_model=CommandAnswer)
async def send(who: Annotated[Principal, Depends(require("device:command"))], station: Station,
               body: CommandRequest, db: Db, key: IdempotencyKey, request: Request) -> JSONResponse:
    who.check_station(station)
    _check(body)         # a wrong request is refused here, before it reaches the station
    broker, group = _broker(request), cast(str, request.app.state.group)
    return await once(request, db, who, key, lambda: _send(station, body, broker, group, db, who))


def _check(body: CommandRequest) -> None:
    model = COMMANDS.get(body.type)
    if model is None:
        raise HTTPException(422, f"未知命令 (unknown command) {body.type[:64]!r}; expected one of {sorted(COMMANDS)}")
    try:
        model.model_validate(body.data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise HTTPException(422, f"命令参数错误 (bad command): {problems}") from exc


PERSONAL = frozenset({"id_tags", "id_tag"})   # card numbers: the audit records how many, not which


def _auditable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: (f"<{len(v) if isinstance(v, list | dict) else 1} masked>" if k in PERSONAL else v)
            for k, v in data.items()}


async def _send(station: str, body: CommandRequest, broker: BrokerAddress, group: str, db: Db,
                who: Principal) -> CommandAnswer:
    command = CloudEvent(source="forecourt/control-api", type=body.type, data=body.data)
    async with db.connection() as conn, UnitOfWork(conn, who.actor) as uow:
        action = body.type if body.type.startswith("command.") else f"command.{body.type}"
        await uow.audit(AuditEntry(action, f"{station}/{body.data.get('device', '')}", station,
                                   after={"command_id": command.id, "data": _auditable(body.data)}))
    answer = await publish(broker, group, station, command)
    if answer is None:
        raise HTTPException(504, f"站点未在 {ACK_WAIT_S:.0f} 秒内应答 (no answer from the station); "
                                 f"command {command.id}")
    return answer


async def publish(broker: BrokerAddress, group: str, station: str, command: CloudEvent) -> CommandAnswer | None:
    """Send ``command`` to the station's edge node and wait for its acknowledgement (None: none in time)."""
    async with aiomqtt.Client(**broker.client_kwargs()) as client:
        await client.subscribe(event_topic(group, station, ACKNOWLEDGED), qos=1)
        await client.publish(command_topic(group, station, command.type), command.to_bytes(), qos=1)
        try:
            async with asyncio.timeout(ACK_WAIT_S):
                async for message in client.messages:
                    if not isinstance(message.payload, bytes):
                        continue
                    try:
                        ack = Acknowledgement.from_event(CloudEvent.from_bytes(message.payload))
                    except ValueError:      # not an acknowledgement this API can read: not the answer
                        continue
                    if ack.command_id == command.id:
                        return CommandAnswer(command_id=command.id, result=ack.result, detail=ack.detail)
        except TimeoutError:
            pass
    return None
