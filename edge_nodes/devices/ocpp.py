"""EV chargers in a station file: ONE ``protocol: ocpp`` entry is the central system all of them connect to.

```yaml
  - code: chargers
    protocol: ocpp
    listen_host: 0.0.0.0
    listen_port: 9000
    path: /ocpp                       # chargers connect to ws://<edge>:9000/ocpp/<charge point id>
    charge_points: [chg-01, {id: chg-02, connectors: 2}]
    id_tags: {RFID0001: Accepted, STOLEN01: Blocked}
    id_tags_file: /var/lib/forecourt/id-tags.json   # optional: the last list pushed, kept across restarts
```

Charger authentication (OCPP security profiles, ``protocol_adapters/ocpp/security.py``): with
``security_profile: 1`` (HTTP Basic over ws://) or ``2`` (the same over wss://, with ``tls_cert_file``
and ``tls_key_file``) every charge point needs its key, as an argon2 ``password_hash`` or a
``password_file`` holding the key (read at start):

```yaml
    security_profile: 2
    tls_cert_file: /etc/forecourt/csms-cert.pem
    tls_key_file: /etc/forecourt/csms-key.pem
    charge_points:
      - {id: chg-01, password_hash: "$argon2id$v=19$m=65536,t=3,p=4$…"}   # python -m protocol_adapters.ocpp.hash_key
      - {id: chg-02, connectors: 2, password_file: /etc/forecourt/chg-02.key}
```

Its source runs the server and emits a snapshot whenever something changes, with the metrics
of ``protocol_adapters/ocpp/state.py`` for every listed charge point and connector. The central
system's counters (``CsmsStats``: sessions, refused sessions, refused handshakes, bad frames, meter
values left out, duplicates, orphans, failed hand-overs) are on the edge node's /metrics as
``forecourt_edge_ocpp_events_total{device, event}``. Finished
sessions go to ``OcppSource.on_session``; ``remote_start`` / ``remote_stop`` are the commands.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
import weakref
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, Literal

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import Field, field_validator, model_validator

from edge_nodes.commands import DeviceCommand
from edge_nodes.devices.base import Code, DeviceEntry, NodeServices, Strict, Watcher, register
from edge_nodes.metrics import REGISTRY
from edge_nodes.poller import backoff_delay
from edge_nodes.source import DeviceSource, Emit, MetricSpec, Snapshot, SourceContext
from edge_nodes.station_events import charging_completed
from protocol_adapters.ocpp.auth import AuthorizationCache, TokenStatus
from protocol_adapters.ocpp.core import SessionSink, log_session
from protocol_adapters.ocpp.security import ChargerCredentials, CredentialError, KeyCheck, SecurityProfile
from protocol_adapters.ocpp.server import CentralSystem
from protocol_adapters.ocpp.sessions import ChargingSession
from protocol_adapters.readings import Reading
from telemetry.contracts.commands import REPLACE_ID_TAGS, ReplaceIdTags, Result
from telemetry.contracts.quality import BadReason, Quality
from telemetry.contracts.sparkplug import DataType

log = logging.getLogger(__name__)

#: per connector: Sparkplug type and unit
CONNECTOR_METRICS: dict[str, tuple[DataType, str | None]] = {
    "status": (DataType.STRING, None),
    "power": (DataType.DOUBLE, "kW"),
    "energy": (DataType.DOUBLE, "kWh"),
    "soc": (DataType.DOUBLE, "%"),
    "transaction": (DataType.STRING, None),
}
BIND_RETRY_BASE_S = 2.0


class ExpectedChargePoint(Strict):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,48}$")]
    connectors: Annotated[int, Field(ge=1, le=8)] = 1
    #: security profiles 1 and 2: the argon2 hash of the charger's key, or a file holding the key
    password_hash: Annotated[str, Field(pattern=r"^\$argon2(id|i|d)\$")] | None = None
    password_file: Path | None = None

    @model_validator(mode="after")
    def _one_key(self) -> ExpectedChargePoint:
        if self.password_hash is not None and self.password_file is not None:
            raise ValueError(f"charge point {self.id}: give password_hash or password_file, not both")
        return self

    @property
    def has_key(self) -> bool:
        return self.password_hash is not None or self.password_file is not None

    def key_check(self) -> KeyCheck:
        """This charger's key check; reads ``password_file`` (an error names the file, never its content)."""
        if self.password_hash is not None:
            return KeyCheck(key_hash=self.password_hash)
        if self.password_file is None:
            raise CredentialError(f"charge point {self.id}: no key")
        try:
            key = self.password_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise CredentialError(f"{self.password_file}: cannot read the key of {self.id}: {exc}") from exc
        try:
            return KeyCheck(key=key)
        except CredentialError as exc:
            raise CredentialError(f"{self.password_file}: the key of {self.id}: {exc}") from None


