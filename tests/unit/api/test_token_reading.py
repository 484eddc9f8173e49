"""Access tokens read through the process's verified-token memory: the expiry still ends a token on time, a forged
or altered token is still refused, and each request keeps its own source address."""

import time

import jwt
import pytest

from control_api.security import Principal, TokenIssuer

SECRET = "unit-test-secret-of-at-least-32-bytes-long"  # noqa: S105 - signs this test's tokens only


def _cashier() -> Principal:
    return Principal("cashier", 7, frozenset({"cashier"}), frozenset({"payment:take"}), frozenset({"demo-01"}),
                     token_version=3)


def test_a_remembered_token_still_expires_on_time() -> None:
    issuer = TokenIssuer(SECRET, ttl_s=1)
    token = issuer.issue(_cashier(), now=time.time())
    assert issuer.read(token, "10.0.0.1").username == "cashier"
    assert issuer.read(token, "10.0.0.1").token_version == 3          # the second read comes from memory
    time.sleep(1.6)
    with pytest.raises(jwt.ExpiredSignatureError):
        issuer.read(token, "10.0.0.1")


def test_a_token_signed_otherwise_or_altered_is_refused_after_a_good_one_was_read() -> None:
    issuer = TokenIssuer(SECRET)
    good = issuer.issue(_cashier())
    issuer.read(good)
    with pytest.raises(jwt.InvalidTokenError):
        issuer.read(TokenIssuer("another-secret-of-at-least-32-bytes-long").issue(_cashier()))
    header, claims, signature = good.split(".")
    with pytest.raises(jwt.InvalidTokenError):
        issuer.read(f"{header}.{claims}.{signature[:5]}{'B' if signature[5] == 'A' else 'A'}{signature[6:]}")


def test_each_read_carries_its_own_source() -> None:
    issuer = TokenIssuer(SECRET)
    token = issuer.issue(_cashier())
    assert issuer.read(token, "10.0.0.1").source == "10.0.0.1"
    assert issuer.read(token, "10.0.0.2").source == "10.0.0.2"
    assert issuer.read(token, "10.0.0.2").actor.name == "cashier"
