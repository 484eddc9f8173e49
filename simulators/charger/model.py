"""EV charger physics and connector state: sessions, the energy register, the EV battery, faults.

A pure model stepped by ``advance(dt)`` in simulated seconds: it never reads the wall clock and does
no I/O. Its time is ``start + sum(dt)``. Everything that happens is queued as an event
(``drain_events``). A transaction starts when a connector is both authorised and plugged in, takes
meter samples every ``sample_interval_s`` from its start, and ends when the driver unplugs, the
EV is full (``ev_full_action="stop"``), a card or the CSMS stops it, or a fault or power loss hits.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from simulators.charger.config import ChargerConfig, EvProfile
from simulators.charger.connector import EPS, Connector, EvState, Session
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
from simulators.charger.power import PROFILES, charging_point, idle_point, soc_gain_pct

#: Longest physics sub-step; ``advance`` splits larger steps and lands exactly on sample instants.
MAX_STEP_S = 1.0


class ChargerError(Exception):
    """A driver or CSMS command the charger cannot carry out in its present state."""


class ChargerModel:
    """All connectors of one charge point and the EVs plugged into them."""

    def __init__(self, config: ChargerConfig, rng: random.Random, start: datetime,
                 stamp: Callable[[], datetime] | None = None) -> None:
        """``stamp``: the time written on messages (the simulator's clock, ``simulators/clock.py``);
        None: ``start`` plus the simulated seconds stepped."""
        self.profile = PROFILES[config.profile]
        self.grid_voltage_v = config.grid_voltage_v
        self.ev_full_action = config.ev_full_action
        self.connection_timeout_s = config.connection_timeout_s
        self.powered = True
        self._sample_interval_s = config.meter_interval_s
        self._rng = rng
        self._start = start
        self._stamp = stamp
        self._elapsed = 0.0
        self._next_local_id = 1
        self._events: list[ChargerEvent] = []
        idle = idle_point(self.profile, self.grid_voltage_v, powered=True)
        self.connectors: dict[int, Connector] = {
            c.connector_id: Connector(c.connector_id, float(c.meter_start_wh), idle) for c in config.connectors
        }

    # ---- time and observation -------------------------------------------------------------------
    @property
    def now(self) -> datetime:
        if self._stamp is not None:
            return self._stamp()
        return self._start + timedelta(seconds=self._elapsed)

    @property
    def elapsed(self) -> float:
        return self._elapsed

    @property
    def sample_interval_s(self) -> int:
        return self._sample_interval_s

    @sample_interval_s.setter
    def sample_interval_s(self, seconds: int) -> None:
        """Takes effect now: the next sample of each transaction is ``seconds`` from now (0 = off)."""
        self._sample_interval_s = seconds
        for c in self.connectors.values():
            if c.transaction is not None:
                c.transaction.next_sample_s = self._elapsed + seconds if seconds > 0 else float("inf")

    def connector(self, connector_id: int) -> Connector:
        try:
            return self.connectors[connector_id]
        except KeyError:
            raise ChargerError(f"no connector {connector_id}") from None

    def reading(self, connector_id: int) -> MeterReading:
        c = self.connector(connector_id)
        dc = self.profile.current_type == "DC"
        return MeterReading(
            timestamp=self.now,
            energy_wh=int(c.energy_wh),
            power_kw=c.point.power_kw,
            current_a=c.point.current_a,
            voltage_v=c.point.voltage_v,
            soc_pct=c.ev.soc_pct if dc and c.ev is not None else None,
        )

    def transactions(self) -> Iterator[tuple[Connector, Session]]:
        for c in self.connectors.values():
            if c.transaction is not None:
                yield c, c.transaction

    def find_transaction(self, *, ref: str | None = None, local_id: int | None = None) -> Connector | None:
        for c, tx in self.transactions():
            if tx.transaction_ref == ref or tx.local_id == local_id:
                return c
        return None

    def drain_events(self) -> list[ChargerEvent]:
        events, self._events = self._events, []
        return events

    # ---- driver and CSMS commands ---------------------------------------------------------------
    def plug_in(self, connector_id: int, ev: EvProfile) -> None:
        c = self.connector(connector_id)
        if c.ev is not None:
            raise ChargerError(f"connector {connector_id} already has an EV plugged in")
        c.ev = EvState(ev, ev.start_soc_pct)
        c.finishing = False
        if c.session is not None and c.fault is None and self.powered:
            self._start_transaction(c, StartTrigger.CABLE_PLUGGED_IN)
        self._refresh()

    def unplug(self, connector_id: int) -> None:
        c = self.connector(connector_id)
        if c.ev is None:
            raise ChargerError(f"connector {connector_id} has no EV plugged in")
        c.ev = None
        if c.transaction is not None:
            self._stop(c, StopReason.EV_DISCONNECTED)
        c.finishing = False
        self._refresh()

    def can_authorize(self, connector_id: int) -> bool:
        c = self.connector(connector_id)
        return self.powered and c.fault is None and c.session is None and not c.finishing

    def free_connector(self) -> int | None:
        """A connector a new authorisation could go to: one with an EV waiting, else any free one."""
        free = [cid for cid in self.connectors if self.can_authorize(cid)]
        plugged = [cid for cid in free if self.connectors[cid].ev is not None]
        candidates = plugged + free
        return candidates[0] if candidates else None

    def authorize(
        self,
        connector_id: int,
        id_tag: str,
        *,
        trigger: StartTrigger = StartTrigger.AUTHORIZED,
        remote_start_id: int | None = None,
    ) -> Session:
        """Authorise ``id_tag`` on a connector; the transaction starts now if an EV is plugged in."""
        if not self.can_authorize(connector_id):
            raise ChargerError(f"connector {connector_id} cannot take a new authorisation now")
        c = self.connectors[connector_id]
        ref = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        c.session = Session(self._next_local_id, ref, id_tag, trigger, remote_start_id, self._elapsed)
        self._next_local_id += 1
        if c.ev is not None:
            self._start_transaction(c, trigger)
        self._refresh()
        return c.session

    def stop_transaction(self, connector_id: int, reason: StopReason) -> bool:
        """End the transaction (or cancel a pending authorisation). False if there was none."""
        c = self.connector(connector_id)
        if c.session is None:
            return False
        if c.session.started:
            self._stop(c, reason)
        else:
            c.session = None
        self._refresh()
        return True

    def deauthorize(self, local_id: int) -> None:
        """The CSMS refused the id tag of transaction ``local_id`` (e.g. one started offline): it ends."""
        connector = self.find_transaction(local_id=local_id)
        if connector is not None:
            self.stop_transaction(connector.connector_id, StopReason.DEAUTHORIZED)

    def stop_all(self, reason: StopReason) -> None:
        for cid in self.connectors:
            self.stop_transaction(cid, reason)

    def inject_fault(self, connector_id: int, error_code: ErrorCode, info: str | None = None) -> None:
        if error_code is ErrorCode.NO_ERROR:
            raise ChargerError("a fault needs an error code other than NoError")
        c = self.connector(connector_id)
        c.fault, c.fault_info = error_code, info
        if c.session is not None and c.session.started:
            self._stop(c, StopReason.FAULT)
        c.session = None
        self._refresh()

    def clear_fault(self, connector_id: int) -> None:
        c = self.connector(connector_id)
        c.fault, c.fault_info = None, None
        self._refresh()

    def power_off(self) -> None:
        """Mains lost: transactions end (PowerLoss), nothing charges, no status is reported."""
        self.powered = False
        self.stop_all(StopReason.POWER_LOSS)
        for c in self.connectors.values():
            c.point = idle_point(self.profile, self.grid_voltage_v, powered=False)

    def power_on(self) -> None:
        self.powered = True
        for c in self.connectors.values():
            c.point = idle_point(self.profile, self.grid_voltage_v, powered=True)
        self._refresh()

    # ---- stepping -------------------------------------------------------------------------------
    def advance(self, dt: float) -> None:
        """Step the physics ``dt`` simulated seconds, in sub-steps that land on sample instants."""
        remaining = dt
        while remaining > EPS:
            step = min(remaining, MAX_STEP_S, max(self._time_to_next_sample(), EPS))
            for c in self.connectors.values():
                self._step(c, step)
            self._elapsed += step
            remaining -= step
            self._after_step()

    def _time_to_next_sample(self) -> float:
        due = [tx.next_sample_s for _, tx in self.transactions()]
        return min(due, default=float("inf")) - self._elapsed

    def _step(self, c: Connector, dt: float) -> None:
        tx, ev = c.transaction, c.ev
        if not self.powered or tx is None or ev is None or c.fault is not None or ev.full:
            c.point = idle_point(self.profile, self.grid_voltage_v, self.powered)
            return
        grid = self.grid_voltage_v
        if self.profile.current_type == "AC":
            grid = min(grid * 1.05, max(grid * 0.95, self._rng.gauss(grid, 1.5)))
        c.point = charging_point(self.profile, ev.profile, ev.soc_pct, grid)
        kwh = c.point.power_kw * dt / 3600.0
        c.energy_wh += kwh * 1000.0
        ev.soc_pct = min(ev.profile.target_soc_pct, ev.soc_pct + soc_gain_pct(ev.profile, kwh))
        tx.charging_s += dt

    def _after_step(self) -> None:
        for c in self.connectors.values():
            tx = c.transaction
            if tx is None:
                if c.session is not None and self._elapsed - c.session.authorised_at_s >= self.connection_timeout_s:
                    c.session = None  # authorised, but no EV came within ConnectionTimeOut
                continue
            if tx.next_sample_s <= self._elapsed + EPS:
                self._events.append(
                    MeterSampled(c.connector_id, tx.local_id, tx.transaction_ref, self.reading(c.connector_id))
                )
                tx.next_sample_s += self._sample_interval_s
            if c.ev is not None and c.ev.full and self.ev_full_action == "stop":
                self._refresh()  # report SuspendedEV before the transaction ends
                self._stop(c, StopReason.EV_FULL)
        self._refresh()

    # ---- internals ------------------------------------------------------------------------------
    def _start_transaction(self, c: Connector, trigger: StartTrigger) -> None:
        tx = c.session
        if tx is None:
            raise ChargerError(f"connector {c.connector_id} has no authorisation to start")
        tx.started = True
        tx.meter_start_wh = int(c.energy_wh)
        interval = self._sample_interval_s
        tx.next_sample_s = self._elapsed + interval if interval > 0 else float("inf")
        self._events.append(
            TransactionStarted(
                c.connector_id,
                tx.local_id,
                tx.transaction_ref,
                tx.id_tag,
                trigger,
                tx.remote_start_id,
                self.reading(c.connector_id),
            )
        )

    def _stop(self, c: Connector, reason: StopReason) -> None:
        tx = c.session
        if tx is None or not tx.started:
            raise ChargerError(f"connector {c.connector_id} has no transaction to stop")
        c.session = None
        c.point = idle_point(self.profile, self.grid_voltage_v, self.powered)
        c.finishing = c.ev is not None
        self._events.append(
            TransactionStopped(
                c.connector_id,
                tx.local_id,
                tx.transaction_ref,
                tx.id_tag,
                reason,
                self.reading(c.connector_id),
                tx.meter_start_wh,
                tx.charging_s,
                ev_connected=c.ev is not None,
                error_code=c.fault or ErrorCode.NO_ERROR,
            )
        )

    def _derive_status(self, c: Connector) -> ConnectorStatus:
        if c.fault is not None:
            return ConnectorStatus.FAULTED
        if c.transaction is not None:
            ev_done = c.ev is not None and c.ev.full
            return ConnectorStatus.SUSPENDED_EV if ev_done else ConnectorStatus.CHARGING
        if c.session is not None:
            return ConnectorStatus.PREPARING
        if c.ev is not None:
            return ConnectorStatus.FINISHING if c.finishing else ConnectorStatus.PREPARING
        return ConnectorStatus.AVAILABLE

    def _refresh(self) -> None:
        """Emit StatusChanged for every connector whose status or error code changed."""
        if not self.powered:
            return
        for c in self.connectors.values():
            status, error = self._derive_status(c), c.fault or ErrorCode.NO_ERROR
            if status == c.status and error == c.reported_error:
                continue
            c.status, c.reported_error = status, error
            tx = c.transaction
            self._events.append(
                StatusChanged(
                    c.connector_id,
                    status,
                    error,
                    self.now,
                    info=c.fault_info,
                    transaction=tx.local_id if tx is not None else None,
                )
            )
