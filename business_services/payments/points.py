"""Points as a tender (积分抵现) as a ``PaymentProvider``: through head office only.

The member's points are checked with head office's lookup (``GET /api/v1/members/lookup?member_no=``) and the
payment is captured with ``points_spent``; head office redeems them when ``payment.captured`` arrives
(``points_payment_entry``, once per payment). ``POINTS_PER_YUAN`` points pay one yuan. While head office is
unreachable points are not taken (their balance lives only there). A refund of a points payment gives the
points back at head office from ``payment.refunded`` (part P); here it succeeds at once.
"""

from __future__ import annotations

from business_services.online_payments.station_client import HeadOfficeDown, HeadOfficeLink
from business_services.payments.providers import (
    ChargeRequest,
    ChargeResult,
    ChargeState,
    RefundRequest,
    RefundResult,
)
from telemetry.contracts.events.payments import Method

POINTS_PER_YUAN = 100                      # 100 积分 = 1 元: one point a fen
DOWN = "总部连接中断，暂不能用积分支付 (head office is unreachable: points cannot pay now)"


def points_for(amount_fen: int) -> int:
    """The points that pay ``amount_fen``."""
    return amount_fen * POINTS_PER_YUAN // 100


class PointsProvider:
    method = Method.POINTS
    safe_offline = False

    def __init__(self, link: HeadOfficeLink | None) -> None:
        self.link = link

    def unavailable(self) -> str | None:
        if self.link is None:
            return "积分支付尚未开通 (no head office link)"
        return DOWN if self.link.down else None

    async def charge(self, request: ChargeRequest) -> ChargeResult:
        if self.link is None or self.link.down:
            return ChargeResult(ChargeState.FAILED, message=DOWN)
        if not request.member_no:
            return ChargeResult(ChargeState.FAILED, message="请先查询会员 (look the member up first)")
        points = points_for(request.amount_fen)
        try:
            status, data = await self.link.call("GET", f"/api/v1/members/lookup?member_no={request.member_no}")
        except HeadOfficeDown:
            return ChargeResult(ChargeState.FAILED, message=DOWN)
        if status != 200:
            return ChargeResult(ChargeState.FAILED, message=str(data.get("detail") or "会员不存在 (no such member)"))
        balance = int(data.get("points_balance") or 0)
        if balance < points:
            return ChargeResult(ChargeState.FAILED, message=f"积分不足：需 {points} 分，现有 {balance} 分 "
                                                            f"(not enough points: {points} needed, {balance} held)")
        return ChargeResult(ChargeState.SUCCEEDED, member_no=request.member_no, points_spent=points)

    async def query(self, payment_no: str) -> ChargeResult:
        return ChargeResult(ChargeState.FAILED, message="积分支付未完成 (the points payment did not finish)")

    async def cancel(self, payment_no: str) -> ChargeResult:
        return await self.query(payment_no)

    async def refund(self, request: RefundRequest) -> RefundResult:
        return RefundResult(ChargeState.SUCCEEDED)     # head office gives the points back from payment.refunded
