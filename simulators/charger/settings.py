"""Runtime configuration a CSMS can read and change: OCPP 1.6 keys and their OCPP 2.0.1 variables.

One frozen ``SettingSpec`` line per setting: its 1.6 configuration key (the canonical name), the
2.0.1 component/variable it is known as, whether it is read-only and how its value is typed.
Adding a setting is adding a line; ``ChargerSettings`` validates writes and notifies a listener.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from simulators.charger.config import ChargerConfig

SettingType = Literal["int", "bool", "csl"]


@dataclass(frozen=True)
class SettingSpec:
    key: str
    component: str | None  # None: not exposed in OCPP 2.0.1
    variable: str | None
    kind: SettingType
    readonly: bool = False
    minimum: int = 0
    maximum: int = 86400


SPECS: tuple[SettingSpec, ...] = (
    SettingSpec("HeartbeatInterval", "OCPPCommCtrlr", "HeartbeatInterval", "int"),
    SettingSpec("MeterValueSampleInterval", "SampledDataCtrlr", "TxUpdatedInterval", "int", maximum=3600),
    SettingSpec("ConnectionTimeOut", "TxCtrlr", "EVConnectionTimeOut", "int", minimum=1, maximum=3600),
    SettingSpec("MeterValuesSampledData", "SampledDataCtrlr", "TxUpdatedMeasurands", "csl", readonly=True),
    SettingSpec("NumberOfConnectors", None, None, "int", readonly=True),
    SettingSpec("LocalAuthorizeOffline", "AuthCtrlr", "LocalAuthorizeOffline", "bool"),
    SettingSpec("AllowOfflineTxForUnknownId", "AuthCtrlr", "OfflineTxForUnknownIdEnabled", "bool"),
    SettingSpec("AuthorizeRemoteTxRequests", "AuthCtrlr", "AuthorizeRemoteStart", "bool", readonly=True),
    SettingSpec("TransactionMessageAttempts", "OCPPCommCtrlr", "MessageAttempts", "int", minimum=1, maximum=10),
)

_BY_KEY = {s.key.lower(): s for s in SPECS}
_BY_VARIABLE = {(s.component.lower(), s.variable.lower()): s for s in SPECS if s.component and s.variable}


class SetResult(StrEnum):
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    NOT_SUPPORTED = "NotSupported"


def find_spec(key: str) -> SettingSpec | None:
    """Spec of a 1.6 configuration key (case-insensitive)."""
    return _BY_KEY.get(key.lower())


def find_variable(component: str, variable: str) -> SettingSpec | None:
    """Spec of a 2.0.1 component/variable pair (case-insensitive)."""
    return _BY_VARIABLE.get((component.lower(), variable.lower()))


class ChargerSettings:
    """Current values (typed), written by ChangeConfiguration / SetVariables."""

    def __init__(self, config: ChargerConfig, on_change: Callable[[str, int | bool], None] | None = None) -> None:
        dc = config.profile.startswith("dc")
        measurands = ["Energy.Active.Import.Register", "Power.Active.Import", "Current.Import", "Voltage"]
        self._values: dict[str, int | bool | str] = {
            "HeartbeatInterval": config.heartbeat_interval_s,
            "MeterValueSampleInterval": config.meter_interval_s,
            "ConnectionTimeOut": config.connection_timeout_s,
            "MeterValuesSampledData": ",".join([*measurands, "SoC"] if dc else measurands),
            "NumberOfConnectors": len(config.connectors),
            "LocalAuthorizeOffline": config.local_authorize_offline,
            "AllowOfflineTxForUnknownId": config.allow_offline_unknown_id,
            "AuthorizeRemoteTxRequests": False,
            "TransactionMessageAttempts": config.transaction_message_attempts,
        }
        self._on_change = on_change

    def text(self, key: str) -> str:
        """Wire form of a value: integers in decimal, booleans ``true``/``false``."""
        value = self._values[key]
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def integer(self, key: str) -> int:
        value = self._values[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"setting {key} is not an integer")
        return value

    def flag(self, key: str) -> bool:
        value = self._values[key]
        if not isinstance(value, bool):
            raise TypeError(f"setting {key} is not a boolean")
        return value

    def set_value(self, spec: SettingSpec, value: int | bool) -> None:
        """Set without the read-only check (the charger itself, e.g. HeartbeatInterval from boot)."""
        self._values[spec.key] = value
        if self._on_change is not None:
            self._on_change(spec.key, value)

    def write(self, key: str, text: str) -> SetResult:
        """Apply a CSMS write of ``text`` to 1.6 key ``key``."""
        spec = find_spec(key)
        if spec is None:
            return SetResult.NOT_SUPPORTED
        if spec.readonly:
            return SetResult.REJECTED
        value = parse(spec, text)
        if value is None:
            return SetResult.REJECTED
        self.set_value(spec, value)
        return SetResult.ACCEPTED


def parse(spec: SettingSpec, text: str) -> int | bool | None:
    """Typed value of ``text`` for ``spec``, or None when it is not acceptable."""
    raw = text.strip()
    if spec.kind == "bool":
        return {"true": True, "false": False}.get(raw.lower())
    if spec.kind == "int":
        try:
            number = int(raw)
        except ValueError:
            return None
        return number if spec.minimum <= number <= spec.maximum else None
    return None
