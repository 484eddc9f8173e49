"""Wet-stock reconciliation (罐存比对): the pure rules, no I/O.

Every volume here is litres at 20 °C (``telemetry/contracts/vcf.py``, GB/T 1885) unless its name says
``observed``. For one tank (or the tanks of one grade piped together) over one period (a shift or a day):

    book close  = measured open + received deliveries − sales (nozzle totalizers) + transfers in − out
                  + pump tests returned to the tank
    variance    = measured close − book close         (negative: product missing)
    station loss (站耗) = −variance, as % of sales; over tolerance → an alarm condition

Deliveries are found in the gauge's volume series (a rise faster than sales can explain), matched to the
delivery note (卸车记录) the staff entered; road loss (路耗) = invoiced − received. The ARTS four-way
settlement puts four figures of the period's sales side by side: fuelling transactions, nozzle meters, tank
meters (gauge) and physical dip. docs/inventory.md.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

Period = Literal["shift", "day"]
Season = Literal["summer", "winter"]
MOVEMENT_KINDS = ("transfer_in", "transfer_out", "pump_test")
SUMMER_MONTHS = frozenset(range(4, 10))   # GB 11085's 夏秋季 (Apr–Sep); 春冬季 the rest


class InventoryError(ValueError):
    """A bad request: ``field`` names what to correct; the message says how (Chinese first)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def season_of(day: date) -> Season:
    return "summer" if day.month in SUMMER_MONTHS else "winter"


# --- tolerances ----------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Tolerance:
    """How much loss a grade may show in a season before it is an alarm (configurable per grade and season).

    Station loss is allowed up to ``max(station_loss_pct % of sales, station_loss_min_l)`` per period
    (domain.md §2.3: k1 · sales, k2 litres); road loss up to ``road_loss_pct`` % of the invoiced volume."""

    grade: str
    season: Season
    station_loss_pct: float = 0.3
    station_loss_min_l: float = 20.0
    road_loss_pct: float = 0.2

    def __post_init__(self) -> None:
        if not 0 < self.station_loss_pct <= 5:
            raise InventoryError("station_loss_pct", "站耗允许率应在 0–5 % 之间 (station loss % is 0–5)")
        if not 0 <= self.station_loss_min_l <= 1000:
            raise InventoryError("station_loss_min_l", "站耗最小允许量应在 0–1000 升之间 (0–1000 L)")
        if not 0 < self.road_loss_pct <= 5:
            raise InventoryError("road_loss_pct", "路耗允许率应在 0–5 % 之间 (road loss % is 0–5)")

    def station_limit_l(self, sales_l: float) -> float:
        return max(abs(sales_l) * self.station_loss_pct / 100.0, self.station_loss_min_l)

    def road_limit_l(self, invoiced_l: float) -> float:
        return abs(invoiced_l) * self.road_loss_pct / 100.0


# --- gauge series and delivery detection ---------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class GaugeSample:
    at: datetime
    volume_l: float          # at 20 °C
    temperature_c: float


@dataclass(frozen=True, slots=True)
class DetectedDelivery:
    started_at: datetime
    ended_at: datetime
    before_l: float          # gauge volume at 20 °C before the rise
    after_l: float           # after it settled
    rise_l: float            # after − before; received = rise + what was sold meanwhile


@dataclass(frozen=True, slots=True)
class DeliveryRule:
    """Between two gauge readings the level rises with a delivery when it gains at least ``noise_l`` (above the
    probe's noise) and either at more than ``min_rate_l_min`` (a tanker drops 300–1000 L/min; sales only lower
    the level, thermal expansion is a few litres an hour) or by ``step_l`` at once (readings far apart: a gauge
    that reports only changes). A delivery is at least ``min_volume_l``; it has ended once the level has not
    risen so for ``settle``."""

    min_rate_l_min: float = 60.0
    noise_l: float = 5.0
    step_l: float = 50.0
    min_volume_l: float = 200.0
    settle: timedelta = timedelta(minutes=5)

    def rising(self, before: GaugeSample, after: GaugeSample) -> bool:
        gain = after.volume_l - before.volume_l
        minutes = (after.at - before.at).total_seconds() / 60.0
        return gain >= self.noise_l and minutes > 0 and (gain / minutes >= self.min_rate_l_min or gain >= self.step_l)


