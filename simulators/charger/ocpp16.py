"""OCPP 1.6J charge-point dialect: message builders, CSMS-call handlers and transactionId mapping.

The CSMS assigns 1.6 transaction ids in the StartTransaction answer, so queued MeterValues and
StopTransaction refer to the charger's local transaction number and pick the CSMS id up when they
are built, just before sending. Sampled values are strings (1.6 schema).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action

from simulators.charger.config import ChargerConfig
from simulators.charger.dialect import (
    AnswerHooks,
    BootOutcome,
    BootReason,
    ChargerControl,
    Outgoing,
    after,
    iso,
    on,
)
from simulators.charger.events import (
    ChargerEvent,
    ConnectorStatus,
    ErrorCode,
    MeterReading,
    MeterSampled,
    StartTrigger,
    StatusChanged,
    StopReason,
    TransactionStarted,
    TransactionStopped,
)
from simulators.charger.model import ChargerError
from simulators.charger.settings import SPECS, find_spec

LOG = logging.getLogger(__name__)

STOP_REASONS: dict[StopReason, str] = {
    StopReason.EV_DISCONNECTED: "EVDisconnected",
    StopReason.EV_FULL: "Other",
    StopReason.LOCAL: "Local",
    StopReason.REMOTE: "Remote",
    StopReason.DEAUTHORIZED: "DeAuthorized",
    StopReason.FAULT: "Other",
    StopReason.POWER_LOSS: "PowerLoss",
    StopReason.HARD_RESET: "HardReset",
    StopReason.SOFT_RESET: "SoftReset",
}


def sampled_values(reading: MeterReading, context: str, *, ac: bool) -> list[dict[str, str]]:
    """1.6 sampledValue list (snake_case keys, string values) for one meter reading.

    Periodic samples carry energy, power, current, voltage (+ SoC on DC); the Transaction.Begin /
    Transaction.End readings only the energy register (+ SoC).
    """
    values = [{"measurand": "Energy.Active.Import.Register", "unit": "Wh", "value": str(reading.energy_wh)}]
    if not context.startswith("Transaction."):
        values += [
            {"measurand": "Power.Active.Import", "unit": "kW", "value": f"{reading.power_kw:.2f}"},
            {"measurand": "Current.Import", "unit": "A", "value": f"{reading.current_a:.1f}"},
            {"measurand": "Voltage", "unit": "V", "value": f"{reading.voltage_v:.1f}"},
        ]
        if ac:
            values[2]["phase"] = "L1"
            values[3]["phase"] = "L1-N"
    for value in values:
        value.update(context=context, format="Raw", location="Outlet")
    if reading.soc_pct is not None:
        soc = {"measurand": "SoC", "unit": "Percent", "value": f"{reading.soc_pct:.0f}", "location": "EV"}
        values.append({**soc, "context": context, "format": "Raw"})
    return values


def meter_value(reading: MeterReading, context: str, *, ac: bool) -> dict[str, Any]:
    return {"timestamp": iso(reading.timestamp), "sampled_value": sampled_values(reading, context, ac=ac)}


def status_notification(
    connector_id: int,
    status: ConnectorStatus,
    error: ErrorCode,
    *,
    timestamp: datetime | None = None,
    info: str | None = None,
) -> call.StatusNotification:
    return call.StatusNotification(
        connector_id=connector_id,
        error_code=error.value,
        status=status.value,
        timestamp=iso(timestamp) if timestamp is not None else None,
        info=info[:50] if info else None,
    )


def _const(request: Any) -> Callable[[], Any]:
    return lambda: request


class Ocpp16Dialect:
    """OCPP 1.6J as spoken by the simulated charge point."""

    subprotocol = "ocpp1.6"

    def __init__(self, config: ChargerConfig, control: ChargerControl) -> None:
        self._config = config
        self._control = control
        self._ac = config.profile == "ac7"
        #: local transaction number -> transactionId assigned by the CSMS
        self.transaction_ids: dict[int, int] = {}

    def charge_point(self, connection: Any) -> ChargePoint16:
        return ChargePoint16(self, connection)

    async def boot(self, cp: Any, reason: BootReason) -> BootOutcome:
        cfg = self._config
        request = call.BootNotification(
            charge_point_model=cfg.model_name,
            charge_point_vendor=cfg.vendor,
            charge_point_serial_number=cfg.serial_number,
            firmware_version=cfg.firmware_version,
            meter_type=f"{cfg.model_name} meter",
        )
        result = await cp.call(request, suppress=False)
        return BootOutcome(result.status == "Accepted", int(result.interval))

    async def heartbeat(self, cp: Any) -> None:
        await cp.call(call.Heartbeat(), suppress=False)

    def authorize_request(self, id_tag: str) -> call.Authorize:
        return call.Authorize(id_tag=id_tag)

    def authorize_accepted(self, result: Any) -> bool:
        return bool(result.id_tag_info.get("status") == "Accepted")

    def boot_statuses(self) -> list[Outgoing]:
        model = self._control.model
        main = status_notification(0, ConnectorStatus.AVAILABLE, ErrorCode.NO_ERROR, timestamp=model.now)
        messages = [Outgoing("StatusNotification", _const(main))]
        for c in model.connectors.values():
            msg = status_notification(
                c.connector_id, c.status, c.reported_error, timestamp=model.now, info=c.fault_info
            )
            messages.append(Outgoing("StatusNotification", _const(msg), status_key=c.connector_id))
        return messages

    def messages_for(self, event: ChargerEvent) -> list[Outgoing]:
        if isinstance(event, StatusChanged):
            msg = status_notification(
                event.connector_id, event.status, event.error_code, timestamp=event.timestamp, info=event.info
            )
            return [Outgoing("StatusNotification", lambda: msg, status_key=event.connector_id)]
        if isinstance(event, TransactionStarted):
            return [self._start_transaction(event)]
        if isinstance(event, MeterSampled):
            return [self._meter_values(event)]
        return [self._stop_transaction(event)]

    def _start_transaction(self, event: TransactionStarted) -> Outgoing:
        request = call.StartTransaction(
            connector_id=event.connector_id,
            id_tag=event.id_tag,
            meter_start=event.reading.energy_wh,
            timestamp=iso(event.reading.timestamp),
        )

        def accepted(result: Any) -> None:
            self.transaction_ids[event.transaction] = int(result.transaction_id)
            if result.id_tag_info.get("status") != "Accepted":
                LOG.info("CSMS refused id tag %s of transaction %s", event.id_tag, result.transaction_id)
                self._control.mutate(lambda m: m.deauthorize(event.transaction))

        return Outgoing("StartTransaction", lambda: request, on_result=accepted, transactional=True)

    def _meter_values(self, event: MeterSampled) -> Outgoing:
        def build() -> call.MeterValues:
            return call.MeterValues(
                connector_id=event.connector_id,
                meter_value=[meter_value(event.reading, "Sample.Periodic", ac=self._ac)],
                transaction_id=self.transaction_ids.get(event.transaction),
            )

        return Outgoing("MeterValues", build, transactional=True)

    def _stop_transaction(self, event: TransactionStopped) -> Outgoing:
        def build() -> call.StopTransaction | None:
            transaction_id = self.transaction_ids.get(event.transaction)
            if transaction_id is None:
                LOG.warning("dropping StopTransaction of local transaction %s: no CSMS id", event.transaction)
                return None
            return call.StopTransaction(
                meter_stop=event.reading.energy_wh,
                timestamp=iso(event.reading.timestamp),
                transaction_id=transaction_id,
                reason=STOP_REASONS[event.reason],
                id_tag=event.id_tag if event.reason is StopReason.LOCAL else None,
                transaction_data=[meter_value(event.reading, "Transaction.End", ac=self._ac)],
            )

        def stopped(result: Any) -> None:
            self.transaction_ids.pop(event.transaction, None)

        return Outgoing("StopTransaction", build, on_result=stopped, transactional=True)

    def local_transaction(self, transaction_id: int) -> int | None:
        for local, csms_id in self.transaction_ids.items():
            if csms_id == transaction_id:
                return local
        return None


class ChargePoint16(AnswerHooks, ChargePoint):  # type: ignore[misc]
    """The ``ocpp`` 1.6 ChargePoint with the handlers of CSMS-initiated calls."""

    def __init__(self, dialect: Ocpp16Dialect, connection: Any) -> None:
        cfg = dialect._config
        super().__init__(cfg.charge_point_id, connection, response_timeout=cfg.response_timeout_s)
        self._dialect = dialect
        self._control = dialect._control
        self._remote_start_connector: int | None = None

    @on(Action.remote_start_transaction)
    def on_remote_start_transaction(self, id_tag: str, connector_id: int | None = None, **_: Any) -> Any:
        model = self._control.model
        target = connector_id if connector_id is not None else model.free_connector()
        ok = target is not None and target in model.connectors and model.can_authorize(target)
        self._remote_start_connector = target if ok else None
        return call_result.RemoteStartTransaction(status="Accepted" if ok else "Rejected")

    @after(Action.remote_start_transaction)
    def after_remote_start_transaction(self, id_tag: str, **_: Any) -> None:
        target, self._remote_start_connector = self._remote_start_connector, None
        if target is None:
            return
        try:
            self._control.mutate(lambda m: m.authorize(target, id_tag, trigger=StartTrigger.REMOTE_START))
        except ChargerError as exc:
            LOG.warning("accepted remote start could not be carried out: %s", exc)

    @on(Action.remote_stop_transaction)
    def on_remote_stop_transaction(self, transaction_id: int, **_: Any) -> Any:
        local = self._dialect.local_transaction(transaction_id)
        found = local is not None and self._control.model.find_transaction(local_id=local) is not None
        return call_result.RemoteStopTransaction(status="Accepted" if found else "Rejected")

    @after(Action.remote_stop_transaction)
    def after_remote_stop_transaction(self, transaction_id: int, **_: Any) -> None:
        local = self._dialect.local_transaction(transaction_id)
        connector = self._control.model.find_transaction(local_id=local) if local is not None else None
        if connector is not None:
            cid = connector.connector_id
            self._control.mutate(lambda m: m.stop_transaction(cid, StopReason.REMOTE))

    @on(Action.change_configuration)
    def on_change_configuration(self, key: str, value: str, **_: Any) -> Any:
        return call_result.ChangeConfiguration(status=self._control.settings.write(key, value).value)

    @on(Action.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None, **_: Any) -> Any:
        settings = self._control.settings
        wanted = [find_spec(k) for k in key] if key else list(SPECS)
        known = [spec for spec in wanted if spec is not None]
        unknown = [k for k in (key or []) if find_spec(k) is None]
        return call_result.GetConfiguration(
            configuration_key=[{"key": s.key, "readonly": s.readonly, "value": settings.text(s.key)} for s in known],
            unknown_key=unknown or None,
        )

    @on(Action.reset)
    def on_reset(self, type: str, **_: Any) -> Any:
        return call_result.Reset(status="Accepted")

    @after(Action.reset)
    def after_reset(self, type: str, **_: Any) -> None:
        self._control.request_reset(hard=type == "Hard", when_idle=False)
