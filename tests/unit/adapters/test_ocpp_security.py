"""Charger authentication rules (security profiles 0–2) and their station-file entry, without a socket."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_nodes.devices.ocpp import OcppDevice
from protocol_adapters.ocpp.security import (
    ChargerCredentials,
    CredentialError,
    KeyCheck,
    SecurityProfile,
    basic_credentials,
    basic_header,
    hash_key,
)

KEY = "0123456789abcdef-key"


@pytest.mark.parametrize(("header", "expected"), [
    (basic_header("chg-01", KEY), ("chg-01", KEY)),
    (basic_header("chg-01", "pa:ss:word"), ("chg-01", "pa:ss:word")),   # only the first colon splits
    ("basic " + basic_header("a", "b").split()[1], ("a", "b")),         # the scheme is case-insensitive
    (None, None), ("", None), ("Bearer abc", None), ("Basic", None),
    ("Basic !!!notbase64", None), ("Basic bm9jb2xvbg==", None),         # "nocolon"
])
def test_basic_credentials(header: str | None, expected: tuple[str, str] | None) -> None:
    assert basic_credentials(header) == expected


@pytest.mark.parametrize(("cp", "header", "reason"), [
    ("chg-01", basic_header("chg-01", KEY), None),
    ("chg-02", basic_header("chg-02", KEY), None),
    ("chg-01", basic_header("chg-01", KEY + "x"), "wrong password"),
    ("chg-02", basic_header("chg-02", "x" + KEY), "wrong password"),
    ("chg-01", basic_header("chg-02", KEY), "user is not the charge point id"),
    ("chg-01", None, "no basic credentials"),
    ("chg-09", basic_header("chg-09", KEY), "unknown charge point"),
])
def test_profile_1_checks(cp: str, header: str | None, reason: str | None) -> None:
    credentials = ChargerCredentials(SecurityProfile.BASIC_AUTH,
                                     {"chg-01": KeyCheck(key_hash=hash_key(KEY)), "chg-02": KeyCheck(key=KEY)})
    assert credentials.check(cp, header) == reason


def test_profile_0_checks_nothing() -> None:
    assert ChargerCredentials(SecurityProfile.NONE, {}).check("anyone", None) is None


@pytest.mark.parametrize("check", [
    lambda: KeyCheck(key="short"), lambda: KeyCheck(key="x" * 41), lambda: KeyCheck(key="sixteen chars ok"),
    lambda: KeyCheck(), lambda: KeyCheck(key=KEY, key_hash=hash_key(KEY)), lambda: KeyCheck(key_hash="plain"),
])
def test_unusable_keys_are_refused(check: object) -> None:
    with pytest.raises(CredentialError):
        check()  # type: ignore[operator]


def _entry(**extra: object) -> dict[str, object]:
    return {"protocol": "ocpp", "code": "chargers", "charge_points": [{"id": "chg-01"}], **extra}


@pytest.mark.parametrize(("extra", "message"), [
    ({"security_profile": 1}, "charge point chg-01 needs a password_hash or password_file"),
    ({"charge_points": [{"id": "chg-01", "password_hash": hash_key(KEY)}]}, "need security_profile 1 or 2"),
    ({"security_profile": 2, "charge_points": [{"id": "chg-01", "password_hash": hash_key(KEY)}]},
     "needs tls_cert_file and tls_key_file"),
    ({"tls_cert_file": "c.pem", "tls_key_file": "k.pem"}, "are for security_profile 2"),
    ({"security_profile": 1, "charge_points": [{"id": "chg-01", "password_hash": "secret"}]}, "password_hash"),
    ({"security_profile": 3}, "security_profile"),
    ({"security_profile": 1, "charge_points": [{"id": "site:chg-01", "password_hash": hash_key(KEY)}]},
     "may not contain ':'"),
])
def test_a_bad_security_entry_fails_at_start(extra: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OcppDevice.model_validate(_entry(**extra))


def test_a_key_file_is_read_when_the_source_is_built_and_a_bad_one_names_the_file(tmp_path: Path) -> None:
    key_file = tmp_path / "chg-01.key"
    key_file.write_text(KEY + "\n", encoding="utf-8")
    device = OcppDevice.model_validate(_entry(security_profile=1,
                                              charge_points=[{"id": "chg-01", "password_file": str(key_file)}]))
    assert device.credentials().check("chg-01", basic_header("chg-01", KEY)) is None
    key_file.write_text("short\n", encoding="utf-8")
    with pytest.raises(CredentialError, match=r"chg-01\.key") as err:
        device.source()
    assert "short" not in str(err.value)

