"""FastAPI dependencies as Annotated aliases: the database, the live hub, and the checked path identifiers.

Every route takes its station and device codes through ``Station`` and ``Device``, so the one rule in
``telemetry/contracts/identifiers.py`` is applied to every request before anything reaches the
database or the broker: a bad code is answered 422 (a WebSocket is refused with close code 1008).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, cast

from fastapi import Depends, HTTPException, Path, WebSocket, WebSocketException, status
from starlette.requests import HTTPConnection, Request

from control_api.database import Database
from control_api.live import LiveHub
from control_api.metrics import REFUSED
from forecourt.roles import Role
from telemetry.contracts.identifiers import CODE_PATTERN, IdentifierError, check_code

# The dependencies are ``async def`` though they never wait: FastAPI runs a plain ``def`` dependency in a
# worker thread, two thread hand-offs per request for nothing (a measurable share of a payment's CPU).

# the rule shown in the OpenAPI description; checked by _checked_code, so that a bad code gets our message
_DOCUMENTED: dict[str, Any] = {"json_schema_extra": {"pattern": CODE_PATTERN}}


def _checked_code(connection: HTTPConnection, value: str, what: str, label: str) -> str:
    try:
        return check_code(value, what)
    except IdentifierError as exc:
        REFUSED.labels("bad-code").inc()
        message = f"{label}不合规 (bad {what}): {exc}"
        if connection.scope["type"] == "websocket":
            reason = message.encode()[:123].decode(errors="ignore")  # a close reason holds 123 bytes
            raise WebSocketException(status.WS_1008_POLICY_VIOLATION, reason) from exc
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, message) from exc


async def _station(connection: HTTPConnection,
                   station: Annotated[str, Path(description="站点编码 station code, e.g. demo-01",
                                                **_DOCUMENTED)]) -> str:
    return checked_station(connection, station)


def checked_station(connection: HTTPConnection, station: str | None = None) -> str:
    """The station code of the request's path (or ``station``), checked as ``Station`` checks it."""
    return _checked_code(connection, connection.path_params["station"] if station is None else station,
                         "station code", "站点编码")


async def _device(connection: HTTPConnection,
                  device: Annotated[str, Path(description="设备编码 device code, e.g. disp-01", **_DOCUMENTED)]) -> str:
    return _checked_code(connection, device, "device code", "设备编码")


async def _database(connection: HTTPConnection) -> Database:
    return cast(Database, connection.app.state.database)


def ws_hub(websocket: WebSocket) -> LiveHub:
    return cast(LiveHub, websocket.app.state.hub)


Station = Annotated[str, Depends(_station)]
#: The station code of a route gated by ``security.at_station``, which checks the code as ``Station`` does before
#: anything else: the same documented path parameter, without a dependency of its own to solve at every request
#: (the pay endpoint's, docs/payments.md "Performance"). Only with ``at_station``: alone, nothing checks the code.
GatedStation = Annotated[str, Path(description="站点编码 station code, e.g. demo-01", **_DOCUMENTED)]
Device = Annotated[str, Depends(_device)]
Db = Annotated[Database, Depends(_database)]
WsHub = Annotated[LiveHub, Depends(ws_hub)]


RowId = Annotated[int, Path(ge=1, le=2**63 - 1, description="编号 (a row's id: a PostgreSQL bigint)")]


def head_office_only(message: str, status_code: int = status.HTTP_404_NOT_FOUND) -> Callable[[Request], None]:
    """A dependency for what only head office keeps (forecourt/roles.py): on a station server the route answers
    ``status_code`` with ``message``, saying where to go instead."""
    def at_head_office(request: Request) -> None:
        if request.app.state.role is not Role.HEAD_OFFICE:
            raise HTTPException(status_code, message)
    return at_head_office
