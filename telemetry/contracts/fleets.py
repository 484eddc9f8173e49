"""Fleet cards as they travel between a station server and head office (docs/fleets.md).

Head office owns enterprises, their cards, limits and money. Before a pump is authorised for a fleet card the
station server asks head office ``POST /api/v1/fleet-authorisations`` (``FleetAsk``; its API key, permission
``payment:online``): head office decides by ``business_services/fleets/limits.py::decide`` under the card's row
lock and reserves the preset until the fuelling ends (``FleetAnswer``). The station sends the pump that preset
(``command.authorize_nozzle``, preset by amount), then pays the fuelling's order with ``fleet_credit``: head
office captures the actual amount (``POST /api/v1/fleet-payments``, ``FleetCapture``) and releases the rest of
the reservation; a fuelling that never started releases it (``POST /api/v1/fleet-authorisations/{auth_no}/release``).
While head office is unreachable the station decides alone, with the same rule, from the fleet cards on its
member list (``ListedFleetCard``) and its own usage since; its captures go up marked ``offline`` when the link
returns and head office records each once (by station and payment number), whatever the limits say by then.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from telemetry.contracts.events.fields import UtcTime
from telemetry.contracts.events.payments import DocumentNo
from telemetry.contracts.identifiers import Code
from telemetry.contracts.members import ENTERPRISE_CODE, CardNo, ListedFleetCard, Plate

__all__ = ["AuthNo", "EnterpriseCode", "FleetAnswer", "FleetAsk", "FleetCapture", "ListedFleetCard", "Pin"]

#: an enterprise (企业车队) code: E and six digits
EnterpriseCode = ENTERPRISE_CODE
#: an authorisation number, the station's: <station>-<yyyymmdd>-A<serial>
AuthNo = DocumentNo
Pin = Annotated[str, Field(pattern=r"^[0-9]{4,6}$")]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FleetAsk(_Frozen):
    """May this card (or the fleet card of this plate) fuel at this nozzle, and how much?"""

    auth_no: AuthNo
    station: Code
    card_no: CardNo | None = None
    plate: Plate | None = None                  # the vehicle at the pump; alone, it names its vehicle card
    pin: Pin | None = None
    nozzle: Annotated[str, Field(min_length=1, max_length=32)]   # the station's nozzle key, e.g. "disp-01/1"
    grade: Annotated[int, Field(ge=0, le=9999)]
    fen_per_l: Annotated[int, Field(gt=0, le=100000)]
    wanted_fen: Annotated[int, Field(gt=0, le=10_000_000)] | None = None
    at: UtcTime
    #: 车牌无感支付: the plate was recognised at the fuelling position and the fuelling is over; no PIN is asked,
    #: but the card must allow it (``drive_through`` on the card). Optional: older stations' asks validate as before.
    drive_through: bool = False


class FleetAnswer(_Frozen):
    auth_no: AuthNo
    allowed: bool
    preset_fen: Annotated[int, Field(ge=0)]
    code: Annotated[str, Field(max_length=32)]          # limits.Decision.code
    reason: Annotated[str, Field(max_length=200)]       # shown to the cashier
    card_no: CardNo | None = None
    enterprise: EnterpriseCode | None = None
    enterprise_name: Annotated[str, Field(max_length=100)] = ""
    plate: Plate | None = None
    expires_at: UtcTime | None = None                   # an unused reservation is released then
    offline: bool = False                               # decided by the station alone


class FleetCapture(_Frozen):
    """A fleet sale paid: the actual amount of the fuelling(s) the authorisation covered."""

    station: Code
    payment_no: DocumentNo
    auth_no: AuthNo | None = None
    card_no: CardNo
    amount_fen: Annotated[int, Field(gt=0)]
    order_nos: tuple[DocumentNo, ...] = Field(min_length=1)
    litres_ml: Annotated[int, Field(ge=0)] = 0
    grade: Annotated[int, Field(ge=0, le=9999)] | None = None
    plate: Plate | None = None
    paid_at: UtcTime
    offline: bool = False
