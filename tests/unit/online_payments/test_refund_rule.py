"""What may be refunded: 1 fen up to the capture less refunds made or in progress, of a succeeded payment."""

from __future__ import annotations

import pytest

from business_services.online_payments.model import RefundRefused, check_refund, refundable_fen


def test_a_refund_fits_in_what_is_left() -> None:
    assert refundable_fen(5000, 3000) == 2000
    check_refund("succeeded", 5000, 3000, 2000)
    check_refund("succeeded", 5000, 0, 1)


@pytest.mark.parametrize(("state", "reserved", "amount"), [("succeeded", 3000, 2001), ("succeeded", 0, 0),
                                                            ("succeeded", 0, -1), ("pending", 0, 100),
                                                            ("failed", 0, 100)])
def test_more_than_is_left_or_an_unpaid_payment_is_refused(state: str, reserved: int, amount: int) -> None:
    with pytest.raises(RefundRefused):
        check_refund(state, 5000, reserved, amount)
