"""The commands of the fleets context on enterprises and their money, named as orders; each is handled by one
function in ``handlers.py``. Values are checked by the API's bodies; rules between them where they are made."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from business_services.fleets.model import MAX_BATCH, MAX_CARDS, FleetError, Status, check_credit
from telemetry.contracts.events.payments import Method


@dataclass(frozen=True, slots=True)
class CreateEnterprise:
    """A new enterprise: its code is assigned (E000001 …); it waits for review before its money may move."""

    profile: dict[str, Any]         # the editable fields (model.EDITABLE_FIELDS) with maintaining_station
    by: str

    def __post_init__(self) -> None:
        check_credit(self.profile["settlement"], self.profile["credit_limit_fen"])


@dataclass(frozen=True, slots=True)
class EditEnterprise:
    """Changed fields: most apply at once; the credit line and settlement wait for review."""

    code: str
    changes: dict[str, Any]
    note: str = ""


@dataclass(frozen=True, slots=True)
class SetStatus:
    """Freeze, unfreeze or close one or many enterprises: each change waits for review."""

    codes: tuple[str, ...]
    status: Status
    note: str

    def __post_init__(self) -> None:
        if not 1 <= len(self.codes) <= MAX_BATCH:
            raise FleetError("codes", f"一次 1–{MAX_BATCH} 家企业 (1 to {MAX_BATCH} enterprises a request)")


@dataclass(frozen=True, slots=True)
class CreateGroup:
    name: str
    by: str


@dataclass(frozen=True, slots=True)
class MoveToGroup:
    """Put enterprises in a group (``group_id`` None: in none); applied at once and recorded."""

    codes: tuple[str, ...]
    group_id: int | None

    def __post_init__(self) -> None:
        if not 1 <= len(self.codes) <= MAX_BATCH:
            raise FleetError("codes", f"一次 1–{MAX_BATCH} 家企业 (1 to {MAX_BATCH} enterprises a request)")


@dataclass(frozen=True, slots=True)
class Recharge:
    """企业充值: ``paid_fen`` into the prepaid balance and ``gift_fen`` into the gift balance, once per number."""

    code: str
    recharge_no: str
    paid_fen: int
    gift_fen: int
    method: Method
    station: str
    shift_no: str | None
    at: datetime

    def __post_init__(self) -> None:
        if self.method in (Method.STORED_VALUE, Method.IC_CARD, Method.POINTS, Method.FLEET_CREDIT):
            raise FleetError("method", "不能用储值卡、IC 卡、积分或挂账充值 (pay a recharge in money)")
        if self.method is Method.CASH and not self.shift_no:
            raise FleetError("shift_no", "现金充值须填写班次号 (a cash recharge names the shift whose drawer has it)")


@dataclass(frozen=True, slots=True)
class Allocate:
    """划拨 from the enterprise's prepaid (or gift) balance to its cards, or (``back``) from them back (回收)."""

    code: str
    allocation_no: str
    lines: tuple[tuple[str, int], ...]     # (card_no, amount_fen > 0)
    back: bool
    gift: bool
    at: datetime

    def __post_init__(self) -> None:
        if not 1 <= len(self.lines) <= MAX_CARDS:
            raise FleetError("lines", f"一次划拨 1–{MAX_CARDS} 张卡 (1 to {MAX_CARDS} cards an allocation)")
        if len({card_no for card_no, _ in self.lines}) != len(self.lines):
            raise FleetError("lines", "同一张卡只能出现一次 (each card once)")


@dataclass(frozen=True, slots=True)
class RequestAdjustment:
    """调账: asks; the entry posts when another person with fleet:approve approves."""

    code: str
    adjustment_no: str
    amount_fen: int                 # positive adds to the balance, negative takes from it
    gift: bool
    reason: str

    def __post_init__(self) -> None:
        if self.amount_fen == 0:
            raise FleetError("amount_fen", "调账金额不能为 0 (an adjustment moves some money)")
