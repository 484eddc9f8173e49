"""Station master data: the pure rules (no I/O).

What a station is made of (stations, devices, fuelling points and their nozzles, tanks, shift definitions
and the schedule), the grade catalogue, the checks a change must pass, and the version rule of the list
that goes down to the station: every change that alters something makes version ``n + 1``; a change that
alters nothing (a retried request) keeps ``n``. The edge keeps a list only when its version is newer
(``telemetry.contracts.master_data.newer``).
Errors are ``MasterDataError`` with a field and a message in Chinese first, then English.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time
from typing import Any, Literal

from telemetry.contracts.identifiers import CODE_PATTERN

#: the operating company of a station that names none (and of one whose master data has not arrived yet)
DEFAULT_GROUP = "demo-co"


@dataclass(frozen=True, slots=True)
class Grade:
    code: str
    name: str          # what people read on screen
    unit: Literal["L", "kg"]
    kind: Literal["gasoline", "diesel", "cng", "lng"]


#: The grades a station may sell, by code; the code is what nozzles and tanks refer to.
GRADES: dict[str, Grade] = {g.code: g for g in (
    Grade("92", "92#汽油", "L", "gasoline"),
    Grade("95", "95#汽油", "L", "gasoline"),
    Grade("98", "98#汽油", "L", "gasoline"),
    Grade("0", "0#柴油", "L", "diesel"),
    Grade("cng", "CNG", "kg", "cng"),
    Grade("lng", "LNG", "kg", "lng"),
)}

DEVICE_KINDS = ("dispenser", "tank-gauge", "gas-skid", "gas-detector", "charger", "camera", "other")
_CODE = re.compile(CODE_PATTERN)


class MasterDataError(ValueError):
    """A change that breaks a rule; ``field`` names what to correct."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class NotFound(LookupError):
    """The station (or its part) a command names does not exist."""


class Conflict(ValueError):
    """A create of something that exists already."""


# --- records ---------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class StationRecord:
    code: str
    name: str
    company_group: str = DEFAULT_GROUP             # the operating company: MQTT topics' group level
    region: str = ""
    address: str = ""
    latitude: float | None = None
    longitude: float | None = None
    contacts: tuple[tuple[str, str], ...] = ()     # (name, phone)
    opening_hours: str = ""                        # e.g. "00:00-24:00" or "06:00-22:00"
    photos: tuple[str, ...] = ()
    responsible: str = ""                          # who answers for the station (站长)
    timezone: str = "Asia/Shanghai"


@dataclass(frozen=True, slots=True)
class Device:
    code: str
    kind: str
    settings: dict[str, Any]        # the edge's device entry without ``code`` (and, for a dispenser, its counts)


@dataclass(frozen=True, slots=True)
class Tank:
    number: int
    grade: str
    capacity_l: float


@dataclass(frozen=True, slots=True)
class Nozzle:
    device: str
    fuelling_point: int
    number: int
    grade: str | None               # None: not yet assigned (sells nothing)


@dataclass(frozen=True, slots=True)
class ShiftDefinition:
    code: str
    name: str                       # 早班, 中班, 晚班
    starts: time
    ends: time                      # may be before ``starts``: the shift runs past midnight


@dataclass(frozen=True, slots=True)
class ScheduleDay:
    day: date
    shift: str
    staff: tuple[str, ...]          # usernames


# --- checks ----------------------------------------------------------------------------------------

def check_code(value: str, field: str) -> str:
    if not _CODE.match(value):
        raise MasterDataError(field, f"编码 {value!r} 不合规：小写字母、数字和连字符，最长 32 位 "
                                     "(a code is lowercase letters, digits and hyphens, at most 32)")
    return value


def check_station(s: StationRecord) -> StationRecord:
    check_code(s.code, "code")
    if not s.name.strip():
        raise MasterDataError("name", "请填写站点名称 (give the station a name)")
    if s.latitude is not None and not -90 <= s.latitude <= 90:
        raise MasterDataError("latitude", "纬度应在 -90 到 90 之间 (latitude is between -90 and 90)")
    if s.longitude is not None and not -180 <= s.longitude <= 180:
        raise MasterDataError("longitude", "经度应在 -180 到 180 之间 (longitude is between -180 and 180)")
    if s.opening_hours and not re.fullmatch(r"([01]\d|2[0-4]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d", s.opening_hours):
        raise MasterDataError("opening_hours", "营业时间格式为 HH:MM-HH:MM (opening hours as HH:MM-HH:MM)")
    return s


