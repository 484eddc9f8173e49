"""Station-YAML settings of one EV charger: identity, CSMS address, connectors, power profile, timings.

Defaults describe a single-connector 7 kW AC wallbox (220 V x 32 A, the Chinese "7 kW" pile) that
speaks OCPP 1.6J to a CSMS on the same machine. ``EvProfile`` describes the car a scenario plugs in.

Security profiles (OCPP 1.6 Security Whitepaper, 2.0.1 Part 2 A00): 0 sends no credentials; 1 sends
HTTP Basic credentials (user = the charge point id, password = ``authorization_key`` or the content
of ``authorization_key_file``) over ws://; 2 the same over wss://, trusting the CSMS certificate
against ``ca_file`` (the system's trust store when not given).
"""

from __future__ import annotations

import base64
import ssl
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

OcppVersion = Literal["1.6", "2.0.1"]
PowerProfileName = Literal["ac7", "dc60", "dc120"]

#: websocket subprotocol offered for each OCPP version (OCPP-J, RFC 6455 Sec-WebSocket-Protocol).
SUBPROTOCOLS: dict[str, str] = {"1.6": "ocpp1.6", "2.0.1": "ocpp2.0.1"}


class EvProfile(BaseModel):
    """The electric vehicle a driver plugs in: its battery and what its chargers accept."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    battery_kwh: float = Field(default=60.0, gt=0, le=300, description="usable battery capacity, kWh")
    start_soc_pct: float = Field(default=20.0, ge=0, le=100, description="state of charge when plugged in")
    target_soc_pct: float = Field(default=100.0, ge=0, le=100, description="the EV stops drawing here")
    max_ac_kw: float = Field(default=11.0, gt=0, le=44, description="on-board (AC) charger limit")
    max_dc_kw: float = Field(default=150.0, gt=0, le=500, description="battery limit on a DC charger")
    pack_voltage_v: float = Field(default=400.0, ge=100, le=1000, description="nominal battery voltage")
    efficiency: float = Field(default=0.93, gt=0, le=1, description="battery energy / metered energy")

    @model_validator(mode="after")
    def _target_not_below_start(self) -> EvProfile:
        if self.target_soc_pct < self.start_soc_pct:
            raise ValueError(f"target_soc_pct ({self.target_soc_pct}) must be >= start_soc_pct ({self.start_soc_pct})")
        return self


class ConnectorConfig(BaseModel):
    """One connector (gun). In OCPP 2.0.1 it is EVSE ``connector_id`` with connectorId 1."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    connector_id: int = Field(ge=1, le=32)
    meter_start_wh: int = Field(default=0, ge=0, lt=2**31, description="energy register at start, Wh")


