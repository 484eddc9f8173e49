"""The customers' login rules (business_services/customers/model.py): when a code may be sent, when it logs in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from business_services.customers import model
from business_services.customers.model import SentCode

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
SALT = b"s" * 16


def sent(code: str = "123456", *, ago_s: int = 10, attempts: int = 0, used: bool = False) -> SentCode:
    at = NOW - timedelta(seconds=ago_s)
    return SentCode(1, SALT, model.digest(code, SALT), at, at + timedelta(minutes=model.CODE_MINUTES), attempts,
                    at if used else None)


@pytest.mark.parametrize(("ages_s", "why"), [
    ([], None), ([61], None), ([59], model.TOO_SOON), ([61, 600, 1200, 1800], None),
    ([61, 600, 1200, 1800, 2400], model.TOO_MANY), ([61, 600, 1200, 1800, 3700], None)])
def test_a_phone_gets_one_code_a_minute_and_five_an_hour(ages_s: list[int], why: str | None) -> None:
    assert model.refusal_to_send([NOW - timedelta(seconds=a) for a in ages_s], NOW) == why


@pytest.mark.parametrize(("code", "typed", "why"), [
    (sent(), "123456", None), (sent(), "123457", model.WRONG), (None, "123456", model.NO_CODE),
    (sent(used=True), "123456", model.NO_CODE), (sent(ago_s=300), "123456", model.EXPIRED),
    (sent(ago_s=299), "123456", None), (sent(attempts=5), "123456", model.EXHAUSTED),
    (sent(attempts=4), "123456", None)])
def test_a_code_logs_in_when_right_fresh_unused_and_not_guessed_at_too_often(
        code: SentCode | None, typed: str, why: str | None) -> None:
    assert model.verdict(code, typed, NOW) == why


def test_codes_are_six_digits_and_kept_salted() -> None:
    assert all(len(c) == 6 and c.isdigit() for c in (model.new_code() for _ in range(50)))
    assert model.digest("123456", SALT) != model.digest("123456", b"t" * 16)
