"""The OCPP central system (CSMS) the station's chargers connect to: the one module of the adapter with I/O.

A ``websockets`` server on ``ws://<host>:<port><path>/<charge point id>`` (``wss://`` when given an
``ssl`` context) speaking OCPP-J with subprotocol ``ocpp2.0.1`` or ``ocpp1.6`` (the charger picks; a
charger offering neither is refused at the handshake, HTTP 400). The charge point id is the last
path segment. Security profile 0: an id not in ``charge_points`` (when given) is refused with HTTP
404. Profiles 1 and 2 (``credentials``, see ``security.py``): a charger must send HTTP Basic
credentials with its id as the user and its key as the password; an unknown id, missing or wrong
credentials are refused with HTTP 401, counted (``stats.refused_handshakes``) and logged with the
reason, never the password. Profile 2 is the same over TLS. A charger that connects again replaces
its previous connection (a dead link may take a ping timeout to notice). Websocket pings every
20 s find links that died without a close.

Remote start and stop are async calls returning the charger's answer (``Accepted`` /
``Rejected``); a charger that is not connected, or does not answer in time, raises
``DeviceUnavailable``, a CALLERROR ``DeviceRejected``, an answer failing its schema ``BadFrame``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import ssl
from collections.abc import Callable, Mapping
from http import HTTPStatus
from types import TracebackType
from typing import Any, Self
from urllib.parse import unquote, urlsplit

from ocpp.exceptions import OCPPError, ValidationError
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from protocol_adapters.ocpp.auth import AuthorizationCache
from protocol_adapters.ocpp.charge_points import ChargePoint16, ChargePoint201
from protocol_adapters.ocpp.codec import SUBPROTOCOLS, OcppVersion
from protocol_adapters.ocpp.core import CsmsCore, SessionSink, log_session
from protocol_adapters.ocpp.security import ChargerCredentials
from protocol_adapters.ocpp.state import ChargerStates
from protocol_adapters.readings import BadFrame, DeviceRejected, DeviceUnavailable

log = logging.getLogger(__name__)

Connection = ChargePoint16 | ChargePoint201
#: charger keys checked at the same time (each argon2 check takes 0.1–0.3 s and 64 MiB)
VERIFY_AT_ONCE = 2


class CentralSystem:
    """An OCPP 1.6J / 2.0.1 CSMS; ``async with`` it (or ``start``/``stop``) to listen."""

    def __init__(self, *, host: str = "0.0.0.0", port: int = 9000, path: str = "/ocpp",  # noqa: S104
                 charge_points: Mapping[str, int] | None = None, auth: AuthorizationCache | None = None,
                 heartbeat_interval_s: int = 300, response_timeout_s: float = 30.0, first_transaction_id: int = 1,
                 on_session: SessionSink = log_session, on_change: Callable[[], None] = lambda: None,
                 credentials: ChargerCredentials | None = None, tls: ssl.SSLContext | None = None) -> None:
        self.host, self._port = host, port
        self.credentials = credentials
        self.tls = tls
        self.path = "/" + path.strip("/") if path.strip("/") else ""
        self.expected = dict(charge_points) if charge_points is not None else None
        self.response_timeout_s = response_timeout_s
        self.core = CsmsCore(auth or AuthorizationCache(), expected=self.expected or {},
                             heartbeat_interval_s=heartbeat_interval_s, on_session=on_session, on_change=on_change,
                             first_transaction_id=first_transaction_id)
        self._connections: dict[str, Connection] = {}
        self._server: Server | None = None
        self._remote_start_ids = itertools.count(1)
        self._closing: set[asyncio.Task[None]] = set()
        self._verifying = asyncio.Semaphore(VERIFY_AT_ONCE)

    @property
    def states(self) -> ChargerStates:
        return self.core.states

    @property
    def port(self) -> int:
        """The port listened on (the real one once started with port 0)."""
        if self._server is not None:
            return int(next(iter(self._server.sockets)).getsockname()[1])
        return self._port

    def connected(self, charge_point: str) -> bool:
        return charge_point in self._connections

    # --- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen; raises OSError when the address cannot be bound."""
        self._server = await serve(
            self._handle, self.host, self._port, process_request=self._check_handshake,
            subprotocols=[Subprotocol(name) for name in SUBPROTOCOLS], ssl=self.tls,
            ping_interval=20, ping_timeout=20, close_timeout=2)
        profile = self.credentials.profile.value if self.credentials is not None else 0
        log.info("OCPP central system listening on %s://%s:%d%s/<charge point id> (security profile %d)",
                 "wss" if self.tls is not None else "ws", self.host, self.port, self.path, profile)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._closing):
            task.cancel()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    # --- connections ----------------------------------------------------------------------------------

    def charge_point_id(self, request_path: str) -> str | None:
        """The charge point id in ``<path>/<id>``; None when the path is not of that form."""
        path = urlsplit(request_path).path
        prefix = self.path + "/"
        if not path.startswith(prefix):
            return None
        cp = unquote(path[len(prefix):])
        return cp if cp and "/" not in cp and len(cp) <= 48 else None

    async def _check_handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        """Refuse a handshake to an unknown charge point (404, or 401 with credentials) or with bad credentials."""
        cp = self.charge_point_id(request.path)
        known = cp is not None and (self.expected is None or cp in self.expected)
        if self.credentials is None or not self.credentials.required:
            if known:
                return None
            log.warning("refused a websocket to %s: not a known charge point", request.path)
            return Response(HTTPStatus.NOT_FOUND.value, HTTPStatus.NOT_FOUND.phrase, Headers(),
                            b"not a known charge point\n")
        header = request.headers.get("Authorization")
        reason: str | None = "unknown charge point"
        if known and cp:
            async with self._verifying:   # argon2: 0.1–0.3 s and 64 MiB each, off the loop
                reason = await asyncio.to_thread(self.credentials.check, cp, header)
        if reason is None:
            return None
        self.core.stats.refused_handshakes += 1
        log.warning("refused charge point %.48r from %s at the handshake: %s", cp or request.path,
                    connection.remote_address, reason)
        return Response(HTTPStatus.UNAUTHORIZED.value, HTTPStatus.UNAUTHORIZED.phrase,
                        Headers([("WWW-Authenticate", 'Basic realm="OCPP", charset="UTF-8"')]),
                        b"charge point not authorised\n")

    async def _handle(self, ws: ServerConnection) -> None:
        cp = self.charge_point_id(ws.request.path if ws.request is not None else "")
        version = SUBPROTOCOLS.get(ws.subprotocol or "")
        if cp is None or version is None:
            await ws.close(1002, "OCPP subprotocol required")
            return
        kind = ChargePoint16 if version is OcppVersion.V16 else ChargePoint201
        handler = kind(cp, ws, self.core, self.response_timeout_s)
        old = self._connections.get(cp)
        self._connections[cp] = handler
        if old is not None:
            log.info("charge point %s connected again: closing its previous connection", cp)
            task = asyncio.create_task(old.websocket.close(1000, "replaced by a new connection"))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        self.core.states.connected(cp, version)
        self.core.on_change()
        log.info("charge point %s connected (OCPP %s) from %s", cp, version.value, ws.remote_address)
        try:
            await handler.start()
        except ConnectionClosed as exc:
            log.info("charge point %s disconnected (%s)", cp, exc)
        except Exception:
            log.exception("charge point %s: connection failed", cp)
        finally:
            if self._connections.get(cp) is handler:
                del self._connections[cp]
                self.core.states.disconnected(cp)
                self.core.on_change()

    # --- calls to chargers ----------------------------------------------------------------------------

    def _connection(self, charge_point: str) -> Connection:
        handler = self._connections.get(charge_point)
        if handler is None:
            raise DeviceUnavailable(f"charge point {charge_point} is not connected")
        return handler

    async def _call(self, handler: Connection, payload: Any) -> Any:
        action = type(payload).__name__
        try:
            return await handler.call(payload, suppress=False)
        except (ConnectionClosed, TimeoutError) as exc:
            raise DeviceUnavailable(f"{handler.id}: no answer to {action}: {exc}") from exc
        except OCPPError as exc:
            raise DeviceRejected(f"{handler.id}: {action} refused: {exc.code} {exc.description}") from exc
        except ValidationError as exc:
            raise BadFrame(f"{handler.id}: answer to {action} fails its schema: {exc}") from exc

    async def remote_start(self, charge_point: str, connector: int, id_tag: str) -> str:
        """Ask the charger to start charging on ``connector`` for ``id_tag``; its answer."""
        handler = self._connection(charge_point)
        payload: Any
        if handler.version is OcppVersion.V16:
            payload = call16.RemoteStartTransaction(id_tag=id_tag, connector_id=connector)
        else:
            payload = call201.RequestStartTransaction(id_token={"id_token": id_tag, "type": "Central"},
                                                      remote_start_id=next(self._remote_start_ids), evse_id=connector)
        self.core.allow_remote(charge_point, id_tag)   # the start may arrive before this call returns
        try:
            answer = await self._call(handler, payload)
        except Exception:
            self.core.forget_remote(charge_point, id_tag)
            raise
        status = str(answer.status)
        if status != "Accepted":
            self.core.forget_remote(charge_point, id_tag)
        log.info("remote start at %s/%s for %s: %s", charge_point, connector, id_tag, status)
        return status

    async def remote_stop(self, charge_point: str, transaction_id: str) -> str:
        """Ask the charger to stop ``transaction_id``; its answer."""
        handler = self._connection(charge_point)
        payload: Any
        if handler.version is OcppVersion.V16:
            payload = call16.RemoteStopTransaction(transaction_id=int(transaction_id))
        else:
            payload = call201.RequestStopTransaction(transaction_id=transaction_id)
        status = str((await self._call(handler, payload)).status)
        log.info("remote stop of %s at %s: %s", transaction_id, charge_point, status)
        return status
