"""Pure rules of fleet enterprises (企业车队; docs/fleets.md "Enterprises and accounts"): their codes, statuses,
which changes wait for a second person's review, and when an enterprise's debt earns the over-limit warning."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

CODE = re.compile(r"^E[0-9]{6}$")
MAX_BATCH = 200                 # enterprises in one batch operation
MAX_CARDS = 200                 # cards in one allocation


class FleetError(ValueError):
    """A request that breaks a rule (422); ``field`` names what to fix, the message says how (Chinese first)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class FleetRefused(Exception):
    """The enterprise's state refuses the request (409); the message is shown as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FleetNotFound(LookupError):
    """No such enterprise, group, card or change (404)."""


class Status(StrEnum):
    NORMAL = "normal"
    FROZEN = "frozen"
    CLOSED = "closed"


STATUS_NAMES = {Status.NORMAL: "正常", Status.FROZEN: "冻结", Status.CLOSED: "注销"}
SETTLEMENT_NAMES = {"prepaid": "预付", "credit": "授信（挂账）"}
REVIEW_NAMES = {"pending": "待审核", "approved": "已审核", "rejected": "已驳回"}

#: the fields whose change waits for review (the credit line and how it settles); a status change does too
REVIEWED_FIELDS = frozenset({"settlement", "credit_limit_fen", "credit_days", "statement_day"})
#: the fields an edit may change (the rest are the enterprise's identity, its status, or the system's)
EDITABLE_FIELDS = frozenset({"name", "customer_code", "tax_no", "responsible_stations", "contacts",
                             "price_agreement", "group_id", "warn_pct", *REVIEWED_FIELDS})


def code_of(number: int) -> str:
    """The ``number``-th enterprise's code: E000001, E000002 …"""
    if not 1 <= number <= 999_999:
        raise FleetRefused("企业编号已用尽 (no enterprise codes are left)")
    return f"E{number:06d}"


def split_edit(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """An edit's changed fields as (applied at once, waiting for review); unchanged fields are left out."""
    unknown = set(after) - EDITABLE_FIELDS
    if unknown:
        raise FleetError(sorted(unknown)[0], "此项不能修改 (this field cannot be edited)")
    changed = {k: v for k, v in after.items() if before.get(k) != v}
    return ({k: v for k, v in changed.items() if k not in REVIEWED_FIELDS},
            {k: v for k, v in changed.items() if k in REVIEWED_FIELDS})


def check_status_change(current: Status, wanted: Status) -> str:
    """The change's kind (freeze, unfreeze, close); refused when it is no change or leaves a closed enterprise."""
    if current is wanted:
        raise FleetRefused(f"企业已是{STATUS_NAMES[wanted]}状态 (the enterprise is already {wanted})")
    if current is Status.CLOSED:
        raise FleetRefused("企业已注销，不能再改状态 (a closed enterprise stays closed)")
    return {Status.FROZEN: "freeze", Status.NORMAL: "unfreeze", Status.CLOSED: "close"}[wanted]


def check_close(money: dict[str, int]) -> None:
    """An enterprise closes only with nothing left on its balances and nothing owed."""
    if money["prepaid_fen"] or money["gift_fen"] or money["debt_fen"]:
        raise FleetRefused("企业还有余额或挂账欠款，请先回收、退款或结清后再注销 (settle its balances and debt first)")


def check_credit(settlement: str, credit_limit_fen: int) -> None:
    if settlement == "prepaid" and credit_limit_fen:
        raise FleetError("credit_limit_fen", "预付企业没有授信额度，请填 0 或改为授信结算 "
                                             "(a prepaid enterprise has no credit line)")
    if settlement == "credit" and credit_limit_fen <= 0:
        raise FleetError("credit_limit_fen", "授信结算须填写授信额度 (a credit enterprise needs a credit line)")


def check_money_movement(status: str, review: str) -> None:
    """Money moves only for an approved enterprise that is not closed (a frozen one may still be recharged,
    allocated to and adjusted: its cards cannot buy)."""
    if review != "approved":
        raise FleetRefused("企业尚未审核通过，不能办理资金业务 (the enterprise is not approved yet)")
    if status == Status.CLOSED:
        raise FleetRefused("企业已注销，不能办理资金业务 (the enterprise is closed)")


def over_warning(debt_fen: int, credit_limit_fen: int, warn_pct: int) -> bool:
    """Whether the enterprise's debt has reached ``warn_pct`` per cent of its credit line (超限预警); an
    enterprise with no line is warned as soon as it owes anything."""
    if credit_limit_fen <= 0:
        return debt_fen > 0
    return debt_fen * 100 >= credit_limit_fen * warn_pct
