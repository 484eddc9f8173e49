"""Pure rules of vehicles (no I/O): the commands on vehicle records, plate bindings, entry/exit records and the
plate blacklist, and what makes them valid. Plates are checked by ``members.model.plate`` (one rule), and the
errors are the members context's (one hierarchy for the part: 422, 409, 404)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from business_services.members.model import MemberError

MODEL_MAX, COLOUR_MAX, REASON_MAX = 32, 16, 200


class Direction(StrEnum):
    ENTRY = "entry"     # 入场
    EXIT = "exit"       # 出场


class PassageSource(StrEnum):
    MANUAL = "manual"   # entered by hand (today)
    VISION = "vision"   # a lane camera (the vision issue)


def text(field: str, value: str, label: str, most: int, *, required: bool = False) -> str:
    value = value.strip()
    if required and not value:
        raise MemberError(field, f"请填写{label} ({field} is required)")
    if len(value) > most:
        raise MemberError(field, f"{label}最多 {most} 个字 ({field}: at most {most} characters)")
    return value


@dataclass(frozen=True, slots=True)
class BindVehicle:
    """Bind ``plate`` to the member (a new vehicle record, or a record without a member); the same binding again
    changes nothing; a plate bound to another member is a conflict."""

    member_no: str
    plate: str
    model: str = ""
    colour: str = ""


@dataclass(frozen=True, slots=True)
class EditVehicle:
    vehicle_id: int
    model: str
    colour: str


@dataclass(frozen=True, slots=True)
class UnbindVehicle:
    vehicle_id: int


@dataclass(frozen=True, slots=True)
class BlockPlate:
    plate: str
    reason: str


@dataclass(frozen=True, slots=True)
class UnblockPlate:
    plate: str
    reason: str


@dataclass(frozen=True, slots=True)
class RecordPassage:
    plate: str
    station: str
    direction: Direction
    at: datetime
    source: PassageSource = PassageSource.MANUAL
    lane: str = ""
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class JoinFleet:
    """The vehicle of ``plate`` joins the whitelist of the fleet enterprise ``fleet_id`` (its vehicle card was
    issued; business_services/fleets/cards.py): a new record, or the record of a member's car; a vehicle of another
    fleet is a conflict."""

    plate: str
    fleet_id: int
