"""The ``traffic:`` and ``faults:`` parts of a scenario file (validated, ``extra="forbid"``).

Traffic: fuel cars, CNG and LNG vehicles and EVs arrive by a Poisson process whose rate follows
the hour of the station's day (``HourlyRates``); each draws what it wants when it is generated.
Tankers come at fixed times (``deliveries``) and/or when a tank runs low (``reorder``).
Faults: ``{at, device, fault, args, duration}``; which faults each device takes is in
``fault_table.py``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from simulators.charger.config import EvProfile
from simulators.scenario.fault_table import FAULT_NAMES
from simulators.scenario.timing import HourlyRates, Seconds

Range = Annotated[tuple[float, float], Field(description="(low, high), drawn uniformly")]
ArgValue = bool | int | float | str


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_range(name: str, value: tuple[float, float]) -> None:
    low, high = value
    if not 0 <= low <= high:
        raise ValueError(f"{name}: expected (low, high) with 0 ≤ low ≤ high, got {list(value)}")


class PresetMix(Strict):
    """Shares of the presets cars ask for (weights, need not add up to 1)."""

    amount: float = Field(default=0.45, ge=0, description="a sum of money, e.g. 200 yuan")
    volume: float = Field(default=0.15, ge=0, description="a number of litres")
    full: float = Field(default=0.40, ge=0, description="fill up: no preset, the nozzle clicks off")

    @model_validator(mode="after")
    def _some(self) -> PresetMix:
        if self.amount + self.volume + self.full <= 0:
            raise ValueError("at least one preset share must be > 0")
        return self


class Queueing(Strict):
    """How customers behave at the forecourt: how long they wait, pull in and pay."""

    patience_s: Seconds = Field(default=300.0, description="longest wait for a free position, then leave")
    max_queue: int = Field(default=4, ge=0, le=100, description="leave at once when this many already wait")
    pull_in_s: Range = Field(default=(10.0, 30.0), description="pull in, open the filler, lift the nozzle")
    pay_s: Range = Field(default=(20.0, 90.0), description="from the end of the fill to driving off")

    @model_validator(mode="after")
    def _ranges(self) -> Queueing:
        _check_range("pull_in_s", self.pull_in_s)
        _check_range("pay_s", self.pay_s)
        return self


class FuelTraffic(Queueing):
    """Petrol and diesel cars."""

    cars_per_hour: HourlyRates = Field(default=(0.0,) * 24)
    grade_mix: dict[int, float] = Field(default_factory=dict, description="grade id -> share; empty: all alike")
    preset_mix: PresetMix = PresetMix()
    amounts_fen: list[Annotated[int, Field(gt=0, le=9_999_999)]] = Field(
        default_factory=lambda: [5000, 10000, 20000, 30000], min_length=1
    )
    volumes_l: list[Annotated[float, Field(gt=0, le=9999)]] = Field(
        default_factory=lambda: [10.0, 20.0, 30.0, 40.0], min_length=1
    )
    full_l: Range = Field(default=(20.0, 55.0), description="what a car that fills up takes, litres")

    @model_validator(mode="after")
    def _full(self) -> FuelTraffic:
        _check_range("full_l", self.full_l)
        if self.full_l[1] <= 0:
            raise ValueError("full_l: the high end must be > 0")
        if any(share < 0 for share in self.grade_mix.values()):
            raise ValueError("grade_mix: shares must be ≥ 0")
        return self


class GasTraffic(Queueing):
    """CNG cars and taxis, or LNG trucks, at the gas skid's dispensers."""

    vehicles_per_hour: HourlyRates = Field(default=(0.0,) * 24)
    preset_share: float = Field(default=0.2, ge=0, le=1, description="share asking for a mass; the rest fill up")
    presets_kg: list[Annotated[float, Field(gt=0, le=500)]] = Field(default_factory=lambda: [5.0, 10.0, 15.0])


class WeightedEv(EvProfile):
    """An EV model that arrives, with its share of the EV traffic."""

    weight: float = Field(default=1.0, gt=0)


class EvTraffic(Queueing):
    """EV drivers at the chargers."""

    sessions_per_hour: HourlyRates = Field(default=(0.0,) * 24)
    profiles: list[WeightedEv] = Field(default_factory=lambda: [WeightedEv()], min_length=1)
    start_soc_pct: Range = Field(default=(10.0, 50.0), description="drawn per car, replaces the profile's")
    linger_s: Range = Field(default=(60.0, 600.0), description="plugged in after charging ended")
    max_stay_s: Seconds = Field(default=5400.0, gt=0, description="unplug by then even if not full")
    patience_s: Seconds = 900.0
    pull_in_s: Range = (30.0, 90.0)
    cards: list[Annotated[str, Field(min_length=1, max_length=36)]] = Field(
        default_factory=list,
        description="id tags the drivers carry (the station's list); empty: each driver a card no one knows")
    unknown_share: float = Field(default=0.0, ge=0, le=1, description="drivers whose card is on no list")

    @model_validator(mode="after")
    def _soc(self) -> EvTraffic:
        _check_range("start_soc_pct", self.start_soc_pct)
        _check_range("linger_s", self.linger_s)
        if self.start_soc_pct[1] > 100:
            raise ValueError("start_soc_pct: at most 100")
        return self


class TankerDelivery(Strict):
    """A tanker that drops product into a tank at a given time."""

    at: Seconds
    tank: int = Field(ge=1, le=99)
    litres: float = Field(gt=0, le=60000)
    temperature_c: float = Field(default=20.0, ge=-40, le=60)
    rate_l_min: float = Field(default=800.0, gt=0, le=5000)
    hook_up_s: Seconds = Field(default=600.0, description="arrival to product flowing (earthing, sampling)")


class Reorder(Strict):
    """Order a tanker when the gauge shows a tank below ``below_pct``; it comes ``lead_time_s`` later."""

    below_pct: float = Field(default=25.0, gt=0, lt=100)
    fill_to_pct: float = Field(default=85.0, gt=0, le=95)
    lead_time_s: Seconds = 2400.0
    check_every_s: Seconds = Field(default=300.0, gt=0)
    temperature_c: float = Field(default=20.0, ge=-40, le=60)
    rate_l_min: float = Field(default=800.0, gt=0, le=5000)

    @model_validator(mode="after")
    def _order(self) -> Reorder:
        if self.fill_to_pct <= self.below_pct:
            raise ValueError("fill_to_pct must be above below_pct")
        return self


class Traffic(Strict):
    fuel: FuelTraffic = FuelTraffic()
    cng: GasTraffic = GasTraffic()
    lng: GasTraffic = GasTraffic(pull_in_s=(60.0, 120.0), pay_s=(60.0, 180.0))
    ev: EvTraffic = EvTraffic()
    deliveries: list[TankerDelivery] = Field(default_factory=list)
    reorder: Reorder | None = None


class FaultEntry(Strict):
    """One scheduled fault: at ``at``, ``fault`` hits ``device``; cleared after ``duration`` if given."""

    at: Seconds
    device: str = Field(min_length=1)
    fault: str
    args: dict[str, ArgValue] = Field(default_factory=dict)
    duration: Seconds | None = Field(default=None, description="None: stays until the end or a 'clear'")

    @field_validator("fault")
    @classmethod
    def _known(cls, fault: str) -> str:
        if fault not in FAULT_NAMES:
            raise ValueError(f"unknown fault {fault!r}; known: {', '.join(sorted(FAULT_NAMES))}")
        return fault
