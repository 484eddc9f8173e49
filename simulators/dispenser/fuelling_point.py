"""One fuelling point: the IFSF state machine, its nozzles, totalizers and transaction buffer.

States (IFSF): Closed <-> Idle -> Calling (nozzle lifted) -> Started (authorised, nozzle up)
-> Fuelling (fuel flows) -> back to Idle when the nozzle is hung up, the preset is met or a
stop is commanded; Suspended_* pause an open transaction. Pre-authorisation (Idle ->
Authorised, then lift) works too. After a fuelling ends with the nozzle still up, that nozzle
must be hung up before it can start another one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from simulators.dispenser.config import DispenserConfig
from simulators.dispenser.flow import Delivery, FlowLaw
from simulators.dispenser.states import (
    OPEN_TRANSACTION_STATES,
    CommandResult,
    EndReason,
    FpState,
    PresetType,
)
from simulators.dispenser.transactions import Transaction, TransactionBuffer
from simulators.dispenser.views import FpView, NozzleView

#: Largest preset accepted: 9 999.99 L or 99 999.99 yuan.
MAX_PRESET = {PresetType.VOLUME: 999_999, PresetType.AMOUNT: 9_999_999}
_U32 = 2**32

OK, REFUSED, BAD_ARGUMENT = CommandResult.OK, CommandResult.REFUSED, CommandResult.BAD_ARGUMENT


@dataclass(slots=True)
class Nozzle:
    number: int
    grade_id: int
    price_fen: int
    law: FlowLaw
    meter_error_pct: float
    volume_total_cl: int
    amount_total_fen: int
    delivered_total_l: float = 0.0
    lifted: bool = False
    refuses_prices: bool = False   # a fault: the price board takes no new price (the old one stays)

    def view(self) -> NozzleView:
        return NozzleView(self.number, self.grade_id, self.lifted, self.price_fen, self.volume_total_cl,
                          self.amount_total_fen, self.delivered_total_l, self.meter_error_pct)


@dataclass(frozen=True, slots=True)
class Authorisation:
    preset_type: PresetType
    preset_value: int
    nozzle: int  # 0 = any


class FuellingPoint:
    """Fuelling point ``number`` with its nozzles; stepped by ``advance`` and driven by commands."""

    def __init__(self, number: int, nozzles: list[Nozzle], settings: DispenserConfig) -> None:
        self.number = number
        self.nozzles = {n.number: n for n in nozzles}
        self.buffer = TransactionBuffer(settings.buffer_size)
        self.state = FpState.IDLE if settings.open_at_start else FpState.CLOSED
        self.error_code = 0
        self.powered = True
        self._settings = settings
        self._active = 0
        self._auth: Authorisation | None = None
        self._delivery: Delivery | None = None
        self._last_number = 0
        self._hang_up_required = False
        self._closed_before_power_loss = False

    # ----- physical inputs -------------------------------------------------------------------
    def lift(self, k: int, now: datetime) -> CommandResult:
        nozzle = self.nozzle(k)
        if nozzle.lifted:
            return OK
        if any(n.lifted for n in self.nozzles.values()):
            return REFUSED  # one nozzle per fuelling point at a time
        nozzle.lifted = True
        if not self.powered:
            self._hang_up_required = True
        elif self.state is FpState.IDLE:
            self._active = k
            if self._settings.auto_authorise and self._may_authorise():
                self._start(k, Authorisation(PresetType.NONE, 0, 0), now)
            else:
                self.state = FpState.CALLING
        elif self.state is FpState.AUTHORISED and self._auth and self._auth.nozzle in (0, k):
            self._start(k, self._auth, now)
        return OK

    def hang_up(self, k: int, now: datetime) -> CommandResult:
        nozzle = self.nozzle(k)
        if not nozzle.lifted:
            return OK
        nozzle.lifted = False
        self._hang_up_required = False
        if k == self._active and self.powered:
            if self.state is FpState.CALLING:
                self.state, self._active = FpState.IDLE, 0
            elif self.state in OPEN_TRANSACTION_STATES:
                self._finish(EndReason.NOZZLE_HUNG_UP, now)
        return OK

    # ----- commands --------------------------------------------------------------------------
    def authorise(self, preset_type: PresetType, preset_value: int, nozzle: int, now: datetime) -> CommandResult:
        if preset_type is not PresetType.NONE and not 0 < preset_value <= MAX_PRESET[preset_type]:
            return BAD_ARGUMENT
        if not 0 <= nozzle <= len(self.nozzles):
            return BAD_ARGUMENT
        auth = Authorisation(preset_type, preset_value if preset_type is not PresetType.NONE else 0, nozzle)
        if not self.powered or not self._may_authorise():
            return REFUSED
        if self.state is FpState.IDLE:
            self.state, self._auth = FpState.AUTHORISED, auth
            return OK
        if self.state is FpState.CALLING and nozzle in (0, self._active):
            self._start(self._active, auth, now)
            return OK
        return REFUSED

    def stop(self, now: datetime) -> CommandResult:
        if self.state is FpState.AUTHORISED:
            self.state, self._auth = FpState.IDLE, None
            return OK
        if self.state in OPEN_TRANSACTION_STATES:
            self._finish(EndReason.STOPPED, now)
            return OK
        return REFUSED

    def suspend(self) -> CommandResult:
        paused = {FpState.STARTED: FpState.SUSPENDED_STARTED, FpState.FUELLING: FpState.SUSPENDED_FUELLING}
        if self.state not in paused or self._delivery is None:
            return REFUSED
        self.state = paused[self.state]
        self._delivery.pause()
        return OK

    def resume(self) -> CommandResult:
        running = {FpState.SUSPENDED_STARTED: FpState.STARTED, FpState.SUSPENDED_FUELLING: FpState.FUELLING}
        if self.state not in running:
            return REFUSED
        self.state = running[self.state]
        return OK

    def open(self) -> CommandResult:
        if self.state is not FpState.CLOSED or not self.powered:
            return REFUSED
        lifted = [n.number for n in self.nozzles.values() if n.lifted]
        self.state = FpState.CALLING if lifted and not self._hang_up_required else FpState.IDLE
        self._active = lifted[0] if self.state is FpState.CALLING else 0
        return OK

    def close(self) -> CommandResult:
        if self.state not in (FpState.IDLE, FpState.CALLING, FpState.AUTHORISED) or not self.powered:
            return REFUSED
        self.state, self._auth, self._active = FpState.CLOSED, None, 0
        return OK

    def set_price(self, k: int, price_fen: int) -> CommandResult:
        """New unit price for transactions that start from now on (an open one keeps its price)."""
        if price_fen <= 0:
            return BAD_ARGUMENT
        if self.nozzle(k).refuses_prices:
            return REFUSED
        self.nozzle(k).price_fen = price_fen
        return OK

    # ----- time, power, errors ---------------------------------------------------------------
    def advance(self, dt: float, previous: datetime, now: datetime) -> None:
        """Meter ``dt`` simulated seconds, stamped from ``previous`` to ``now`` (wall clock at speed ≠ 1)."""
        delivery = self._delivery
        if delivery is None or self.state not in (FpState.STARTED, FpState.FUELLING):
            return
        nozzle = self.nozzles[delivery.nozzle]
        volume, amount, delivered = delivery.volume_cl, delivery.amount_fen, delivery.delivered_l
        unused_s = delivery.run(dt)
        nozzle.volume_total_cl += delivery.volume_cl - volume
        nozzle.amount_total_fen += delivery.amount_fen - amount
        nozzle.delivered_total_l += delivery.delivered_l - delivered
        if self.state is FpState.STARTED and delivery.metered_cl > 0:
            self.state = FpState.FUELLING
        if delivery.preset_reached:
            self._finish(EndReason.PRESET_REACHED, now - (now - previous) * (unused_s / dt) if dt > 0 else now)

    def power_lost(self, now: datetime) -> None:
        """Power goes: an open transaction ends where the meter stopped; authorisations are lost."""
        if self._delivery is not None:
            self._finish(EndReason.POWER_LOST, now)
        self._closed_before_power_loss = self.state is FpState.CLOSED
        self.state, self._auth, self._active, self.powered = FpState.INOPERATIVE, None, 0, False

    def power_restored(self) -> None:
        self.powered = True
        self._hang_up_required = any(n.lifted for n in self.nozzles.values())
        if self.error_code:
            self.state = FpState.INOPERATIVE
        else:
            self.state = FpState.CLOSED if self._closed_before_power_loss else FpState.IDLE

    def set_error(self, code: int, now: datetime) -> None:
        """Fault: the FP goes Inoperative with ``code`` (an open transaction ends); 0 repairs it."""
        if code:
            if self._delivery is not None:
                self._finish(EndReason.FP_ERROR, now)
            self.state, self._auth, self._active, self.error_code = FpState.INOPERATIVE, None, 0, code
            return
        self.error_code = 0
        if self.state is FpState.INOPERATIVE and self.powered:
            self.state = FpState.IDLE
            self._hang_up_required = any(n.lifted for n in self.nozzles.values())

    # ----- views -----------------------------------------------------------------------------
    def nozzle(self, k: int) -> Nozzle:
        if k not in self.nozzles:
            raise ValueError(f"fuelling point {self.number} has no nozzle {k}")
        return self.nozzles[k]

    @property
    def delivery(self) -> Delivery | None:
        return self._delivery

    def view(self) -> FpView:
        last, d = self.buffer.latest, self._delivery
        if d is not None:
            price, volume, amount, flow, number = d.price_fen, d.volume_cl, d.amount_fen, d.flow_l_min, d.number
            preset_type, preset_value = d.preset_type, d.preset_value
        else:
            price, volume, amount = (last.price_fen, last.volume_cl, last.amount_fen) if last else (0, 0, 0)
            flow, number = 0.0, self._last_number
            auth = self._auth or Authorisation(PresetType.NONE, 0, 0)
            preset_type, preset_value = auth.preset_type, auth.preset_value
        return FpView(
            number=self.number, state=self.state, active_nozzle=self._active, error_code=self.error_code,
            price_fen=price, volume_cl=volume, amount_fen=amount, flow_l_min=flow, transaction_number=number,
            preset_type=preset_type, preset_value=preset_value, unpaid_count=self.buffer.unpaid_count,
            hang_up_required=self._hang_up_required, last=last,
            nozzles=tuple(n.view() for n in self.nozzles.values()),
        )

    # ----- internals -------------------------------------------------------------------------
    def _may_authorise(self) -> bool:
        limit = self._settings.unpaid_limit
        return limit == 0 or self.buffer.unpaid_count < limit

    def _start(self, k: int, auth: Authorisation, now: datetime) -> None:
        nozzle = self.nozzles[k]
        self._delivery = Delivery(
            number=self._last_number % (_U32 - 1) + 1, nozzle=k, grade_id=nozzle.grade_id,
            price_fen=nozzle.price_fen, preset_type=auth.preset_type, preset_value=auth.preset_value,
            started_at=now, law=nozzle.law, meter_error_pct=nozzle.meter_error_pct,
            start_delay_s=self._settings.start_delay_s,
        )
        self.state, self._active, self._auth = FpState.STARTED, k, None

    def _finish(self, reason: EndReason, now: datetime) -> None:
        delivery = self._delivery
        if delivery is None:
            return
        nozzle = self.nozzles[delivery.nozzle]
        if delivery.volume_cl > 0:  # a fuelling that delivered nothing leaves no transaction
            self._last_number = delivery.number
            self.buffer.add(Transaction(
                number=delivery.number, fuelling_point=self.number, nozzle=delivery.nozzle,
                grade_id=delivery.grade_id, price_fen=delivery.price_fen, volume_cl=delivery.volume_cl,
                amount_fen=delivery.amount_fen, started_at=delivery.started_at, ended_at=now,
                volume_total_after_cl=nozzle.volume_total_cl, amount_total_after_fen=nozzle.amount_total_fen,
                end_reason=reason, preset_type=delivery.preset_type, preset_value=delivery.preset_value,
                delivered_l=delivery.delivered_l,
            ))
        self._delivery, self._auth, self._active = None, None, 0
        self.state = FpState.IDLE
        self._hang_up_required = nozzle.lifted
