"""OCPP 2.0.1 charging-station dialect: TransactionEvent, connector statuses, device-model variables.

Each connector is its own EVSE (``evseId`` = connector id, ``connectorId`` 1). The charger owns
the transactionId (a UUID from the seeded generator); ``seqNo`` counts the TransactionEvents of a
transaction from 0 and is fixed when an event is queued, so replayed events keep their order.
Connector faults are reported as status Faulted plus a NotifyEvent (EVSE / Problem, techCode =
the 1.6 error code). Sampled values are numbers (2.0.1 schema).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action

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
from simulators.charger.ocpp201_variables import get_variables, set_variables

LOG = logging.getLogger(__name__)

CONNECTOR_STATUS: dict[ConnectorStatus, str] = {
    ConnectorStatus.AVAILABLE: "Available",
    ConnectorStatus.PREPARING: "Occupied",
    ConnectorStatus.CHARGING: "Occupied",
    ConnectorStatus.SUSPENDED_EVSE: "Occupied",
    ConnectorStatus.SUSPENDED_EV: "Occupied",
    ConnectorStatus.FINISHING: "Occupied",
    ConnectorStatus.RESERVED: "Reserved",
    ConnectorStatus.UNAVAILABLE: "Unavailable",
    ConnectorStatus.FAULTED: "Faulted",
}

CHARGING_STATE: dict[ConnectorStatus, str] = {
    ConnectorStatus.CHARGING: "Charging",
    ConnectorStatus.SUSPENDED_EV: "SuspendedEV",
    ConnectorStatus.SUSPENDED_EVSE: "SuspendedEVSE",
}

#: StopReason -> (triggerReason, stoppedReason)
STOP_REASONS: dict[StopReason, tuple[str, str]] = {
    StopReason.EV_DISCONNECTED: ("EVCommunicationLost", "EVDisconnected"),
    StopReason.EV_FULL: ("ChargingStateChanged", "StoppedByEV"),
    StopReason.LOCAL: ("StopAuthorized", "Local"),
    StopReason.REMOTE: ("RemoteStop", "Remote"),
    StopReason.DEAUTHORIZED: ("Deauthorized", "DeAuthorized"),
    StopReason.FAULT: ("AbnormalCondition", "Other"),
    StopReason.POWER_LOSS: ("AbnormalCondition", "PowerLoss"),
    StopReason.HARD_RESET: ("ResetCommand", "ImmediateReset"),
    StopReason.SOFT_RESET: ("ResetCommand", "ImmediateReset"),
}
FAULT_STOPPED_REASONS: dict[ErrorCode, str] = {
    ErrorCode.GROUND_FAILURE: "GroundFault",
    ErrorCode.OVER_CURRENT_FAILURE: "OvercurrentFault",
}


def sampled_values(reading: MeterReading, context: str, *, ac: bool) -> list[dict[str, Any]]:
    """2.0.1 sampledValue list (snake_case keys, numeric values) for one meter reading.

    Periodic samples carry energy, power, current, voltage (+ SoC on DC); the Transaction.Begin /
    Transaction.End readings only the energy register (+ SoC).
    """

    def value(measurand: str, number: float, unit: str, phase: str | None = None) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "value": number,
            "measurand": measurand,
            "context": context,
            "location": "EV" if measurand == "SoC" else "Outlet",
            "unit_of_measure": {"unit": unit},
        }
        if phase is not None:
            entry["phase"] = phase
        return entry

    values = [value("Energy.Active.Import.Register", float(reading.energy_wh), "Wh")]
    if not context.startswith("Transaction."):
        values += [
            value("Power.Active.Import", round(reading.power_kw, 2), "kW"),
            value("Current.Import", round(reading.current_a, 1), "A", "L1" if ac else None),
            value("Voltage", round(reading.voltage_v, 1), "V", "L1-N" if ac else None),
        ]
    if reading.soc_pct is not None:
        values.append(value("SoC", round(reading.soc_pct, 1), "Percent"))
    return values


def meter_value(reading: MeterReading, context: str, *, ac: bool) -> dict[str, Any]:
    return {"timestamp": iso(reading.timestamp), "sampled_value": sampled_values(reading, context, ac=ac)}


def id_token(id_tag: str, *, remote: bool) -> dict[str, str]:
    return {"id_token": id_tag, "type": "Central" if remote else "ISO14443"}


class Ocpp201Dialect:
    """OCPP 2.0.1 as spoken by the simulated charging station."""

    subprotocol = "ocpp2.0.1"

    def __init__(self, config: ChargerConfig, control: ChargerControl) -> None:
        self._config = config
        self._control = control
        self._ac = config.profile == "ac7"
        self._seq_no: dict[int, int] = {}
        self._refs: dict[int, str] = {}
        self._charging_state: dict[int, str] = {}
        self._reported: dict[int, str] = {}
        self._problem: dict[int, ErrorCode] = {}
        self._event_id = 0

    def charge_point(self, connection: Any) -> ChargePoint201:
        return ChargePoint201(self, connection)

    async def boot(self, cp: Any, reason: BootReason) -> BootOutcome:
        cfg = self._config
        station = {"model": cfg.model_name, "vendor_name": cfg.vendor, "firmware_version": cfg.firmware_version}
        if cfg.serial_number:
            station["serial_number"] = cfg.serial_number
        result = await cp.call(call.BootNotification(charging_station=station, reason=reason.value), suppress=False)
        return BootOutcome(result.status == "Accepted", int(result.interval))

    async def heartbeat(self, cp: Any) -> None:
        await cp.call(call.Heartbeat(), suppress=False)

    def authorize_request(self, id_tag: str) -> call.Authorize:
        return call.Authorize(id_token=id_token(id_tag, remote=False))

    def authorize_accepted(self, result: Any) -> bool:
        return bool(result.id_token_info.get("status") == "Accepted")

    def boot_statuses(self) -> list[Outgoing]:
        model = self._control.model
        messages = []
        for c in model.connectors.values():
            self._reported[c.connector_id] = CONNECTOR_STATUS[c.status]
            messages.append(self._status(c.connector_id, CONNECTOR_STATUS[c.status], iso(model.now)))
        return messages

    def messages_for(self, event: ChargerEvent) -> list[Outgoing]:
        if isinstance(event, StatusChanged):
            return self._status_changed(event)
        if isinstance(event, TransactionStarted):
            self._seq_no[event.transaction] = 0
            self._refs[event.transaction] = event.transaction_ref
            self._charging_state[event.transaction] = "Charging"
            info: dict[str, Any] = {"transaction_id": event.transaction_ref, "charging_state": "Charging"}
            if event.remote_start_id is not None:
                info["remote_start_id"] = event.remote_start_id
            return [
                self._transaction_event(
                    event.transaction,
                    "Started",
                    event.trigger.value,
                    info,
                    event.reading,
                    "Transaction.Begin",
                    evse={"id": event.connector_id, "connector_id": 1},
                    id_token=id_token(event.id_tag, remote=event.remote_start_id is not None),
                    on_result=self._stop_if_refused(event),
                )
            ]
        if isinstance(event, MeterSampled):
            state = self._charging_state.get(event.transaction, "Charging")
            info = {"transaction_id": event.transaction_ref, "charging_state": state}
            return [
                self._transaction_event(
                    event.transaction, "Updated", "MeterValuePeriodic", info, event.reading, "Sample.Periodic"
                )
            ]
        return [self._ended(event)]

    def _status_changed(self, event: StatusChanged) -> list[Outgoing]:
        cid, messages = event.connector_id, []
        status = CONNECTOR_STATUS[event.status]
        if self._reported.get(cid) != status:
            self._reported[cid] = status
            messages.append(self._status(cid, status, iso(event.timestamp)))
        if self._problem.get(cid, ErrorCode.NO_ERROR) != event.error_code:
            previous = self._problem.get(cid, ErrorCode.NO_ERROR)
            self._problem[cid] = event.error_code
            messages.append(self._notify_problem(event, previous))
        state = CHARGING_STATE.get(event.status)
        tx = event.transaction
        if tx is not None and tx in self._refs and state is not None and self._charging_state.get(tx) != state:
            self._charging_state[tx] = state
            info = {"transaction_id": self._refs[tx], "charging_state": state}
            messages.append(self._transaction_event(tx, "Updated", "ChargingStateChanged", info))
        return messages

    def _ended(self, event: TransactionStopped) -> Outgoing:
        trigger, stopped = STOP_REASONS[event.reason]
        if event.reason is StopReason.FAULT:
            stopped = FAULT_STOPPED_REASONS.get(event.error_code, stopped)
        info = {
            "transaction_id": event.transaction_ref,
            "charging_state": "EVConnected" if event.ev_connected else "Idle",
            "stopped_reason": stopped,
            "time_spent_charging": int(event.charging_s),
        }
        message = self._transaction_event(
            event.transaction,
            "Ended",
            trigger,
            info,
            event.reading,
            "Transaction.End",
            id_token=id_token(event.id_tag, remote=False) if event.reason is StopReason.LOCAL else None,
        )
        for per_transaction in (self._seq_no, self._charging_state, self._refs):
            per_transaction.pop(event.transaction, None)
        return message

    def _stop_if_refused(self, event: TransactionStarted) -> Callable[[Any], None]:
        """E05 / StopTxOnInvalidId: a transaction the CSMS refuses the token of (e.g. one started offline) ends."""
        def verdict(result: Any) -> None:
            status = (result.id_token_info or {}).get("status", "Accepted")
            if status != "Accepted":
                LOG.info("CSMS refused id token %s of transaction %s: %s", event.id_tag, event.transaction_ref, status)
                self._control.mutate(lambda m: m.deauthorize(event.transaction))
        return verdict

    def _transaction_event(
        self,
        transaction: int,
        event_type: str,
        trigger: str,
        info: dict[str, Any],
        reading: MeterReading | None = None,
        context: str = "Sample.Periodic",
        on_result: Callable[[Any], None] | None = None,
        **extra: Any,
    ) -> Outgoing:
        seq_no = self._seq_no.get(transaction, 0)
        self._seq_no[transaction] = seq_no + 1
        timestamp = reading.timestamp if reading is not None else self._control.model.now
        request = call.TransactionEvent(
            event_type=event_type,
            timestamp=iso(timestamp),
            trigger_reason=trigger,
            seq_no=seq_no,
            transaction_info=info,
            meter_value=[meter_value(reading, context, ac=self._ac)] if reading is not None else None,
            offline=True if not self._control.online else None,
            **{k: v for k, v in extra.items() if v is not None},
        )
        return Outgoing("TransactionEvent", lambda: request, on_result=on_result, transactional=True)

    def _status(self, connector_id: int, status: str, timestamp: str) -> Outgoing:
        request = call.StatusNotification(
            timestamp=timestamp, connector_status=status, evse_id=connector_id, connector_id=1
        )
        return Outgoing("StatusNotification", lambda: request, status_key=connector_id)

    def _notify_problem(self, event: StatusChanged, previous: ErrorCode) -> Outgoing:
        self._event_id += 1
        cleared = event.error_code is ErrorCode.NO_ERROR
        data = {
            "event_id": self._event_id,
            "timestamp": iso(event.timestamp),
            "trigger": "Delta",
            "actual_value": "false" if cleared else "true",
            "tech_code": (previous if cleared else event.error_code).value,
            "cleared": cleared,
            "event_notification_type": "HardWiredNotification",
            "component": {"name": "EVSE", "evse": {"id": event.connector_id}},
            "variable": {"name": "Problem"},
        }
        if event.info:
            data["tech_info"] = event.info[:500]
        request = call.NotifyEvent(generated_at=iso(event.timestamp), seq_no=0, event_data=[data])
        return Outgoing("NotifyEvent", lambda: request)


class ChargePoint201(AnswerHooks, ChargePoint):  # type: ignore[misc]
    """The ``ocpp`` 2.0.1 ChargePoint with the handlers of CSMS-initiated calls."""

    def __init__(self, dialect: Ocpp201Dialect, connection: Any) -> None:
        cfg = dialect._config
        super().__init__(cfg.charge_point_id, connection, response_timeout=cfg.response_timeout_s)
        self._control = dialect._control
        self._remote_start_connector: int | None = None

    @on(Action.request_start_transaction)
    def on_request_start_transaction(self, remote_start_id: int, evse_id: int | None = None, **_: Any) -> Any:
        model = self._control.model
        target = evse_id if evse_id is not None else model.free_connector()
        ok = target is not None and target in model.connectors and model.can_authorize(target)
        self._remote_start_connector = target if ok else None
        return call_result.RequestStartTransaction(status="Accepted" if ok else "Rejected")

    @after(Action.request_start_transaction)
    def after_request_start_transaction(self, id_token: dict[str, Any], remote_start_id: int, **_: Any) -> None:
        target, self._remote_start_connector = self._remote_start_connector, None
        if target is None:
            return
        tag = str(id_token["id_token"])
        try:
            self._control.mutate(
                lambda m: m.authorize(target, tag, trigger=StartTrigger.REMOTE_START, remote_start_id=remote_start_id)
            )
        except ChargerError as exc:
            LOG.warning("accepted remote start could not be carried out: %s", exc)

    @on(Action.request_stop_transaction)
    def on_request_stop_transaction(self, transaction_id: str, **_: Any) -> Any:
        found = self._control.model.find_transaction(ref=transaction_id) is not None
        return call_result.RequestStopTransaction(status="Accepted" if found else "Rejected")

    @after(Action.request_stop_transaction)
    def after_request_stop_transaction(self, transaction_id: str, **_: Any) -> None:
        connector = self._control.model.find_transaction(ref=transaction_id)
        if connector is not None:
            cid = connector.connector_id
            self._control.mutate(lambda m: m.stop_transaction(cid, StopReason.REMOTE))

    @on(Action.get_variables)
    def on_get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        return call_result.GetVariables(get_variable_result=get_variables(self._control.settings, get_variable_data))

    @on(Action.set_variables)
    def on_set_variables(self, set_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        return call_result.SetVariables(set_variable_result=set_variables(self._control.settings, set_variable_data))

    @on(Action.reset)
    def on_reset(self, type: str, **_: Any) -> Any:
        busy = any(True for _ in self._control.model.transactions())
        return call_result.Reset(status="Scheduled" if type == "OnIdle" and busy else "Accepted")

    @after(Action.reset)
    def after_reset(self, type: str, **_: Any) -> None:
        self._control.request_reset(hard=True, when_idle=type == "OnIdle")
