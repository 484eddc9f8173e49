"""What the central system knows about each charger right now, as readings (pure, no I/O).

Per charge point ``{cp}/online``; per connector ``{cp}/{n}/status`` (1.6 status words for both
versions, see ``codec.connector_status_201``), ``power`` (kW), ``energy`` (kWh, the meter
register), ``soc`` (%), ``transaction`` (the running transaction id, "" when none). In 2.0.1 the
connector number is the EVSE id.

Rules: a meter sample older than the last one applied to the connector is ignored (a replayed
or repeated message never moves a value back); a charger that is not connected reports
``online`` False and every connector value bad with ``comm-loss``; a value never reported is bad
with ``not-yet-read``, except that power is 0 outside a transaction and a missing state of
charge is null (no EV, or an AC charger that has no BMS data). Reading times are the edge
node's clock when the message arrived; the charger's own timestamps order the samples.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from protocol_adapters.ocpp.codec import MeterSample, OcppVersion, connector_status_201
from protocol_adapters.readings import Reading, Value
from telemetry.contracts.quality import BadReason, Quality

CONNECTOR_METRICS = ("status", "power", "energy", "soc", "transaction")
NOT_YET_READ = "not-yet-read"
#: 1.6 statuses in which a connector has no EV (its last state of charge no longer applies)
_NO_EV = {"Available", "Unavailable", "Faulted"}


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class ConnectorState:
    status: str | None = None
    #: 2.0.1: the reported connectorStatus and the transaction's chargingState, from which ``status`` comes
    connector_status: str | None = None
    charging_state: str | None = None
    ended_with_ev: bool = False
    error_code: str = ""
    power_kw: float | None = None
    energy_wh: float | None = None
    soc_pct: float | None = None
    sample_time: datetime | None = None
    transaction: str = ""
    updated: datetime = field(default_factory=_now)


@dataclass(slots=True)
class ChargePointState:
    charge_point: str
    connectors: dict[int, ConnectorState]
    version: OcppVersion | None = None
    online: bool = False
    changed: datetime = field(default_factory=_now)
    vendor: str = ""
    model: str = ""


class ChargerStates:
    """Live state of every charge point; ``expected`` (id → number of connectors) is what readings cover."""

    def __init__(self, expected: Mapping[str, int], now: Callable[[], datetime] = _now) -> None:
        self.expected = dict(expected)
        self._now = now
        self.charge_points = {cp: ChargePointState(cp, {n: ConnectorState() for n in range(1, count + 1)},
                                                   changed=now())
                              for cp, count in self.expected.items()}

    def charge_point(self, cp: str) -> ChargePointState:
        state = self.charge_points.get(cp)
        if state is None:
            state = self.charge_points[cp] = ChargePointState(cp, {}, changed=self._now())
        return state

    def connector(self, cp: str, number: int) -> ConnectorState:
        connectors = self.charge_point(cp).connectors
        state = connectors.get(number)
        if state is None:
            state = connectors[number] = ConnectorState()
        state.updated = self._now()
        return state

    # --- changes ----------------------------------------------------------------------------------

    def connected(self, cp: str, version: OcppVersion) -> None:
        state = self.charge_point(cp)
        state.online, state.version, state.changed = True, version, self._now()

    def disconnected(self, cp: str) -> None:
        state = self.charge_point(cp)
        state.online, state.changed = False, self._now()

    def booted(self, cp: str, vendor: str, model: str) -> None:
        state = self.charge_point(cp)
        state.vendor, state.model = vendor, model

    def status(self, cp: str, number: int, status: str, error_code: str = "") -> None:
        """A 1.6 StatusNotification."""
        c = self.connector(cp, number)
        c.status, c.error_code = status, error_code
        if status in _NO_EV:
            c.soc_pct = None

    def status_201(self, cp: str, number: int, connector_status: str) -> None:
        c = self.connector(cp, number)
        c.connector_status = connector_status
        if connector_status != "Occupied":
            c.ended_with_ev, c.soc_pct = False, None
        self._derive(c)

    def charging_state(self, cp: str, number: int, charging_state: str | None) -> None:
        c = self.connector(cp, number)
        if charging_state is not None:
            c.charging_state = charging_state
        self._derive(c)

    def sample(self, cp: str, number: int, sample: MeterSample) -> bool:
        """Apply a meter sample unless an equally new or newer one was applied already."""
        c = self.connector(cp, number)
        if c.sample_time is not None and sample.timestamp < c.sample_time:
            return False
        c.sample_time = sample.timestamp
        if sample.energy_wh is not None:
            c.energy_wh = sample.energy_wh
        if sample.power_kw is not None:
            c.power_kw = sample.power_kw
        if sample.soc_pct is not None:
            c.soc_pct = sample.soc_pct
        return True

    def transaction_started(self, cp: str, number: int, transaction_id: str, meter_wh: float | None = None,
                            at: datetime | None = None) -> None:
        c = self.connector(cp, number)
        c.transaction, c.ended_with_ev = transaction_id, False
        if meter_wh is not None and at is not None:
            self.sample(cp, number, MeterSample(at, energy_wh=meter_wh))
        self._derive(c)

    def transaction_ended(self, cp: str, number: int, transaction_id: str, meter_wh: float | None = None,
                          at: datetime | None = None, *, ev_connected: bool = False) -> None:
        c = self.connector(cp, number)
        if meter_wh is not None and at is not None:
            self.sample(cp, number, MeterSample(at, energy_wh=meter_wh))
        if c.transaction == transaction_id:
            c.transaction, c.power_kw, c.charging_state = "", 0.0, None
            c.ended_with_ev = ev_connected
        self._derive(c)

    def transaction_seen(self, cp: str, number: int, transaction_id: str) -> None:
        """A message names a running transaction: show it if the connector shows none."""
        c = self.connector(cp, number)
        if not c.transaction:
            c.transaction = transaction_id
            self._derive(c)

    def connector_of(self, cp: str, transaction_id: str) -> int | None:
        """The connector showing ``transaction_id``, if any."""
        state = self.charge_points.get(cp)
        connectors = state.connectors.items() if state is not None else ()
        return next((n for n, c in connectors if c.transaction == transaction_id), None)

    @staticmethod
    def _derive(c: ConnectorState) -> None:
        if c.connector_status is not None:
            c.status = connector_status_201(c.connector_status, c.charging_state,
                                            in_transaction=bool(c.transaction), ended_with_ev=c.ended_with_ev)

    # --- readings ---------------------------------------------------------------------------------

    def metric_keys(self) -> list[str]:
        keys = []
        for cp, count in self.expected.items():
            keys.append(f"{cp}/online")
            keys += [f"{cp}/{n}/{name}" for n in range(1, count + 1) for name in CONNECTOR_METRICS]
        return keys

    def readings(self) -> list[Reading]:
        """Every expected charge point's readings (unexpected charge points and connectors are left out)."""
        out: list[Reading] = []
        for cp, count in self.expected.items():
            state = self.charge_points[cp]
            out.append(Reading(f"{cp}/online", state.online, state.changed))
            for n in range(1, count + 1):
                c = state.connectors.setdefault(n, ConnectorState(updated=state.changed))
                values: dict[str, Value] = {
                    "status": c.status,
                    "power": c.power_kw if c.power_kw is not None or c.transaction else 0.0,
                    "energy": round(c.energy_wh / 1000, 3) if c.energy_wh is not None else None,
                    "soc": c.soc_pct,
                    "transaction": c.transaction,
                }
                for name, value in values.items():
                    key = f"{cp}/{n}/{name}"
                    if not state.online:
                        out.append(Reading(key, None, state.changed, Quality.BAD, BadReason.COMM_LOSS.value))
                    elif value is None and name != "soc":
                        out.append(Reading(key, None, c.updated, Quality.BAD, NOT_YET_READ))
                    else:
                        out.append(Reading(key, value, max(c.updated, state.changed)))
        return out
