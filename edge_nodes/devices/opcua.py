"""OPC UA devices in a station file (the CNG/LNG gas skid), and the source that reports their changes.

The source subscribes instead of polling: the server reports a value when it changes (by more
than the node's deadband), and the source hands each batch on as a snapshot. While the server is
away every value is bad with reason ``comm-loss``; the client reconnects with exponential back-off
and jitter and subscribes again by itself.

For the command layer the source also offers ``call(method_path, *args)``, ``write(key, value)``
and ``read(key)`` on the live session (docs/how-to/opcua-adapter.md); a gas skid's price path
(``GasSkidPrices``) writes a dispenser's unit price through them and reads it back.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import Field, model_validator

from edge_nodes import metrics
from edge_nodes.devices.base import (
    Code,
    DeviceEntry,
    NodeServices,
    PriceWriter,
    Strict,
    Watcher,
    Writer,
    event_watcher,
    register,
)
from edge_nodes.poller import backoff_delay
from edge_nodes.source import DeviceSource, Emit, MetricSpec, Snapshot, SourceContext
from edge_nodes.station_events import completed_gas_fills
from protocol_adapters.opcua.client import OpcUaClient
from protocol_adapters.opcua.points import NodeSpec, UaType
from protocol_adapters.opcua.profiles import PROFILES
from protocol_adapters.readings import AdapterError, DeviceRejected, Reading, Value
from telemetry.contracts.commands import Result
from telemetry.contracts.quality import Quality

Count = Annotated[int, Field(ge=0, le=16)]


class NodeConfig(Strict):
    key: str
    browse_path: str
    unit: str | None = None
    datatype: UaType = UaType.DOUBLE
    deadband: Annotated[float, Field(ge=0)] = 0.0
    description: str = ""

    def spec(self) -> NodeSpec:
        return NodeSpec(**self.model_dump())


@register
class OpcUaDevice(DeviceEntry):
    """An OPC UA server: a ``profile`` (``gas-skid-v1``, shaped by the dispenser counts) and/or ``nodes``."""

    protocol: Literal["opcua"]
    code: Code
    kind: Literal["gas_skid", "generic"] = "generic"
    endpoint: Annotated[str, Field(pattern=r"^opc\.tcp://[^/\s]+")]
    namespace_uri: str | None = None          # the profile's when left out
    profile: Literal["gas-skid-v1"] | None = None
    cng_dispensers: Count = 2
    lng_dispensers: Count = 2
    compressor_stages: Annotated[int, Field(ge=1, le=5)] = 3
    nodes: tuple[NodeConfig, ...] = ()
    deadbands: dict[str, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)  # key → server-side deadband
    publishing_interval_ms: Annotated[float, Field(ge=10, le=60_000)] = 500.0
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 2.0
    reconnect_s: Annotated[float, Field(gt=0, le=60)] = 1.0   # first step of the reconnect back-off
    deadband: Annotated[float, Field(ge=0)] = 0.0   # the edge node's own deadband on every number (as for Modbus)

    @model_validator(mode="after")
    def _consistent(self) -> OpcUaDevice:
        if self.profile is None and not self.nodes:
            raise ValueError("an OPC UA device needs a 'profile' or a list of 'nodes'")
        if self.profile is None and self.namespace_uri is None:
            raise ValueError("'namespace_uri' is required with 'nodes' and no 'profile'")
        specs = self.node_specs()       # raises ValueError for a bad node (deadband on text …)
        keys = [s.key for s in specs]
        if len(set(keys)) != len(keys):
            raise ValueError(f"duplicate node keys: {sorted({k for k in keys if keys.count(k) > 1})}")
        unknown = sorted(set(self.deadbands) - set(keys))
        if unknown:
            raise ValueError(f"deadbands name nodes that do not exist: {unknown}")
        return self

    def node_specs(self) -> list[NodeSpec]:
        specs = []
        if self.profile is not None:
            specs = PROFILES[self.profile][1](self.cng_dispensers, self.lng_dispensers, self.compressor_stages)
        specs += [n.spec() for n in self.nodes]
        return [NodeSpec(s.key, s.browse_path, s.unit, s.datatype, self.deadbands.get(s.key, s.deadband),
                         s.description) for s in specs]

    def namespace(self) -> str:
        if self.namespace_uri is not None:
            return self.namespace_uri
        assert self.profile is not None  # noqa: S101 - the validator demands one of the two
        return PROFILES[self.profile][0]

    def source(self, context: SourceContext | None = None) -> OpcUaSource:
        client = OpcUaClient(self.endpoint, self.node_specs(), namespace_uri=self.namespace(),
                             publishing_interval_ms=self.publishing_interval_ms, timeout_s=self.timeout_s)
        return OpcUaSource(self.code, client, self.reconnect_s)

    def watcher(self, source: DeviceSource, node: NodeServices) -> Watcher | None:
        return event_watcher(self.code, node, completed_gas_fills)    # a gas fill reaching complete: an event

    def writer(self, source: DeviceSource) -> Writer | None:
        return source if isinstance(source, OpcUaSource) else None

    def price_writer(self, source: DeviceSource) -> PriceWriter | None:
        if self.profile != "gas-skid-v1" or not isinstance(source, OpcUaSource):
            return None
        return GasSkidPrices(source, self.cng_dispensers, self.lng_dispensers)


#: Gas dispenser states in which the unit price may change (docs/protocols/gas-skid-opcua.md): CNG idle or
#: complete, LNG idle or complete (the skid refuses a price during precool or a fill with BadInvalidState).
_PRICE_STATES = {"cng": frozenset({0, 2}), "lng": frozenset({0, 3})}


class GasSkidPrices:
    """The gas skid's price path: its CNG dispensers are fuelling points 1..n, its LNG dispensers the points
    after them, each with one hose (nozzle 1); the price is the dispenser's ``UnitPrice_fen_per_kg`` node."""

    def __init__(self, source: OpcUaSource, cng_dispensers: int, lng_dispensers: int) -> None:
        self.source = source
        self.hoses = [f"cng{n}" for n in range(1, cng_dispensers + 1)] + \
                     [f"lng{n}" for n in range(1, lng_dispensers + 1)]

    def _hose(self, fuelling_point: int) -> str | None:
        return self.hoses[fuelling_point - 1] if 1 <= fuelling_point <= len(self.hoses) else None

    async def fp_idle(self, fuelling_point: int) -> bool:
        hose = self._hose(fuelling_point)
        if hose is None:
            return True          # write_price says why
        state = await self.source.read(f"{hose}/state")
        return state.quality is Quality.GOOD and int(state.value or 0) in _PRICE_STATES[hose[:3]]

    async def write_price(self, fuelling_point: int, nozzle: int, price_fen: int) -> tuple[Result, str]:
        hose = self._hose(fuelling_point)
        if hose is None or nozzle != 1:
            return "bad-argument", (f"加气机没有 {fuelling_point} 号枪位 {nozzle} 号枪 (the gas skid has hoses at "
                                    f"fuelling points 1..{len(self.hoses)}, nozzle 1 each)")
        try:
            await self.source.write(f"{hose}/price", price_fen)
        except DeviceRejected as exc:
            return "refused", str(exc)
        back = await self.source.read(f"{hose}/price")
        if back.quality is Quality.GOOD and int(back.value or 0) == price_fen:
            return "accepted", f"price read back: {price_fen} fen/kg"
        return "refused", f"the skid did not read back the new price (it shows {back.value} fen/kg)"


