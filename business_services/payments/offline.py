"""The tenders that need no network: cash, the bank's own card terminal, and "other" (a voucher, a platform
coupon). Each answers at once and is safe while head office is unreachable.

Cash records the amount applied to the orders (the POS works out the change). A bank card was charged on
the bank's terminal already: we record the voucher number the cashier keys in. "Other" records its note.
Refunds are handed back the same way (from the drawer, on the bank terminal, by the platform) and succeed.
"""

from __future__ import annotations

from business_services.payments.providers import ChargeRequest, ChargeResult, ChargeState, RefundRequest, RefundResult
from telemetry.contracts.events.payments import Method


class OfflineTender:
    safe_offline = True
    answers_at_once = True      # charge() asks nobody: taken in one unit of work (service.take_at_once)

    def __init__(self, method: Method) -> None:
        self.method = method

    def unavailable(self) -> str | None:
        return None

    async def charge(self, request: ChargeRequest) -> ChargeResult:
        ref = request.reference if self.method is Method.BANK_CARD else None
        return ChargeResult(ChargeState.SUCCEEDED, provider_ref=ref)

    async def query(self, payment_no: str) -> ChargeResult:
        return ChargeResult(ChargeState.SUCCEEDED)       # an offline tender is settled when it is taken

    async def cancel(self, payment_no: str) -> ChargeResult:
        return ChargeResult(ChargeState.SUCCEEDED)       # … so there is nothing left to cancel

    async def refund(self, request: RefundRequest) -> RefundResult:
        return RefundResult(ChargeState.SUCCEEDED)


CASH, BANK_CARD, OTHER = OfflineTender(Method.CASH), OfflineTender(Method.BANK_CARD), OfflineTender(Method.OTHER)
OFFLINE = (CASH, BANK_CARD, OTHER)