def detect_deliveries(samples: Sequence[GaugeSample], rule: DeliveryRule | None = None,
                      until: datetime | None = None) -> list[DetectedDelivery]:
    """The deliveries in a time-ordered gauge series (a level rise with no sales pattern). ``until``: the
    series is known to be complete up to then (a gauge that reports only changes sends nothing while still)."""
    rule = rule or DeliveryRule()
    found: list[DetectedDelivery] = []
    start: GaugeSample | None = None
    last_rise: GaugeSample | None = None
    for before, after in itertools.pairwise(samples):
        if rule.rising(before, after):
            if start is None:
                start = before
            last_rise = after
        elif start is not None and last_rise is not None and after.at - last_rise.at >= rule.settle:
            found += _closed(start, last_rise, rule)
            start = last_rise = None
    end = max(until, samples[-1].at) if until is not None and samples else (samples[-1].at if samples else None)
    if start is not None and last_rise is not None and end is not None and end - last_rise.at >= rule.settle:
        found += _closed(start, last_rise, rule)
    return found


def _closed(start: GaugeSample, end: GaugeSample, rule: DeliveryRule) -> list[DetectedDelivery]:
    rise = end.volume_l - start.volume_l
    if rise < rule.min_volume_l:
        return []
    return [DetectedDelivery(start.at, end.at, start.volume_l, end.volume_l, rise)]


def delivering_at(deliveries: Iterable[DetectedDelivery], at: datetime) -> bool:
    return any(d.started_at <= at <= d.ended_at for d in deliveries)


# --- delivery notes and road loss ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DeliveryNote:
    """卸车记录: what the tanker's papers say. ``invoiced_l`` at 20 °C (computed from the observed volume and
    temperature with the note's ρ20 when only those were given)."""

    note_no: str
    tank: int
    arrived_at: datetime
    invoiced_l: float


MATCH_BEFORE = timedelta(hours=6)     # a note may be entered up to this long before the drop began
MATCH_AFTER = timedelta(hours=3)      # … or this long after it ended


def match_notes(deliveries: Sequence[tuple[int, DetectedDelivery]], notes: Sequence[DeliveryNote]
                ) -> dict[int, DeliveryNote]:
    """Each detected delivery (its index → note) with the unmatched note of its tank nearest in time."""
    taken: set[str] = set()
    matched: dict[int, DeliveryNote] = {}
    for index, (tank, delivery) in sorted(enumerate(deliveries), key=lambda d: d[1][1].started_at):
        candidates = [n for n in notes if n.tank == tank and n.note_no not in taken
                      and delivery.started_at - MATCH_BEFORE <= n.arrived_at <= delivery.ended_at + MATCH_AFTER]
        if candidates:
            best = min(candidates, key=lambda n: abs((n.arrived_at - delivery.started_at).total_seconds()))
            taken.add(best.note_no)
            matched[index] = best
    return matched


@dataclass(frozen=True, slots=True)
class RoadLoss:
    invoiced_l: float
    received_l: float
    loss_l: float            # invoiced − received (positive: less arrived than invoiced)
    loss_pct: float
    limit_l: float
    exceeded: bool


def road_loss(invoiced_l: float, received_l: float, tolerance: Tolerance) -> RoadLoss:
    loss = invoiced_l - received_l
    pct = loss / invoiced_l * 100.0 if invoiced_l else 0.0
    limit = tolerance.road_limit_l(invoiced_l)
    return RoadLoss(invoiced_l, received_l, loss, pct, limit, loss > limit)


# --- the reconciliation --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Movements:
    transfer_in_l: float = 0.0
    transfer_out_l: float = 0.0
    pump_test_l: float = 0.0       # drawn through a nozzle (counted by its totalizer) and poured back


@dataclass(frozen=True, slots=True)
class Arts:
    """ARTS four-way settlement: the period's sales as four instruments see them (None: no data)."""

    transactions_l: float | None    # Σ fuelling transactions
    nozzle_meters_l: float | None   # Σ nozzle totalizer movements
    tank_meters_l: float | None     # gauge: open + deliveries − close (+ transfers)
    dip_l: float | None             # physical dip: the same from the staff's dips

    def spreads(self) -> dict[str, float | None]:
        """Each instrument against the nozzle meters (the reference), litres."""
        ref = self.nozzle_meters_l
        return {name: (None if value is None or ref is None else value - ref)
                for name, value in (("transactions", self.transactions_l), ("tank_meters", self.tank_meters_l),
                                    ("dip", self.dip_l))}


