"""Who comes to the station and when: seeded arrival streams of cars, gas vehicles and EVs (pure).

Arrivals are a non-homogeneous Poisson process: within each hour of the station's day the rate
is that hour's ``HourlyRates`` entry; gaps are exponential, and a gap that runs past the end of
the hour is dropped and drawing starts again at the next hour (exact, because the exponential
is memoryless). Each arrival draws everything it will want when it is generated (grade,
preset, how long it takes to pull in and to pay, which free position it picks), so a run is
fixed by the seed. Each kind of traffic has its own random stream (``Random("<seed>/<kind>")``),
so adding EVs to a scenario does not change which cars come.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from simulators.charger.config import EvProfile
from simulators.scenario.traffic_config import EvTraffic, FuelTraffic, GasTraffic, Queueing

SECONDS_PER_HOUR = 3600.0
PresetKind = Literal["amount", "volume", "full"]


@dataclass(frozen=True, slots=True)
class Habits:
    """What every customer draws: arrival, patience, pulling in, paying, which free position."""

    number: int
    at_s: float
    patience_s: float
    pull_in_s: float
    pay_s: float
    pick: float  # in [0, 1): index into the free positions that serve it


class Arrival(Protocol):
    """Anything that arrives: a car, a gas vehicle, an EV."""

    @property
    def habits(self) -> Habits: ...


@dataclass(frozen=True, slots=True)
class FuelCar:
    habits: Habits
    grade: int
    preset: PresetKind
    value: int  # fen (amount), 0.01 L (volume), or 0.01 L the tank takes (full)


@dataclass(frozen=True, slots=True)
class GasVehicle:
    habits: Habits
    gas: Literal["cng", "lng"]
    preset_kg: float  # 0 = fill up
    vehicle_seed: int  # its cylinder size and what is left in it


@dataclass(frozen=True, slots=True)
class EvDriver:
    habits: Habits
    ev: EvProfile
    id_tag: str
    linger_s: float


def poisson_times(rates: Sequence[float], rng: random.Random, day_offset_s: float) -> Iterator[float]:
    """Arrival instants (seconds after the start) for ``rates`` per hour by local hour of day.

    ``day_offset_s`` is the local time of day at the start, in seconds after midnight.
    """
    if len(rates) != 24 or min(rates) < 0:
        raise ValueError("expected 24 rates ≥ 0")
    if max(rates) <= 0:
        return
    hour = math.floor(day_offset_s / SECONDS_PER_HOUR)
    t = 0.0
    while True:
        end = (hour + 1) * SECONDS_PER_HOUR - day_offset_s
        rate = rates[hour % 24] / SECONDS_PER_HOUR
        while rate > 0:
            t += rng.expovariate(rate)
            if t >= end:
                break
            yield t
        t, hour = end, hour + 1


class TrafficGenerator:
    """The seeded arrival streams of one scenario run."""

    def __init__(self, seed: int, day_offset_s: float, grades: Sequence[int]) -> None:
        self.seed = seed
        self.day_offset_s = day_offset_s
        self.grades = tuple(grades)

    def stream(self, kind: str) -> random.Random:
        return random.Random(f"{self.seed}/{kind}")

    def fuel_cars(self, traffic: FuelTraffic) -> Iterator[FuelCar]:
        rng = self.stream("fuel")
        for number, at_s in enumerate(poisson_times(traffic.cars_per_hour, rng, self.day_offset_s), start=1):
            yield self.fuel_car(traffic, rng, number, at_s)

    def fuel_car(
        self, traffic: FuelTraffic, rng: random.Random, number: int, at_s: float,
        grade: int | None = None, preset: PresetKind | None = None,
    ) -> FuelCar:
        """One car's wishes; ``grade`` / ``preset`` fix them instead of drawing (control port)."""
        habits = _habits(traffic, rng, number, at_s)
        shares = [traffic.grade_mix.get(g, 0.0) for g in self.grades] if traffic.grade_mix else [1.0] * len(self.grades)
        chosen = rng.choices(self.grades, weights=shares)[0]
        mix = traffic.preset_mix
        kind: PresetKind = rng.choices(("amount", "volume", "full"), weights=(mix.amount, mix.volume, mix.full))[0]
        value = _preset_value(traffic, kind, rng)
        if preset is not None and preset != kind:
            kind, value = preset, _preset_value(traffic, preset, rng)
        return FuelCar(habits, grade if grade is not None else chosen, kind, value)

    def gas_vehicles(self, traffic: GasTraffic, gas: Literal["cng", "lng"]) -> Iterator[GasVehicle]:
        rng = self.stream(gas)
        for number, at_s in enumerate(poisson_times(traffic.vehicles_per_hour, rng, self.day_offset_s), start=1):
            yield self.gas_vehicle(traffic, gas, rng, number, at_s)

    def gas_vehicle(
        self, traffic: GasTraffic, gas: Literal["cng", "lng"], rng: random.Random, number: int, at_s: float
    ) -> GasVehicle:
        habits = _habits(traffic, rng, number, at_s)
        preset = rng.choice(traffic.presets_kg) if traffic.presets_kg and rng.random() < traffic.preset_share else 0.0
        return GasVehicle(habits, gas, preset, rng.getrandbits(32))

    def ev_drivers(self, traffic: EvTraffic) -> Iterator[EvDriver]:
        rng = self.stream("ev")
        for number, at_s in enumerate(poisson_times(traffic.sessions_per_hour, rng, self.day_offset_s), start=1):
            yield self.ev_driver(traffic, rng, number, at_s)

    def ev_driver(self, traffic: EvTraffic, rng: random.Random, number: int, at_s: float) -> EvDriver:
        habits = _habits(traffic, rng, number, at_s)
        profile = rng.choices(traffic.profiles, weights=[p.weight for p in traffic.profiles])[0]
        soc = min(rng.uniform(*traffic.start_soc_pct), profile.target_soc_pct)
        ev = EvProfile.model_validate(profile.model_dump(exclude={"weight"}) | {"start_soc_pct": soc})
        return EvDriver(habits, ev, self.card(traffic, number), rng.uniform(*traffic.linger_s))

    def card(self, traffic: EvTraffic, number: int) -> str:
        """The id tag EV driver ``number`` presents: one of ``traffic.cards``, or (``unknown_share`` of
        the drivers, and every driver when there are no cards) a card of its own that no list holds.
        Drawn from the driver's number alone, so cards never change who arrives."""
        rng = random.Random(f"{self.seed}/ev-card/{number}")
        if not traffic.cards or rng.random() < traffic.unknown_share:
            return f"EV{number:06d}"
        return rng.choice(traffic.cards)


def _habits(traffic: Queueing, rng: random.Random, number: int, at_s: float) -> Habits:
    return Habits(number, at_s, traffic.patience_s, rng.uniform(*traffic.pull_in_s), rng.uniform(*traffic.pay_s),
                  rng.random())


def _preset_value(traffic: FuelTraffic, preset: PresetKind, rng: random.Random) -> int:
    if preset == "amount":
        return rng.choice(traffic.amounts_fen)
    if preset == "volume":
        return round(rng.choice(traffic.volumes_l) * 100)
    return max(1, round(rng.uniform(*traffic.full_l) * 100))


def describe_preset(car: FuelCar) -> tuple[str, str]:
    """The car's wish in Chinese and in English, e.g. ``预置 200.00 元`` / ``preset 200.00 yuan``."""
    if car.preset == "amount":
        return f"预置 {car.value / 100:.2f} 元", f"preset {car.value / 100:.2f} yuan"
    if car.preset == "volume":
        return f"预置 {car.value / 100:.2f} 升", f"preset {car.value / 100:.2f} L"
    return "加满", "fill up"
