"""The open API's rate rule (control_api/rate_limit.py::take): a token bucket of ``per_minute`` tokens refilling
evenly; a request without a whole token is refused with the seconds until one is back."""

from __future__ import annotations

from control_api.rate_limit import take


def test_a_full_bucket_lets_per_minute_requests_through_then_refuses() -> None:
    tokens = 60.0
    for _ in range(60):
        taken = take(tokens, 0.0, 60)
        assert taken.allowed
        tokens = taken.tokens
    refused = take(tokens, 0.0, 60)
    assert not refused.allowed and refused.retry_after_s == 1


def test_the_bucket_refills_evenly_and_never_above_its_size() -> None:
    assert take(0.0, 15.0, 4).allowed                       # 4 a minute: one token every 15 s
    refused = take(0.0, 14.0, 4)
    assert not refused.allowed and refused.retry_after_s == 1
    assert take(0.0, 5.0, 4).retry_after_s == 10
    assert take(3.0, 3600.0, 4).tokens == 3.0               # an idle hour fills the bucket, no more
    assert take(0.5, -2.0, 4).retry_after_s == 8            # a clock step backwards refills nothing