@dataclass(frozen=True, slots=True)
class Reconciliation:
    tank: int
    tanks: tuple[int, ...]
    grade: str
    period: Period
    period_key: str                  # the day (YYYY-MM-DD) or the shift number
    starts_at: datetime
    ends_at: datetime
    opening_l: float | None
    deliveries_l: float
    sales_l: float                   # nozzle totalizers, at 20 °C
    sales_observed_l: float          # the same as the meters counted them
    movements: Movements
    book_l: float | None
    closing_l: float | None
    variance_l: float | None
    loss_pct: float | None           # station loss as % of sales (positive: a loss)
    limit_l: float
    exceeded: bool
    arts: Arts
    notes: tuple[str, ...] = field(default=())

    @property
    def status(self) -> str:
        if self.variance_l is None:
            return "incomplete"
        return "exceeded" if self.exceeded else "ok"


def reconcile(*, tank: int, tanks: tuple[int, ...], grade: str, period: Period, period_key: str,
              starts_at: datetime, ends_at: datetime, opening_l: float | None, closing_l: float | None,
              deliveries_l: float, sales_observed_l: float, sales_vcf: float, movements: Movements,
              transactions_l: float | None, nozzle_meters_l: float | None, dip_open_l: float | None,
              dip_close_l: float | None, tolerance: Tolerance) -> Reconciliation:
    """One tank group over one period. ``sales_vcf``: VCF20 at the tank's mean temperature over the period
    (the meters count litres at the product's temperature)."""
    sales = sales_observed_l * sales_vcf
    net_moves = movements.transfer_in_l - movements.transfer_out_l + movements.pump_test_l * sales_vcf
    notes: list[str] = []
    book = None if opening_l is None else opening_l + deliveries_l - sales + net_moves
    variance = None if book is None or closing_l is None else closing_l - book
    if opening_l is None or closing_l is None:
        notes.append("缺少液位仪读数，无法比对 (no gauge reading at the period's start or end)")
    tank_meters = None if opening_l is None or closing_l is None else \
        (opening_l + deliveries_l + net_moves - closing_l) / sales_vcf
    dip = None if dip_open_l is None or dip_close_l is None else \
        (dip_open_l + deliveries_l + net_moves - dip_close_l) / sales_vcf
    limit = tolerance.station_limit_l(sales)
    loss_pct = None if variance is None or sales == 0 else -variance / sales * 100.0
    exceeded = variance is not None and -variance > limit
    return Reconciliation(tank, tanks, grade, period, period_key, starts_at, ends_at, opening_l, deliveries_l,
                          sales, sales_observed_l, movements, book, closing_l, variance, loss_pct, limit, exceeded,
                          Arts(transactions_l, nozzle_meters_l, tank_meters, dip), tuple(notes))


# --- tanks sharing a grade -----------------------------------------------------------------------------

def tank_groups(tanks: Iterable[tuple[int, str]]) -> dict[int, tuple[str, tuple[int, ...]]]:
    """Tanks that hold one grade are reconciled together (a nozzle of the grade may draw from any of them):
    the group is named by its lowest tank number → (grade, its tanks)."""
    by_grade: dict[str, list[int]] = {}
    for number, grade in sorted(tanks):
        by_grade.setdefault(grade, []).append(number)
    return {numbers[0]: (grade, tuple(numbers)) for grade, numbers in by_grade.items()}


# --- the alarm condition -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Condition:
    """An alarm condition for the alarm engine's external seam: (station, rule, source) is one condition;
    ``active`` raises it, False clears it (docs/inventory.md "Alarms")."""

    station: str
    rule: str
    source: str
    active: bool
    value: float
    limit: float
    message: str


STATION_LOSS_RULE = "inventory.station_loss"
ROAD_LOSS_RULE = "inventory.road_loss"