class ChargerConfig(BaseModel):
    """One charge point (OCPP websocket client) and its physics."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    charge_point_id: str = Field(default="chg-01", min_length=1, max_length=48, pattern=r"^[A-Za-z0-9._:-]+$")
    ocpp_version: OcppVersion = "1.6"
    csms_url: str = Field(
        default="ws://127.0.0.1:9000/ocpp",
        description="CSMS base URL; the charger connects to <csms_url>/<charge_point_id>",
    )
    vendor: str = Field(default="SimCo", min_length=1, max_length=20)
    model: str | None = Field(default=None, max_length=20, description="None: derived from the profile")
    serial_number: str | None = Field(default=None, max_length=25)
    firmware_version: str = Field(default="sim-1.0", max_length=50)
    connectors: list[ConnectorConfig] = Field(
        default_factory=lambda: [ConnectorConfig(connector_id=1)], min_length=1, max_length=8
    )
    profile: PowerProfileName = "ac7"
    grid_voltage_v: float = Field(default=220.0, ge=100, le=260, description="AC line-to-neutral (GB/T 156)")
    meter_interval_s: int = Field(default=60, ge=0, le=3600, description="MeterValueSampleInterval; 0 = off")
    heartbeat_interval_s: int = Field(default=300, ge=0, le=86400, description="used until boot says")
    boot_retry_s: int = Field(default=30, ge=1, le=3600, description="boot retry when the CSMS gives 0")
    connection_timeout_s: int = Field(default=60, ge=1, le=3600, description="authorised -> plug-in limit")
    ev_full_action: Literal["stop", "suspend"] = Field(
        default="stop",
        description="EV full: end the transaction (stop, like a GB/T DC pile) or stay SuspendedEV",
    )
    local_authorize_offline: bool = Field(default=True, description="offline: accept cached id tags")
    allow_offline_unknown_id: bool = Field(default=False, description="offline: accept any id tag")
    transaction_message_attempts: int = Field(default=3, ge=1, le=10)
    transaction_message_retry_s: float = Field(default=5.0, ge=0, le=600)
    reconnect_min_s: float = Field(default=1.0, gt=0, le=600, description="first reconnect back-off")
    reconnect_max_s: float = Field(default=60.0, gt=0, le=3600, description="back-off ceiling")
    response_timeout_s: float = Field(default=10.0, gt=0, le=300, description="wall seconds per CALL")
    step_s: float = Field(default=1.0, gt=0, le=60, description="physics step, simulated seconds")
    seed: int = 0
    security_profile: Literal[0, 1, 2] = Field(default=0, description="0 none, 1 basic auth, 2 basic auth + TLS")
    authorization_key: SecretStr | None = Field(default=None, description="profiles 1, 2: the basic-auth password")
    authorization_key_file: Path | None = Field(default=None, description="or a file holding it")
    ca_file: Path | None = Field(default=None, description="profile 2: CA certificate(s) the CSMS's chain ends in")

    @field_validator("csms_url")
    @classmethod
    def _websocket_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError(f"csms_url must be ws://host[:port][/path] or wss://..., got {value!r}")
        return value

    @field_validator("connectors", mode="before")
    @classmethod
    def _connector_numbers(cls, value: object) -> object:
        """Allow ``connectors: [1, 2]`` as shorthand for ``[{connector_id: 1}, {connector_id: 2}]``."""
        if isinstance(value, list):
            return [{"connector_id": v} if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
        return value

    @field_validator("connectors")
    @classmethod
    def _unique_connectors(cls, value: list[ConnectorConfig]) -> list[ConnectorConfig]:
        ids = [c.connector_id for c in value]
        if len(set(ids)) != len(ids):
            raise ValueError(f"connector ids must be unique, got {ids}")
        return value

    @model_validator(mode="after")
    def _backoff_order(self) -> ChargerConfig:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be >= reconnect_min_s")
        return self

    @model_validator(mode="after")
    def _security(self) -> ChargerConfig:
        keys = (self.authorization_key is not None) + (self.authorization_key_file is not None)
        if self.security_profile >= 1 and keys != 1:
            raise ValueError("security_profile 1 and 2 need one of authorization_key and authorization_key_file")
        if self.security_profile == 0 and keys:
            raise ValueError("an authorization key needs security_profile 1 or 2")
        if self.ca_file is not None and self.security_profile != 2:
            raise ValueError("ca_file is for security_profile 2")
        return self

    def authorization_header(self) -> dict[str, str]:
        """Profiles 1 and 2: the ``Authorization: Basic …`` header for the handshake; profile 0: none."""
        if self.security_profile == 0:
            return {}
        if self.authorization_key_file is not None:
            key = self.authorization_key_file.read_text(encoding="utf-8").strip()
        else:
            key = self.authorization_key.get_secret_value() if self.authorization_key is not None else ""
        token = base64.b64encode(f"{self.charge_point_id}:{key}".encode()).decode("ascii")
        return {"Authorization": f"Basic {token}"}

    def tls_context(self) -> ssl.SSLContext:
        """The client TLS context for wss:// (TLS 1.2 or newer, the CSMS certificate checked)."""
        context = ssl.create_default_context(cafile=self.ca_file)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    @property
    def subprotocol(self) -> str:
        return SUBPROTOCOLS[self.ocpp_version]

    @property
    def model_name(self) -> str:
        """Model string for BootNotification (``AC7kW``, ``DC60kW``, ``DC120kW`` unless configured)."""
        if self.model:
            return self.model
        return {"ac7": "AC7kW", "dc60": "DC60kW", "dc120": "DC120kW"}[self.profile]

    def url(self, *, host: str | None = None, port: int | None = None) -> str:
        """The websocket URL ``<csms_url>/<charge_point_id>``, optionally with another host/port."""
        parts = urlsplit(self.csms_url)
        netloc = parts.netloc
        if host is not None or port is not None:
            default_port = 443 if parts.scheme == "wss" else 80
            netloc = f"{host or parts.hostname}:{port or parts.port or default_port}"
        path = parts.path.rstrip("/")
        return f"{parts.scheme}://{netloc}{path}/{self.charge_point_id}"
