"""Physics of one underground tank and its magnetostrictive probe, stepped by ``advance(dt, now)``.

The state is the product's standard volume (litres at 20 °C), the water volume and the product
temperature; gross volume and heights follow from the VCF and the tank chart. Sales are drawn
by the dispensers (``draw``), tanker drops flow in at a rate (``start_delivery``), an injected
leak drains litres per hour, the temperature relaxes towards the ground's. Physics runs in fixed
steps of ``step_s`` simulated seconds, so a run is the same however ``advance`` is chunked.

The gauge's view can differ from the truth: a stuck float freezes every reading, a probe that is
out gives no reading at all. Alarms, delivery records and leak tests use the gauge's view
(without the random noise, as a console averages its samples); ``reading()`` adds the noise.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime

from simulators.tank_gauge.alarms import level_alarms
from simulators.tank_gauge.chart import HorizontalCylinder
from simulators.tank_gauge.config import TankConfig
from simulators.tank_gauge.errors import TankStateError
from simulators.tank_gauge.leak_test import LeakTest
from simulators.tank_gauge.records import (
    AlarmEvent,
    DeliveryRecord,
    LeakTestResult,
    TankAlarm,
    TankReading,
    TankStatus,
)
from simulators.tank_gauge.vcf import VolumeCorrection

HISTORY_LENGTH = 9  # deliveries and alarm events kept per tank (fits a 2-digit count in any radix)


@dataclass(frozen=True, slots=True)
class _GaugeView:
    """What the probe sees, noise-free: liquid and water volumes, water height, temperature."""

    total_l: float
    water_l: float
    water_mm: float
    temperature_c: float


@dataclass(slots=True)
class _Delivery:
    remaining_l: float
    rate_l_s: float
    product_temperature_c: float
    start: datetime
    before: TankReading
    settle_left_s: float | None = None  # None while product is still flowing


class Tank:
    """One tank: product, water, temperature, deliveries, leak tests, alarms and faults."""

    def __init__(self, config: TankConfig, rng: random.Random, *, start: datetime, step_s: float = 1.0) -> None:
        if step_s <= 0:
            raise ValueError("step_s must be > 0")
        self.config = config
        self.chart = HorizontalCylinder(config.diameter_mm, config.resolved_length_mm)
        self.correction = VolumeCorrection(config.density_20)
        self._rng = rng
        self._step_s = step_s
        self._now = start
        self._pending_s = 0.0
        self._temperature_c = config.temperature_c
        self._water_l = self.chart.volume_l(config.water_mm)
        self._water_mm = config.water_mm
        self._std_l = config.initial_volume_l * self.correction.vcf20(config.temperature_c)
        self._leak_l_h = 0.0
        self._probe_out = False
        self._stuck: TankReading | None = None
        self._noise = (0.0, 0.0, 0.0)  # product height, water height, temperature
        self._delivery: _Delivery | None = None
        self._leak_test: LeakTest | None = None
        self._leak_test_failed = False
        self.last_leak_test: LeakTestResult | None = None
        self.spilled_l = 0.0
        self._deliveries: deque[DeliveryRecord] = deque(maxlen=HISTORY_LENGTH)
        self._history: deque[AlarmEvent] = deque(maxlen=HISTORY_LENGTH)
        self._alarms: frozenset[TankAlarm] = frozenset()
        self._update_alarms(start)

    # ---- what the station and the tests read -------------------------------------------------

    @property
    def number(self) -> int:
        return self.config.number

    @property
    def now(self) -> datetime:
        return self._now

    @property
    def gross_volume_l(self) -> float:
        """True product volume at the product's temperature."""
        return self._std_l / self.correction.vcf20(self._temperature_c)

    @property
    def tc_volume_l(self) -> float:
        """True product volume corrected to 20 °C."""
        return self._std_l

    @property
    def water_volume_l(self) -> float:
        return self._water_l

    @property
    def temperature_c(self) -> float:
        return self._temperature_c

    @property
    def leak_l_h(self) -> float:
        return self._leak_l_h

    @property
    def probe_out(self) -> bool:
        return self._probe_out

    @property
    def stuck_level(self) -> bool:
        return self._stuck is not None

    @property
    def status(self) -> TankStatus:
        status = TankStatus.NONE
        if self._delivery is not None:
            status |= TankStatus.DELIVERY_IN_PROGRESS
        if self._leak_test is not None:
            status |= TankStatus.LEAK_TEST_IN_PROGRESS
        if self._probe_out:
            status |= TankStatus.INVALID_FUEL_HEIGHT
        return status

    @property
    def alarms(self) -> frozenset[TankAlarm]:
        return self._alarms

    @property
    def deliveries(self) -> tuple[DeliveryRecord, ...]:
        """Finished deliveries, newest first."""
        return tuple(reversed(self._deliveries))

    @property
    def alarm_history(self) -> tuple[AlarmEvent, ...]:
        """Alarms as they became active, newest first."""
        return tuple(reversed(self._history))

    def reading(self) -> TankReading:
        """The gauge's inventory reading now, with probe noise (frozen when the float is stuck)."""
        if self._probe_out:
            return TankReading(self.number, self.config.product_code, self.status,
                               0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        if self._stuck is not None:
            return replace(self._stuck, status=self.status)
        noise_h, noise_w, noise_t = self._noise
        height = min(max(self.chart.height_mm(self._water_l + self.gross_volume_l) + noise_h, 0.0),
                     self.chart.diameter_mm)
        water = min(max(self._water_mm + noise_w, 0.0), height) if self._water_mm > 0 else 0.0
        return self._reading_at(height, water, self._temperature_c + noise_t)

    # ---- what the station does ----------------------------------------------------------------

    def draw(self, litres: float) -> float:
        """Dispensers pump ``litres`` (gross, at tank temperature) out; returns what was there."""
        if litres < 0:
            raise ValueError("litres must be ≥ 0")
        self._abort_leak_test()
        drawn = min(litres, self.gross_volume_l)
        self._std_l = max(self._std_l - drawn * self.correction.vcf20(self._temperature_c), 0.0)
        return drawn

    def start_delivery(self, litres: float, product_temp_c: float, rate_l_min: float = 600.0) -> None:
        """A tanker starts dropping ``litres`` (gross at ``product_temp_c``) at ``rate_l_min``."""
        if litres <= 0 or rate_l_min <= 0:
            raise ValueError("litres and rate_l_min must be > 0")
        self._abort_leak_test()
        if self._delivery is not None:  # a second compartment joins the drop in progress
            self._delivery.remaining_l += litres
            self._delivery.settle_left_s = None
            self._delivery.product_temperature_c = product_temp_c
            return
        self._delivery = _Delivery(litres, rate_l_min / 60.0, product_temp_c, self._now,
                                   self._settled_reading())

    def add_water(self, litres: float) -> None:
        """Water gets in (ingress, or a wet delivery)."""
        if litres < 0:
            raise ValueError("litres must be ≥ 0")
        self._water_l = min(self._water_l + litres, self.chart.full_l)
        self._water_mm = self.chart.height_mm(self._water_l)

    def start_leak_test(self, duration_h: int = 2) -> None:
        """Start a static in-tank leak test; sales or a delivery during it abort it."""
        if not 1 <= duration_h <= 99:
            raise ValueError("duration_h must be 1 … 99")
        if self._delivery is not None or self._probe_out:
            raise TankStateError(f"tank {self.number}: no leak test during a delivery or with the probe out")
        view = self._view()
        product_l = view.total_l - view.water_l
        self._leak_test = LeakTest(self.number, self.config.product_code, self._now, duration_h,
                                   view.temperature_c, product_l,
                                   product_l * self.correction.vcf20(view.temperature_c))

    # ---- faults -------------------------------------------------------------------------------

    def set_leak(self, l_per_h: float) -> None:
        """Product leaves the tank at ``l_per_h`` gross litres per hour (0 stops the leak)."""
        if l_per_h < 0:
            raise ValueError("l_per_h must be ≥ 0")
        self._leak_l_h = l_per_h

    def set_probe_out(self, out: bool = True) -> None:
        self._probe_out = out
        if out:
            self._abort_leak_test()
        self._update_alarms(self._now)

    def set_stuck_level(self, stuck: bool = True) -> None:
        """Freeze (or release) every reading at its present value."""
        if stuck and self._stuck is None:
            self._stuck = self.reading()
        elif not stuck:
            self._stuck = None

    # ---- time ---------------------------------------------------------------------------------

    def advance(self, dt: float, now: datetime) -> None:
        """Run the physics forward by ``dt`` simulated seconds, ending at ``now``; the steps' instants are spread
        over the stamps from the last ``now`` to this one (wall clock at speed ≠ 1: ``SimClock.stamp``)."""
        if dt < 0:
            raise ValueError("dt must be ≥ 0")
        previous, carried = self._now, self._pending_s
        self._pending_s += dt
        steps = int(self._pending_s / self._step_s + 1e-9)
        for index in range(1, steps + 1):
            self._step(previous + (now - previous) * ((index * self._step_s - carried) / dt) if dt > 0 else now)
        self._pending_s = max(self._pending_s - steps * self._step_s, 0.0)
        self._now = now

    def _step(self, at: datetime) -> None:
        h = self._step_s
        self._now = at
        vcf = self.correction.vcf20(self._temperature_c)
        if self._leak_l_h > 0:
            self._std_l = max(self._std_l - self._leak_l_h * h / 3600.0 * vcf, 0.0)
        if self._delivery is not None:
            self._flow_delivery(self._delivery, h, at)
        blend = 1.0 - math.exp(-h / (self.config.thermal_time_constant_h * 3600.0))
        self._temperature_c += (self.config.ground_temperature_c - self._temperature_c) * blend
        if self._leak_test is not None:
            self._run_leak_test(self._leak_test, h)
        sigma_h, sigma_t = self.config.height_noise_mm, self.config.temperature_noise_c
        self._noise = (self._rng.gauss(0.0, sigma_h), self._rng.gauss(0.0, sigma_h),
                       self._rng.gauss(0.0, sigma_t))
        self._update_alarms(at)

    def _flow_delivery(self, delivery: _Delivery, h: float, at: datetime) -> None:
        if delivery.settle_left_s is None:
            litres = min(delivery.remaining_l, delivery.rate_l_s * h)
            gross = self.gross_volume_l
            room = max(self.chart.full_l - self._water_l - gross, 0.0)
            kept = min(litres, room)
            self.spilled_l += litres - kept
            if gross + kept > 0:
                self._temperature_c = (gross * self._temperature_c
                                       + kept * delivery.product_temperature_c) / (gross + kept)
            self._std_l += kept * self.correction.vcf20(delivery.product_temperature_c)
            delivery.remaining_l -= litres
            if delivery.remaining_l <= 1e-9:
                delivery.settle_left_s = self.config.delivery_settle_s
            return
        delivery.settle_left_s -= h
        if delivery.settle_left_s <= 1e-9:
            self._deliveries.append(self._delivery_record(delivery, at))
            self._delivery = None

    def _delivery_record(self, delivery: _Delivery, at: datetime) -> DeliveryRecord:
        before, after = delivery.before, self._settled_reading()
        return DeliveryRecord(
            self.number, self.config.product_code, delivery.start, at,
            before.volume_l, before.tc_volume_l, before.water_mm, before.temperature_c,
            after.volume_l, after.tc_volume_l, after.water_mm, after.temperature_c,
            before.height_mm, after.height_mm,
        )

    def _run_leak_test(self, test: LeakTest, h: float) -> None:
        view = self._view()
        tc_l = (view.total_l - view.water_l) * self.correction.vcf20(view.temperature_c)
        result = test.step(h, tc_l, view.temperature_c)
        if result is not None:
            self.last_leak_test = result
            self._leak_test_failed = abs(result.leak_rate_l_h) >= self.config.alarms.leak_rate_l_h
            self._leak_test = None

    def _abort_leak_test(self) -> None:
        self._leak_test = None

    # ---- the gauge's view ----------------------------------------------------------------------

    def _view(self) -> _GaugeView:
        if self._stuck is not None:
            stuck = self._stuck
            return _GaugeView(stuck.volume_l + stuck.water_volume_l, stuck.water_volume_l,
                              stuck.water_mm, stuck.temperature_c)
        return _GaugeView(self._water_l + self.gross_volume_l, self._water_l, self._water_mm,
                          self._temperature_c)

    def _settled_reading(self) -> TankReading:
        """A noise-free reading of the gauge's view (what a console records for a delivery)."""
        view = self._view()
        return self._reading_at(self.chart.height_mm(view.total_l), view.water_mm, view.temperature_c)

    def _reading_at(self, height_mm: float, water_mm: float, temperature_c: float) -> TankReading:
        total_l = self.chart.volume_l(height_mm)
        water_l = self.chart.volume_l(water_mm)
        volume_l = max(total_l - water_l, 0.0)
        ullage_l = max(self.config.ullage_pct / 100.0 * self.chart.full_l - total_l, 0.0)
        return TankReading(
            self.number, self.config.product_code, self.status, volume_l,
            volume_l * self.correction.vcf20(temperature_c), ullage_l, height_mm, water_mm,
            temperature_c, water_l,
        )

    def _update_alarms(self, at: datetime) -> None:
        active: set[TankAlarm] = set()
        if self._probe_out:
            active.add(TankAlarm.PROBE_OUT)
        else:
            view = self._view()
            active |= level_alarms(self.config.alarms, self.chart.full_l, view.total_l,
                                   view.total_l - view.water_l, view.water_mm)
        if self._leak_test_failed:
            active.add(TankAlarm.LEAK)
        for alarm in sorted(active - self._alarms):
            self._history.append(AlarmEvent(self.number, int(alarm), at))
        self._alarms = frozenset(active)