@register
class OcppDevice(DeviceEntry):
    protocol: Literal["ocpp"]
    code: Code
    listen_host: str = "0.0.0.0"  # noqa: S104 - chargers on the station LAN connect to the edge node
    listen_port: Annotated[int, Field(ge=0, le=65535)] = 9000
    path: Annotated[str, Field(pattern=r"^(/[A-Za-z0-9._-]+)*/?$")] = "/ocpp"
    charge_points: Annotated[list[ExpectedChargePoint], Field(min_length=1)]
    id_tags: dict[Annotated[str, Field(min_length=1, max_length=36)], TokenStatus] = Field(default_factory=dict)
    id_tags_file: Path | None = None
    heartbeat_interval_s: Annotated[int, Field(ge=10, le=86400)] = 300
    response_timeout_s: Annotated[float, Field(gt=0, le=300)] = 30.0
    deadband: Annotated[float, Field(ge=0)] = 0.0
    security_profile: SecurityProfile = SecurityProfile.NONE
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None

    @field_validator("charge_points", mode="before")
    @classmethod
    def _ids_as_entries(cls, value: Any) -> Any:
        """``[chg-01]`` is short for ``[{id: chg-01, connectors: 1}]``."""
        if isinstance(value, list):
            return [{"id": v} if isinstance(v, str) else v for v in value]
        return value

    @model_validator(mode="after")
    def _unique_ids(self) -> OcppDevice:
        ids = [cp.id for cp in self.charge_points]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"charge_points: duplicate id {duplicates[0]!r}")
        return self

    @model_validator(mode="after")
    def _security(self) -> OcppDevice:
        profile = self.security_profile
        keyless = [cp.id for cp in self.charge_points if not cp.has_key]
        if profile >= SecurityProfile.BASIC_AUTH and keyless:
            raise ValueError(f"security_profile {profile.value}: charge point {keyless[0]} needs a password_hash "
                             "or password_file")
        colons = [cp.id for cp in self.charge_points if ":" in cp.id]
        if profile >= SecurityProfile.BASIC_AUTH and colons:   # RFC 7617: a basic-auth user has no colon
            raise ValueError(f"security_profile {profile.value}: charge point id {colons[0]!r} may not contain ':'")
        if profile is SecurityProfile.NONE and len(keyless) < len(self.charge_points):
            raise ValueError("charger keys need security_profile 1 or 2 (profile 0 does not check them)")
        tls = (self.tls_cert_file, self.tls_key_file)
        if profile is SecurityProfile.TLS_BASIC_AUTH and None in tls:
            raise ValueError("security_profile 2 needs tls_cert_file and tls_key_file")
        if profile is not SecurityProfile.TLS_BASIC_AUTH and tls != (None, None):
            raise ValueError("tls_cert_file and tls_key_file are for security_profile 2")
        return self

    def credentials(self) -> ChargerCredentials:
        """The key check of every charge point (profile 0: none); reads the key files."""
        if self.security_profile is SecurityProfile.NONE:
            return ChargerCredentials(self.security_profile, {})
        return ChargerCredentials(self.security_profile, {cp.id: cp.key_check() for cp in self.charge_points})

    def tls_context(self) -> ssl.SSLContext | None:
        """Profile 2: the server's TLS context (TLS 1.2 or newer) from the certificate and key files."""
        if self.tls_cert_file is None or self.tls_key_file is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(self.tls_cert_file, self.tls_key_file)
        except (OSError, ssl.SSLError) as exc:
            raise CredentialError(f"{self.tls_cert_file} / {self.tls_key_file}: cannot load the server "
                                  f"certificate: {exc}") from exc
        return context

    def source(self, context: SourceContext | None = None) -> OcppSource:
        return OcppSource(self)

    def watcher(self, source: DeviceSource, node: NodeServices) -> Watcher | None:
        """No readings watcher: each finished charging session becomes an event, committed to the outbox
        before the charger gets its answer (so a session is never lost)."""
        assert isinstance(source, OcppSource)  # noqa: S101 - built by source() above
        csms = self.code

        async def sink(session: ChargingSession) -> None:
            await node.emit_event(charging_completed(node.station, csms, session))
            log.info("charging completed: %s %s", csms, session.transaction_id)
        source.on_session = sink
        return None

    def commands(self, source: DeviceSource) -> dict[str, DeviceCommand]:
        assert isinstance(source, OcppSource)  # noqa: S101 - built by source() above
        cache = source.auth

        async def replace_id_tags(command: ReplaceIdTags) -> tuple[Result, str]:
            try:
                cache.replace(command.id_tags)      # all or nothing, written to disk for offline use
            except ValueError as exc:
                return "bad-argument", str(exc)
            return "accepted", f"{len(command.id_tags)} id tags in force"
        return {REPLACE_ID_TAGS: DeviceCommand(ReplaceIdTags, replace_id_tags)}


