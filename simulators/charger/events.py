"""What a charger can be and what happens to it: statuses, error codes, meter readings and events.

Statuses and error codes use the OCPP 1.6 names (``ChargePointStatus``, ``ChargePointErrorCode``);
the OCPP 2.0.1 dialect maps them to connector statuses. Events are past-tense and frozen: the
model emits them, a dialect turns each into zero or more OCPP messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ConnectorStatus(StrEnum):
    """OCPP 1.6 ChargePointStatus of one connector."""

    AVAILABLE = "Available"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EVSE = "SuspendedEVSE"
    SUSPENDED_EV = "SuspendedEV"
    FINISHING = "Finishing"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"


class ErrorCode(StrEnum):
    """OCPP 1.6 ChargePointErrorCode."""

    CONNECTOR_LOCK_FAILURE = "ConnectorLockFailure"
    EV_COMMUNICATION_ERROR = "EVCommunicationError"
    GROUND_FAILURE = "GroundFailure"
    HIGH_TEMPERATURE = "HighTemperature"
    INTERNAL_ERROR = "InternalError"
    LOCAL_LIST_CONFLICT = "LocalListConflict"
    NO_ERROR = "NoError"
    OTHER_ERROR = "OtherError"
    OVER_CURRENT_FAILURE = "OverCurrentFailure"
    OVER_VOLTAGE = "OverVoltage"
    POWER_METER_FAILURE = "PowerMeterFailure"
    POWER_SWITCH_FAILURE = "PowerSwitchFailure"
    READER_FAILURE = "ReaderFailure"
    RESET_FAILURE = "ResetFailure"
    UNDER_VOLTAGE = "UnderVoltage"
    WEAK_SIGNAL = "WeakSignal"


class StopReason(StrEnum):
    """Why a transaction ended (domain terms; each dialect maps them to its reason codes)."""

    EV_DISCONNECTED = "EVDisconnected"
    EV_FULL = "EVFull"
    LOCAL = "Local"
    REMOTE = "Remote"
    DEAUTHORIZED = "DeAuthorized"
    FAULT = "Fault"
    POWER_LOSS = "PowerLoss"
    HARD_RESET = "HardReset"
    SOFT_RESET = "SoftReset"


class StartTrigger(StrEnum):
    """What completed the conditions for a transaction (authorised + EV plugged in)."""

    AUTHORIZED = "Authorized"
    CABLE_PLUGGED_IN = "CablePluggedIn"
    REMOTE_START = "RemoteStart"


@dataclass(frozen=True)
class MeterReading:
    """One sample of a connector's meter. ``soc_pct`` only on DC (the EV's BMS reports it)."""

    timestamp: datetime
    energy_wh: int
    power_kw: float
    current_a: float
    voltage_v: float
    soc_pct: float | None


@dataclass(frozen=True)
class StatusChanged:
    connector_id: int
    status: ConnectorStatus
    error_code: ErrorCode
    timestamp: datetime
    info: str | None = None
    #: local id of the transaction running on the connector, if any
    transaction: int | None = None


@dataclass(frozen=True)
class TransactionStarted:
    connector_id: int
    transaction: int
    transaction_ref: str
    id_tag: str
    trigger: StartTrigger
    remote_start_id: int | None
    reading: MeterReading


@dataclass(frozen=True)
class MeterSampled:
    connector_id: int
    transaction: int
    transaction_ref: str
    reading: MeterReading


@dataclass(frozen=True)
class TransactionStopped:
    connector_id: int
    transaction: int
    transaction_ref: str
    id_tag: str
    reason: StopReason
    reading: MeterReading
    meter_start_wh: int
    charging_s: float
    #: the EV is still plugged in after the stop (connector goes to Finishing)
    ev_connected: bool
    error_code: ErrorCode = ErrorCode.NO_ERROR


ChargerEvent = StatusChanged | TransactionStarted | MeterSampled | TransactionStopped
