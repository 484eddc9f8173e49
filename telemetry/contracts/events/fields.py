"""Exact field types for event payloads: quantities as ``Decimal`` with fixed places, times in UTC.

On the wire a quantity is a JSON string ("41.38"), so no float ever rounds it; a JSON number is
still read when its value has no more places than the field allows (events written before the
upgrade carried numbers). Quantities a device measures as a float (a gas skid's mass, a tank
gauge's volume, a charging session's energy) are rounded once, here, to the places the device
shows (``RoundedFrom``); litres of a fuelling are never rounded: the pump counts whole centilitres.
Money is an ``int`` of fen, never a quantity type.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def rounded(value: object, places: int) -> object:
    """A float rounded half-even to ``places`` decimals as a ``Decimal``; anything else unchanged (validated later)."""
    if isinstance(value, float):
        return Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    return value


def _rounded_to(places: int) -> BeforeValidator:
    return BeforeValidator(lambda value: rounded(value, places))


#: an aware time, kept in UTC (a naive time is refused: nobody could tell which zone it meant)
UtcTime = Annotated[AwareDatetime, AfterValidator(_utc)]
#: litres to 0.01 L, exact
Litres = Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=2)]
#: litres a gauge measured as a float, rounded to 0.01 L
GaugeLitres = Annotated[Litres, _rounded_to(2)]
#: kilograms to 0.01 kg (what a gas dispenser displays); a float reading is rounded to that
Kilograms = Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=2), _rounded_to(2)]
#: kilowatt-hours to 0.001 kWh (whole watt-hours); a float is rounded to that
KilowattHours = Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=3), _rounded_to(3)]
Fen = Annotated[int, Field(ge=0)]
