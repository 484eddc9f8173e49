"""Pure rules of drive-through payment (无感支付; docs/vision.md "Drive-through payment"), no I/O.

``refusal``: whether a recognised plate may attach its member to the fuelling position (None: it may), the one
place that decides it; ``expires``: when an attachment lapses if no fuelling takes it.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from telemetry.contracts.events.payments import Method
from telemetry.contracts.members import ListedMember

ATTACH_MINUTES = 10          # a setting: FORECOURT_DRIVE_THROUGH_MINUTES
MIN_CONFIDENCE = 0.90        # a setting: FORECOURT_DRIVE_THROUGH_CONFIDENCE (a plate read below it is not trusted)

NOT_A_MEMBER = "车牌未绑定会员，请收银员收款 (the plate is bound to no member: the cashier takes it)"
NOT_OPTED_IN = "会员未开通无感支付，请收银员收款 (the member has not opted in: the cashier takes it)"
NOT_ACTIVE = "会员状态不可用，请收银员收款 (the member is frozen or closed: the cashier takes it)"
UNCERTAIN = "车牌识别置信度不足，请收银员收款 (the plate was not read surely enough: the cashier takes it)"
NO_CARD = "会员未指定无感支付的储值卡，请收银员收款 (no stored-value card chosen: the cashier takes it)"
NOT_YET = "该支付方式的无感支付尚未开通，请收银员收款 (this method does not pay by itself yet: the cashier takes it)"
IDLE = "油枪挂枪未加油，关联已失效 (the position went idle without fuel: the attachment lapsed)"
REPLACED = "同一油位识别到另一辆车，关联已失效 (another car was recognised at the position)"
DECLINED = "会员在手机上否认是本人车辆，请收银员收款 (the member said it was not their car: the cashier takes it)"
UNANSWERED = "会员未在时限内确认，请收银员收款 (the member did not confirm in time: the cashier takes it)"
CONFIRM_MINUTES = 10         # a setting: FORECOURT_DRIVE_THROUGH_CONFIRM_MINUTES (每次确认's window)

#: the member's choice → the tender's method: stored value, and 免密支付 (a deduction by the member's agreement
#: with WeChat Pay, through head office: never offline). Fleet credit is the vehicle card's, not a member's choice
#: (an attachment of a plate that is no member's but a fleet vehicle card's that allows it: ``fleet.py``).
PAYS_ITSELF = {"stored_value": Method.STORED_VALUE, "agreement": Method.AGREEMENT,
               "fleet_credit": Method.FLEET_CREDIT}


def attach_minutes() -> int:
    return int(os.environ.get("FORECOURT_DRIVE_THROUGH_MINUTES", ATTACH_MINUTES))


def confirm_minutes() -> int:
    return int(os.environ.get("FORECOURT_DRIVE_THROUGH_CONFIRM_MINUTES", CONFIRM_MINUTES))


def min_confidence() -> float:
    return float(os.environ.get("FORECOURT_DRIVE_THROUGH_CONFIDENCE", MIN_CONFIDENCE))


def refusal(members: list[ListedMember], confidence: float, threshold: float) -> str | None:
    """Why the plate does not attach a member (None: ``members[0]`` attaches). A plate bound to two members is
    ambiguous and left to the cashier like an unbound one."""
    if confidence < threshold:
        return UNCERTAIN
    if len(members) != 1:
        return NOT_A_MEMBER
    member = members[0]
    if member.status != "active":
        return NOT_ACTIVE
    if member.drive_through == "off":
        return NOT_OPTED_IN
    if member.drive_through == "stored_value" and member.drive_through_card_no is None:
        return NO_CARD
    return None


def expires(attached_at: datetime, minutes: int) -> datetime:
    return attached_at + timedelta(minutes=minutes)


def settled(answer: str | None, now: datetime, expires_at: datetime) -> tuple[str, str] | None:
    """What becomes of an awaiting order given head office's ``answer`` (``confirmed``, ``declined``, ``awaiting``;
    None: no answer yet, head office has not heard of it): (state, reason), or None while it waits. Confirmed is
    paid as any member's order; declined, or still unanswered after the window, goes to the cashier."""
    if answer == "confirmed":
        return "due", ""
    if answer == "declined":
        return "cashier", DECLINED
    if now > expires_at:
        return "cashier", UNANSWERED
    return None