def station_loss_condition(station: str, r: Reconciliation) -> Condition:
    loss = 0.0 if r.variance_l is None else -r.variance_l
    period = "班次" if r.period == "shift" else "日"
    return Condition(station, STATION_LOSS_RULE, f"tank-{r.tank}/{r.period}", r.exceeded, round(loss, 2),
                     round(r.limit_l, 2),
                     f"{r.tank} 号罐 {period}站耗 {loss:.1f} 升超出允许 {r.limit_l:.1f} 升（{r.period_key}）"
                     if r.exceeded else f"{r.tank} 号罐站耗正常（{r.period_key}）")


def road_loss_condition(station: str, tank: int, note_no: str, loss: RoadLoss) -> Condition:
    return Condition(station, ROAD_LOSS_RULE, f"tank-{tank}/{note_no}", loss.exceeded, round(loss.loss_l, 2),
                     round(loss.limit_l, 2),
                     f"卸车单 {note_no} 路耗 {loss.loss_l:.1f} 升超出允许 {loss.limit_l:.1f} 升"
                     if loss.exceeded else f"卸车单 {note_no} 路耗正常")


# --- commands -------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RecordDeliveryNote:
    station: str
    note_no: str
    tank: int
    supplier: str
    carrier: str
    vehicle: str
    arrived_at: datetime
    invoiced_l_20: float | None
    invoiced_l_observed: float | None
    observed_temperature_c: float | None
    density_20: float | None

    def __post_init__(self) -> None:
        if not 1 <= self.tank <= 99:
            raise InventoryError("tank", "罐号应在 1 到 99 之间 (a tank number is 1 to 99)")
        if not self.note_no.strip():
            raise InventoryError("note_no", "请填写卸车单号 (enter the delivery note number)")
        if self.invoiced_l_20 is None and (self.invoiced_l_observed is None or self.observed_temperature_c is None):
            raise InventoryError("invoiced_l_20", "请填写标准体积（20 °C），或视体积与油温 "
                                                  "(give the volume at 20 °C, or the observed volume and temperature)")
        for name, value in (("invoiced_l_20", self.invoiced_l_20), ("invoiced_l_observed", self.invoiced_l_observed)):
            if value is not None and not 0 < value <= 100_000:
                raise InventoryError(name, "体积应在 0–100000 升之间 (a volume is 0–100 000 L)")


@dataclass(frozen=True, slots=True)
class RecordDip:
    """A manual dip (人工量油): the level read on the stick, and the volume from the tank's chart."""

    station: str
    tank: int
    dipped_at: datetime
    level_mm: float
    water_mm: float
    volume_l: float               # at the observed temperature, from the tank chart (容积表)
    temperature_c: float

    def __post_init__(self) -> None:
        if not 1 <= self.tank <= 99:
            raise InventoryError("tank", "罐号应在 1 到 99 之间 (a tank number is 1 to 99)")
        if not 0 <= self.level_mm <= 5000:
            raise InventoryError("level_mm", "油高应在 0–5000 毫米之间 (level 0–5000 mm)")
        if not 0 <= self.water_mm <= self.level_mm:
            raise InventoryError("water_mm", "水高应在 0 与油高之间 (water is 0 to the level)")
        if not 0 <= self.volume_l <= 200_000:
            raise InventoryError("volume_l", "体积应在 0–200000 升之间 (0–200 000 L)")
        if not -40 <= self.temperature_c <= 80:
            raise InventoryError("temperature_c", "油温应在 −40–80 °C 之间 (temperature −40–80 °C)")


@dataclass(frozen=True, slots=True)
class RecordMovement:
    """A transfer between tanks (倒罐) or a pump test returned to the tank (回罐)."""

    station: str
    tank: int
    kind: str
    litres: float
    at: datetime
    reference: str                 # the staff's own number for it: a retry with the same one changes nothing

    def __post_init__(self) -> None:
        if self.kind not in MOVEMENT_KINDS:
            raise InventoryError("kind", f"类别应为 {', '.join(MOVEMENT_KINDS)} (kind is one of these)")
        if not 0 < self.litres <= 100_000:
            raise InventoryError("litres", "体积应在 0–100000 升之间 (0–100 000 L)")
        if not self.reference.strip():
            raise InventoryError("reference", "请填写单号 (enter a reference number)")


@dataclass(frozen=True, slots=True)
class SetTolerance:
    tolerance: Tolerance


@dataclass(frozen=True, slots=True)
class ReconcileDay:
    station: str
    day: date


@dataclass(frozen=True, slots=True)
class ReconcileShift:
    station: str
    shift_no: str
