"""The dispenser model: fuelling points stepped by ``advance(dt)``, driven by inputs and commands.

Pure: no I/O, no wall clock. Time moves only through ``advance`` (the server passes the sim
clock's ``now``); randomness (per-nozzle meter error) comes from a seeded ``random.Random``.

Physical inputs (the customer, the mains): ``lift_nozzle``, ``hang_nozzle``, ``power_off``,
``power_on``. Commands (the FCC/POS): ``authorise``, ``stop``, ``suspend``, ``resume``,
``clear``, ``lock``, ``unlock``, ``open``, ``close``, ``set_price``; each returns a
``CommandResult``. Views: ``view()``, ``fp_view(n)``, ``transactions(n)``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from simulators.dispenser.config import DispenserConfig
from simulators.dispenser.flow import FlowLaw
from simulators.dispenser.fuelling_point import FuellingPoint, Nozzle
from simulators.dispenser.states import Command, CommandResult, PresetType
from simulators.dispenser.transactions import Transaction
from simulators.dispenser.views import DispenserView, FpView

DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)
_PRESET_CODES = frozenset(int(p) for p in PresetType)


class DispenserModel:
    """A fuel dispenser with 1-4 fuelling points (see ``FuellingPoint`` for the state machine)."""

    def __init__(
        self, config: DispenserConfig, *, start: datetime = DEFAULT_START, rng: random.Random | None = None
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be an aware UTC datetime")
        rng = rng or random.Random(config.seed)
        self.config = config
        self._now = start
        self._powered = True
        self._fps: dict[int, FuellingPoint] = {}
        limit = config.meter_error_limit_pct
        for n, fp_config in enumerate(config.fuelling_points, start=1):
            nozzles = []
            for k, nz in enumerate(fp_config.nozzles, start=1):
                drawn = rng.uniform(-limit, limit)  # drawn for every nozzle so draws stay aligned
                law = FlowLaw(nz.max_flow_l_min, config.ramp_up_s, config.slowdown_volume_l,
                              config.slowdown_flow_fraction)
                nozzles.append(Nozzle(
                    number=k, grade_id=nz.grade_id, price_fen=nz.price_fen, law=law,
                    meter_error_pct=drawn if nz.meter_error_pct is None else nz.meter_error_pct,
                    volume_total_cl=nz.initial_volume_total_cl, amount_total_fen=nz.initial_amount_total_fen,
                    refuses_prices=nz.refuses_prices,
                ))
            self._fps[n] = FuellingPoint(n, nozzles, config)

    # ----- time and power --------------------------------------------------------------------
    @property
    def now(self) -> datetime:
        return self._now

    @property
    def powered(self) -> bool:
        return self._powered

    @property
    def fuelling_point_count(self) -> int:
        return len(self._fps)

    def advance(self, dt: float, now: datetime | None = None) -> None:
        """Let ``dt`` simulated seconds pass; ``now`` (the clock's stamp at the end, ``SimClock.stamp``) overrides
        ``now + dt``: the step's ``dt`` simulated seconds then span the stamps from the previous ``now`` to this one."""
        if dt < 0:
            raise ValueError(f"time does not run backwards (dt={dt})")
        previous = self._now
        self._now = now if now is not None else self._now + timedelta(seconds=dt)
        if not self._powered:
            return
        for fp in self._fps.values():
            fp.advance(dt, previous, self._now)

    def power_off(self) -> None:
        """Mains lost: open fuellings end as Payable with what was metered; the server goes mute."""
        if not self._powered:
            return
        self._powered = False
        for fp in self._fps.values():
            fp.power_lost(self._now)

    def power_on(self) -> None:
        if self._powered:
            return
        self._powered = True
        for fp in self._fps.values():
            fp.power_restored()

    # ----- physical inputs -------------------------------------------------------------------
    def lift_nozzle(self, fp: int, nozzle: int) -> CommandResult:
        return self._fp(fp).lift(nozzle, self._now)

    def hang_nozzle(self, fp: int, nozzle: int) -> CommandResult:
        return self._fp(fp).hang_up(nozzle, self._now)

    def set_fp_error(self, fp: int, code: int) -> None:
        """Fault: FP ``fp`` goes Inoperative with error ``code`` (1..65535); 0 repairs it."""
        if not 0 <= code <= 0xFFFF:
            raise ValueError(f"error code must fit a u16, got {code}")
        self._fp(fp).set_error(code, self._now)

    def refuse_prices(self, fp: int, nozzle: int, refuse: bool = True) -> None:
        """Fault: the nozzle's price board takes no new price (a write is ignored, the old price reads back)."""
        self._fp(fp).nozzle(nozzle).refuses_prices = refuse

    # ----- commands --------------------------------------------------------------------------
    def authorise(
        self, fp: int, preset_type: PresetType | int = PresetType.NONE, preset_value: int = 0, nozzle: int = 0
    ) -> CommandResult:
        if int(preset_type) not in _PRESET_CODES:
            return CommandResult.BAD_ARGUMENT
        return self._fp(fp).authorise(PresetType(preset_type), preset_value, nozzle, self._now)

    def stop(self, fp: int) -> CommandResult:
        return self._fp(fp).stop(self._now)

    def suspend(self, fp: int) -> CommandResult:
        return self._when_powered(self._fp(fp).suspend)

    def resume(self, fp: int) -> CommandResult:
        return self._when_powered(self._fp(fp).resume)

    def open(self, fp: int) -> CommandResult:
        return self._fp(fp).open()

    def close(self, fp: int) -> CommandResult:
        return self._fp(fp).close()

    def lock(self, fp: int, transaction: int = 0) -> CommandResult:
        return self._when_powered(lambda: self._fp(fp).buffer.lock(transaction))

    def unlock(self, fp: int, transaction: int = 0) -> CommandResult:
        return self._when_powered(lambda: self._fp(fp).buffer.unlock(transaction))

    def clear(self, fp: int, transaction: int = 0) -> CommandResult:
        return self._when_powered(lambda: self._fp(fp).buffer.clear(transaction))

    def set_price(self, fp: int, nozzle: int, price_fen: int) -> CommandResult:
        """Price for transactions starting from now on; an open transaction keeps its price."""
        return self._when_powered(lambda: self._fp(fp).set_price(nozzle, price_fen))

    def set_grade_price(self, grade_id: int, price_fen: int) -> int:
        """Set the price of every nozzle of a grade; returns how many nozzles changed."""
        changed = 0
        for fp in self._fps.values():
            for nozzle in fp.nozzles.values():
                if nozzle.grade_id == grade_id and fp.set_price(nozzle.number, price_fen) is CommandResult.OK:
                    changed += 1
        return changed

    def execute(
        self, fp: int, command: int, *, preset_type: int = 0, preset_value: int = 0, nozzle: int = 0,
        transaction: int = 0,
    ) -> CommandResult:
        """Run a command by its wire code (register B+90) with the arguments of B+91..99."""
        handlers: dict[int, Callable[[], CommandResult]] = {
            Command.AUTHORISE: lambda: self.authorise(fp, preset_type, preset_value, nozzle),
            Command.STOP: lambda: self.stop(fp),
            Command.SUSPEND: lambda: self.suspend(fp),
            Command.RESUME: lambda: self.resume(fp),
            Command.CLEAR: lambda: self.clear(fp, transaction),
            Command.LOCK: lambda: self.lock(fp, transaction),
            Command.UNLOCK: lambda: self.unlock(fp, transaction),
            Command.OPEN: lambda: self.open(fp),
            Command.CLOSE: lambda: self.close(fp),
        }
        handler = handlers.get(command)
        return handler() if handler else CommandResult.BAD_ARGUMENT

    # ----- views -----------------------------------------------------------------------------
    def view(self) -> DispenserView:
        return DispenserView(self._powered, self._now, tuple(fp.view() for fp in self._fps.values()))

    def fp_view(self, fp: int) -> FpView:
        return self._fp(fp).view()

    def transactions(self, fp: int) -> tuple[Transaction, ...]:
        """The completed transactions still in FP ``fp``'s buffer, oldest first."""
        return self._fp(fp).buffer.transactions

    def delivered_litres(self, fp: int, nozzle: int) -> float:
        """True volume that left the tank through a nozzle since start (for wet-stock tests)."""
        return self._fp(fp).nozzle(nozzle).delivered_total_l

    def delivered_by_grade(self) -> dict[int, float]:
        """True litres delivered since start, per grade id (what the tanks lost)."""
        totals: dict[int, float] = {}
        for fp in self._fps.values():
            for nozzle in fp.nozzles.values():
                totals[nozzle.grade_id] = totals.get(nozzle.grade_id, 0.0) + nozzle.delivered_total_l
        return totals

    # ----- internals -------------------------------------------------------------------------
    def _fp(self, fp: int) -> FuellingPoint:
        if fp not in self._fps:
            raise ValueError(f"no fuelling point {fp} (this dispenser has {len(self._fps)})")
        return self._fps[fp]

    def _when_powered(self, command: Callable[[], CommandResult]) -> CommandResult:
        return command() if self._powered else CommandResult.REFUSED
