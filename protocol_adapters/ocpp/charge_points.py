"""One ``ocpp`` ChargePoint per connection, OCPP 1.6 or 2.0.1: payloads in, ``CsmsCore`` calls, answers out.

Handlers are named ``on_<action>`` (a handler named ``start`` would replace ``ChargePoint.start()``
and break the connection). Anything the charger sends that is not OCPP-J is answered with a
CALLERROR instead of being dropped silently as the library does: message id ``-1`` when none can
be read, code ``FormationViolation`` (1.6) or ``RpcFrameworkError`` / ``MessageTypeNotSupported``
(2.0.1). An action we do not handle gets the library's ``NotImplemented`` / ``NotSupported``, a
payload failing its schema the library's schema error, and a failure inside a handler
``InternalError``; in every case the connection stays up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ocpp.exceptions import OCPPError
from ocpp.messages import CallError, unpack
from ocpp.routing import on as _on
from ocpp.v16 import ChargePoint as ChargePoint16Base
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from ocpp.v201 import ChargePoint as ChargePoint201Base
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201
from websockets.exceptions import ConnectionClosed

from protocol_adapters.ocpp.codec import OcppVersion, frame_error_code, message_id
from protocol_adapters.ocpp.core import CsmsCore, iso

log = logging.getLogger(__name__)
_F = TypeVar("_F", bound=Callable[..., Any])


def on(action: str) -> Callable[[_F], _F]:
    """Typed ``ocpp.routing.on``."""
    return cast(Callable[[_F], _F], _on(action))


class _Connection:
    """What both versions share: the core, and CALLERRORs for frames the library would drop."""

    id: str
    version: OcppVersion
    core: CsmsCore
    if TYPE_CHECKING:
        async def _send(self, message: str) -> None: ...

    async def route_message(self, raw_msg: str | bytes) -> None:
        try:
            unpack(raw_msg)
        except OCPPError as exc:
            self.core.stats.bad_frames += 1
            log.warning("%s sent a frame that is not OCPP-J (%s): %.200r", self.id, exc.description, raw_msg)
            error = CallError(message_id(raw_msg), frame_error_code(raw_msg, self.version),
                              "not a valid OCPP-J message", {})
            await self._send(error.to_json())
            return
        try:
            await super().route_message(raw_msg)  # type: ignore[misc]
        except ConnectionClosed:
            raise
        except Exception:   # a library failure outside the handler: answer it, keep the connection
            log.exception("%s: could not handle %.200r", self.id, raw_msg)
            await self._send(CallError(message_id(raw_msg), "InternalError", "could not handle the message",
                                       {}).to_json())


class ChargePoint16(_Connection, ChargePoint16Base):  # type: ignore[misc]
    version = OcppVersion.V16

    def __init__(self, cp_id: str, connection: Any, core: CsmsCore, response_timeout: float) -> None:
        super().__init__(cp_id, connection, response_timeout=response_timeout)
        self.core, self.websocket = core, connection

    @on(Action16.boot_notification)
    def on_boot_notification(self, charge_point_vendor: str, charge_point_model: str, **_: Any) -> Any:
        interval = self.core.boot(self.id, charge_point_vendor, charge_point_model)
        return result16.BootNotification(current_time=iso(self.core.now()), interval=interval, status="Accepted")

    @on(Action16.heartbeat)
    def on_heartbeat(self, **_: Any) -> Any:
        return result16.Heartbeat(current_time=iso(self.core.now()))

    @on(Action16.status_notification)
    def on_status_notification(self, connector_id: int, status: str, error_code: str, **_: Any) -> Any:
        self.core.status_16(self.id, connector_id, status, error_code)
        return result16.StatusNotification()

    @on(Action16.authorize)
    def on_authorize(self, id_tag: str, **_: Any) -> Any:
        return result16.Authorize(id_tag_info={"status": self.core.authorize(self.id, id_tag, self.version)})

    @on(Action16.start_transaction)
    async def on_start_transaction(self, connector_id: int, id_tag: str, meter_start: int, timestamp: str,
                                   **_: Any) -> Any:
        number, status = await self.core.start_16(self.id, connector_id, id_tag, meter_start, timestamp)
        return result16.StartTransaction(transaction_id=number, id_tag_info={"status": status})

    @on(Action16.stop_transaction)
    async def on_stop_transaction(self, transaction_id: int, meter_stop: int, timestamp: str,
                                  reason: str | None = None, id_tag: str | None = None,
                                  transaction_data: list[dict[str, Any]] | None = None, **_: Any) -> Any:
        await self.core.stop_16(self.id, transaction_id, meter_stop, timestamp, reason, transaction_data)
        info = {"status": self.core.auth.answer(id_tag, self.version)} if id_tag else None
        return result16.StopTransaction(id_tag_info=info)

    @on(Action16.meter_values)
    def on_meter_values(self, connector_id: int, meter_value: list[dict[str, Any]],
                        transaction_id: int | None = None, **_: Any) -> Any:
        self.core.meter_values(self.id, connector_id, meter_value, self.version, transaction_id)
        return result16.MeterValues()

    @on(Action16.data_transfer)
    def on_data_transfer(self, vendor_id: str, **_: Any) -> Any:
        return result16.DataTransfer(status="UnknownVendorId")

    @on(Action16.diagnostics_status_notification)
    def on_diagnostics_status_notification(self, **_: Any) -> Any:
        return result16.DiagnosticsStatusNotification()

    @on(Action16.firmware_status_notification)
    def on_firmware_status_notification(self, **_: Any) -> Any:
        return result16.FirmwareStatusNotification()


class ChargePoint201(_Connection, ChargePoint201Base):  # type: ignore[misc]
    version = OcppVersion.V201

    def __init__(self, cp_id: str, connection: Any, core: CsmsCore, response_timeout: float) -> None:
        super().__init__(cp_id, connection, response_timeout=response_timeout)
        self.core, self.websocket = core, connection

    @on(Action201.boot_notification)
    def on_boot_notification(self, charging_station: dict[str, Any], **_: Any) -> Any:
        interval = self.core.boot(self.id, charging_station.get("vendor_name", ""), charging_station.get("model", ""))
        return result201.BootNotification(current_time=iso(self.core.now()), interval=interval, status="Accepted")

    @on(Action201.heartbeat)
    def on_heartbeat(self, **_: Any) -> Any:
        return result201.Heartbeat(current_time=iso(self.core.now()))

    @on(Action201.status_notification)
    def on_status_notification(self, evse_id: int, connector_status: str, **_: Any) -> Any:
        self.core.status_201(self.id, evse_id, connector_status)
        return result201.StatusNotification()

    @on(Action201.authorize)
    def on_authorize(self, id_token: dict[str, Any], **_: Any) -> Any:
        status = self.core.authorize(self.id, str(id_token["id_token"]), self.version)
        return result201.Authorize(id_token_info={"status": status})

    @on(Action201.transaction_event)
    async def on_transaction_event(self, event_type: str, timestamp: str, seq_no: int,
                                   transaction_info: dict[str, Any], meter_value: list[dict[str, Any]] | None = None,
                                   evse: dict[str, Any] | None = None, id_token: dict[str, Any] | None = None,
                                   **_: Any) -> Any:
        status = await self.core.transaction_event(self.id, event_type, timestamp, seq_no, transaction_info,
                                                   meter_value, evse, id_token)
        return result201.TransactionEvent(id_token_info={"status": status} if status else None)

    @on(Action201.meter_values)
    def on_meter_values(self, evse_id: int, meter_value: list[dict[str, Any]], **_: Any) -> Any:
        self.core.meter_values(self.id, evse_id, meter_value, self.version)
        return result201.MeterValues()

    @on(Action201.notify_event)
    def on_notify_event(self, event_data: list[dict[str, Any]], **_: Any) -> Any:
        for event in event_data:
            evse = (event.get("component") or {}).get("evse")
            if evse and (event.get("variable") or {}).get("name") == "Problem":
                raised = event.get("actual_value") == "true"
                self.core.problem_201(self.id, int(evse["id"]), str(event.get("tech_code") or "Problem"), raised)
        return result201.NotifyEvent()

    @on(Action201.data_transfer)
    def on_data_transfer(self, vendor_id: str, **_: Any) -> Any:
        return result201.DataTransfer(status="UnknownVendorId")