class OpcUaSource:
    """The device source of one OPC UA server (see ``edge_nodes/source.py``): report by exception."""

    def __init__(self, device: str, client: OpcUaClient, reconnect_s: float = 1.0,
                 rng: random.Random | None = None) -> None:
        self.code = device
        self.client = client
        self.metrics = {k: MetricSpec(k, s.datatype.sparkplug, s.unit) for k, s in client.specs.items()}
        self.reconnect_s = reconnect_s
        self._rng = rng or random.Random()

    @property
    def connected(self) -> bool:
        return self.client.connected

    async def run(self, emit: Emit) -> None:
        """Report changes until cancelled; every value bad with the reason while the server is away."""

        async def changed(readings: list[Reading]) -> None:
            metrics.DEVICE_UP.labels(self.code).set(1)
            await emit(Snapshot(self.code, tuple(readings), available=True))

        async def lost(error: AdapterError) -> None:
            metrics.DEVICE_UP.labels(self.code).set(0)
            now = datetime.now(UTC)
            bad = tuple(Reading(key, None, now, Quality.BAD, error.reason) for key in self.metrics)
            await emit(Snapshot(self.code, bad, available=False, reason=error.reason))

        await self.client.run(changed, lost, lambda failures: backoff_delay(failures, self.reconnect_s, self._rng))

    # --- for the command layer -------------------------------------------------------------

    async def call(self, method_path: str, *args: Value) -> list[Value]:
        """Call ``GasSkid/CngDispenser1/StartFill`` (0.0) → its outputs; ``Refused`` when the device says no."""
        return await self.client.call(method_path, *args)

    async def write(self, key: str, value: Value) -> None:
        """Write the node behind metric ``key`` (``cng1/price``, 488); ``Refused`` when the device says no."""
        await self.client.write(key, value)

    async def read(self, key: str) -> Reading:
        """Read the node behind metric ``key`` now, whatever the subscription last said."""
        return await self.client.read(key)