def check_grade(code: str | None, field: str = "grade") -> str | None:
    if code is not None and code not in GRADES:
        raise MasterDataError(field, f"没有油品 {code!r}；可选 {', '.join(GRADES)} "
                                     "(no such grade; choose one of these)")
    return code


def check_tank(tank: Tank) -> Tank:
    if not 1 <= tank.number <= 99:
        raise MasterDataError("number", "罐号应在 1 到 99 之间 (a tank number is 1 to 99)")
    check_grade(tank.grade)
    if not 0.1 <= tank.capacity_l <= 200_000:     # kept to 0.1 L: anything smaller would be stored as 0
        raise MasterDataError("capacity_l", "罐容应在 0.1 到 200000 L 之间 (capacity is 0.1 to 200 000 L)")
    return tank


def check_nozzle(nozzle: Nozzle, tanks: list[Tank], devices: list[Device]) -> Nozzle:
    """A nozzle sits on a dispenser of the station and sells a grade that a tank of the station holds."""
    if not any(d.code == nozzle.device and d.kind == "dispenser" for d in devices):
        raise MasterDataError("device", f"站内没有加油机 {nozzle.device} "
                                        f"(no dispenser {nozzle.device} at this station)")
    if not 1 <= nozzle.fuelling_point <= 4:
        raise MasterDataError("fuelling_point", "加油点编号应在 1 到 4 之间 (a fuelling point is 1 to 4)")
    if not 1 <= nozzle.number <= 4:
        raise MasterDataError("number", "油枪编号应在 1 到 4 之间 (a nozzle is 1 to 4)")
    check_grade(nozzle.grade)
    if nozzle.grade is not None and not any(t.grade == nozzle.grade for t in tanks):
        raise MasterDataError("grade", f"站内没有储存 {GRADES[nozzle.grade].name} 的油罐，请先建罐 "
                                       f"(no tank of this station holds {nozzle.grade}; add the tank first)")
    return nozzle


def check_tank_removal(tank_number: int, tanks: list[Tank], nozzles: list[Nozzle]) -> None:
    """A tank may go only if its grade is still in another tank or no nozzle sells it."""
    gone = next((t for t in tanks if t.number == tank_number), None)
    if gone is None:
        return
    rest = [t for t in tanks if t.number != tank_number]
    if any(n.grade == gone.grade for n in nozzles) and not any(t.grade == gone.grade for t in rest):
        raise MasterDataError("number", f"仍有油枪销售 {GRADES[gone.grade].name}，请先改油枪 "
                                        "(nozzles still sell this grade; change them first)")


def check_shift(shift: ShiftDefinition) -> ShiftDefinition:
    check_code(shift.code, "code")
    if not shift.name.strip():
        raise MasterDataError("name", "请填写班次名称 (give the shift a name)")
    if shift.starts == shift.ends:
        raise MasterDataError("ends", "班次开始与结束不能相同 (a shift cannot start and end at the same time)")
    return shift


def check_schedule(day: ScheduleDay, shifts: list[ShiftDefinition]) -> ScheduleDay:
    if not any(s.code == day.shift for s in shifts):
        raise MasterDataError("shift", f"没有班次 {day.shift}，请先定义班次 (no shift {day.shift}; define it first)")
    if len(set(day.staff)) != len(day.staff):
        raise MasterDataError("staff", "同一员工在同一班次只能排一次 (a person appears once per shift)")
    return day


def fuelling_point_counts(nozzles: list[Nozzle], device: str) -> tuple[int, int]:
    """(fuelling points, nozzles per point) of a dispenser, as its station-file entry says them."""
    mine = [n for n in nozzles if n.device == device]
    if not mine:
        return 1, 1
    return max(n.fuelling_point for n in mine), max(n.number for n in mine)


# --- the list's version ----------------------------------------------------------------------------

def next_version(current: int, before: Any, after: Any) -> int:
    """The list's version after a change from ``before`` to ``after``: one more when something changed."""
    return current if before == after else current + 1