class _CsmsCounters(Collector):
    """The ``CsmsStats`` of every live central system, read at scrape time."""

    def __init__(self) -> None:
        self.sources: weakref.WeakSet[OcppSource] = weakref.WeakSet()

    def collect(self) -> Iterator[Metric]:
        totals: Counter[tuple[str, str]] = Counter()
        for source in list(self.sources):
            for event, count in asdict(source.csms.core.stats).items():
                totals[(source.code, event)] += count
        family = CounterMetricFamily("forecourt_edge_ocpp_events", "OCPP central system events by kind",
                                     labels=["device", "event"])
        for (device, event), count in sorted(totals.items()):
            family.add_metric([device, event], count)
        yield family


CSMS_COUNTERS = _CsmsCounters()
REGISTRY.register(CSMS_COUNTERS)


class OcppSource:
    """The device source of the central system (see ``edge_nodes/source.py``)."""

    def __init__(self, device: OcppDevice, rng: random.Random | None = None) -> None:
        self.code = device.code
        self.device = device
        self.metrics: dict[str, MetricSpec] = {}
        for cp in device.charge_points:
            self.metrics[f"{cp.id}/online"] = MetricSpec(f"{cp.id}/online", DataType.BOOLEAN)
            for n in range(1, cp.connectors + 1):
                for name, (datatype, unit) in CONNECTOR_METRICS.items():
                    key = f"{cp.id}/{n}/{name}"
                    self.metrics[key] = MetricSpec(key, datatype, unit)
        tokens = dict(device.id_tags)
        auth = (AuthorizationCache.load(device.id_tags_file, tokens) if device.id_tags_file
                else AuthorizationCache(tokens))
        #: where finished sessions go (the edge node will publish them as events)
        self.on_session: SessionSink = log_session
        self._changed = asyncio.Event()
        self.ready = asyncio.Event()
        self.csms = CentralSystem(
            host=device.listen_host, port=device.listen_port, path=device.path,
            charge_points={cp.id: cp.connectors for cp in device.charge_points}, auth=auth,
            heartbeat_interval_s=device.heartbeat_interval_s, response_timeout_s=device.response_timeout_s,
            # best effort against reusing a 1.6 transaction id after a restart (ids are not persisted yet)
            first_transaction_id=1 + int(time.time()) % 100_000 * 10_000,
            on_session=self._hand_over, on_change=self._changed.set,
            credentials=device.credentials(), tls=device.tls_context())
        self._rng = rng or random.Random()
        CSMS_COUNTERS.sources.add(self)

    @property
    def auth(self) -> AuthorizationCache:
        return self.csms.core.auth

    async def remote_start(self, charge_point: str, connector: int, id_tag: str) -> str:
        return await self.csms.remote_start(charge_point, connector, id_tag)

    async def remote_stop(self, charge_point: str, transaction_id: str) -> str:
        return await self.csms.remote_stop(charge_point, transaction_id)

    async def _hand_over(self, session: ChargingSession) -> None:
        await self.on_session(session)

    def snapshot(self) -> Snapshot:
        readings = tuple(r for r in self.csms.states.readings() if r.key in self.metrics)
        return Snapshot(self.code, readings, available=True)

    async def run(self, emit: Emit) -> None:
        """Listen (retrying while the port cannot be bound) and emit a snapshot on every change."""
        failures = 0
        while True:
            try:
                await self.csms.start()
                break
            except OSError as exc:
                failures += 1
                log.warning("OCPP central system %s cannot listen on %s:%s: %s", self.code,
                            self.device.listen_host, self.device.listen_port, exc)
                stamp = self.csms.core.now()
                bad = tuple(Reading(k, None, stamp, Quality.BAD, BadReason.COMM_LOSS.value) for k in self.metrics)
                await emit(Snapshot(self.code, bad, available=False, reason=BadReason.COMM_LOSS.value))
                await asyncio.sleep(backoff_delay(failures, BIND_RETRY_BASE_S, self._rng))
        self.ready.set()
        try:
            while True:
                self._changed.clear()
                await emit(self.snapshot())
                await self._changed.wait()
        finally:
            self.ready.clear()
            await self.csms.stop()
