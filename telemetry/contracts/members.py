"""Members, cards and vehicles as they travel: identifiers, and the member list a station keeps for offline sales.

Head office owns members, cards, vehicles and points (ARCHITECTURE.md "Two roles"). A station server sells
to members without head office by the **member list**: what it needs to recognise a customer (by phone, card,
QR or plate) and to take a stored-value payment within the card's offline limits. The list is a change feed:
head office appends a change (``ListChange``) whenever a listed member, card or plate changes, numbered by
one sequence (``seq``); each station server pulls ``GET /api/v1/stations/{station}/member-list?after=<seq>``
with its API key (``payment:online``), keeps what it pulled in its own database and reports the highest
``seq`` it holds by asking for the next page (head office records it). A full list is the feed from 0.
A phone number never leaves head office in the clear: the list carries its masked form and its keyed hash
(``phone_digest``) so that a cashier who types a phone can still find the member offline.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from telemetry.contracts.events.fields import UtcTime

#: a member number, e.g. ``M00012345`` (business_services/members)
MemberNo = Annotated[str, Field(pattern=r"^M[0-9]{8,12}$")]
#: a card number as printed on the card: 16 or 19 digits (Sinopec/CNPC style); an electronic card the same
CardNo = Annotated[str, Field(pattern=r"^[0-9]{16}([0-9]{3})?$")]
#: a Chinese plate: province character, letter, then 5 (fuel) or 6 (new energy) letters/digits
Plate = Annotated[str, Field(pattern=r"^[\u4e00-\u9fa5][A-Z][A-Z0-9]{5,6}$")]
#: an enterprise (企业车队) code: E and six digits (business_services/fleets)
ENTERPRISE_CODE = Annotated[str, Field(pattern=r"^E[0-9]{6}$")]
#: how a member's recognised plate pays by itself (无感支付); "agreement": a payment provider's 免密支付 agreement
DriveThroughMethod = Literal["off", "stored_value", "fleet_credit", "agreement"]
#: a hex digest of a phone number keyed by the company group (``phone_digest``)
PhoneDigest = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


def phone_digest(phone: str, group: str) -> str:
    """The keyed hash a station looks a phone up by: the same phone in the same company is the same digest."""
    return hmac.new(group.encode(), phone.strip().encode(), hashlib.sha256).hexdigest()


def mask_phone(phone: str) -> str:
    """138****5678: what a screen shows to a user without ``pii:read``."""
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "****"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ListedMember(_Frozen):
    member_no: MemberNo
    name_masked: Annotated[str, Field(max_length=32)]        # 张** (never the whole name)
    phone_masked: Annotated[str, Field(max_length=16)]
    phone_digest: PhoneDigest
    level: Annotated[str, Field(min_length=1, max_length=32)]      # the level's code
    level_name: Annotated[str, Field(min_length=1, max_length=32)]
    discount_pct: Annotated[int, Field(ge=0, le=100)] = 0    # the level's discount on fuel (0: none)
    plates: tuple[Plate, ...] = ()
    qr_token: Annotated[str, Field(max_length=64)] | None = None   # what the member's QR code carries
    status: Literal["active", "frozen", "closed"] = "active"
    #: 无感支付 (docs/vision.md "Drive-through payment"): how a recognised plate of this member pays; "off": the
    #: cashier takes it. Optional with defaults: a station that does not know them reads the list as before.
    drive_through: DriveThroughMethod = "off"
    drive_through_card_no: CardNo | None = None        # stored value: the card it pays from
    #: 每次确认: the order waits for the member's one tap on the customer H5 (pushed to them) before it is paid by
    #: ``drive_through``; False: paid at once and the member is told (issue 20 item 5; docs/vision.md).
    drive_through_confirm: bool = False


class ListedCard(_Frozen):
    """A card the station may take offline, with its limits. ``offline_limit_fen``: at most this per payment
    while head office is unreachable; ``offline_daily_fen``: at most this a day at this station offline (both
    0: never offline). Restrictions (plates, grades, litres, fills) hold online and offline."""

    card_no: CardNo
    kind: Literal["stored_value", "ic"]
    member_no: MemberNo | None = None
    main_card_no: CardNo | None = None           # a sub card's main card
    status: Literal["active", "frozen", "lost", "closed"]
    offline_limit_fen: Annotated[int, Field(ge=0)] = 0
    offline_daily_fen: Annotated[int, Field(ge=0)] = 0
    plates: tuple[Plate, ...] = ()               # empty: any vehicle
    grades: tuple[int, ...] = ()                 # empty: any grade
    daily_limit_fen: Annotated[int, Field(ge=0)] | None = None
    litres_per_fill: Annotated[int, Field(ge=0)] | None = None
    fills_per_day: Annotated[int, Field(ge=0)] | None = None
    stations: tuple[str, ...] = ()              # empty: every station of the chain
    balance_fen: Annotated[int, Field(ge=0)]     # at the time of the change (shown offline as "约")


class ListedFleetCard(_Frozen):
    """A fleet card (telemetry/contracts/fleets.py) on a station's member list: what the station needs to
    decide alone (business_services/fleets/limits.py::CardLimits) and how much it may spend offline.
    ``available_fen`` is the card's balance or the enterprise's remaining credit at the time of the change;
    offline the station spends at most ``min(available_fen, offline_limit_fen)`` a day, less its own offline
    sales since."""

    card_no: CardNo
    enterprise: ENTERPRISE_CODE
    enterprise_name: Annotated[str, Field(max_length=100)]
    status: Literal["active", "frozen", "lost", "closed"]
    enterprise_status: Literal["normal", "frozen", "closed"]
    pays_from: Literal["card", "credit"]
    plate: Plate | None = None
    pin_hash: Annotated[str, Field(max_length=200)] | None = None   # argon2: a PIN is checked offline too
    grades: tuple[int, ...] = ()
    stations: tuple[str, ...] = ()
    hours: tuple[int, int] | None = None
    per_fill_fen: Annotated[int, Field(gt=0)] | None = None
    litres_per_fill: Annotated[int, Field(gt=0)] | None = None
    daily_fen: Annotated[int, Field(gt=0)] | None = None
    weekly_fen: Annotated[int, Field(gt=0)] | None = None
    monthly_fen: Annotated[int, Field(gt=0)] | None = None
    fills_per_day: Annotated[int, Field(gt=0)] | None = None
    fills_per_week: Annotated[int, Field(gt=0)] | None = None
    fills_per_month: Annotated[int, Field(gt=0)] | None = None
    offline_limit_fen: Annotated[int, Field(ge=0)] = 0
    available_fen: int
    #: 车牌无感支付: the enterprise lets this vehicle card pay by its recognised plate without the PIN (issue 20
    #: item 5; docs/vision.md). Optional with a default: a station on older code reads the list as before.
    drive_through: bool = False


class BlockedPlate(_Frozen):
    plate: Plate
    reason: Annotated[str, Field(max_length=200)]


class ListChange(_Frozen):
    """One change of the member list. ``item`` None: the key is no longer listed (closed, erased, unblocked)."""

    seq: Annotated[int, Field(ge=1)]
    kind: Literal["member", "card", "fleet_card", "blocked_plate"]
    key: Annotated[str, Field(min_length=1, max_length=64)]     # member_no, card_no or plate
    item: ListedMember | ListedCard | ListedFleetCard | BlockedPlate | None
    at: UtcTime


class ListPage(_Frozen):
    """An answer of the feed: changes after ``after`` in ``seq`` order; ``more`` when another page follows."""

    items: tuple[ListChange, ...]
    next_after: Annotated[int, Field(ge=0)]
    more: bool
