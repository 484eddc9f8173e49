"""The charger simulator's security profile settings: which credentials it sends and when config is wrong."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from pydantic import ValidationError

from simulators.charger import ChargerConfig

KEY = "0123456789abcdef-key"


def _decoded(config: ChargerConfig) -> str:
    scheme, token = config.authorization_header()["Authorization"].split()
    assert scheme == "Basic"
    return base64.b64decode(token).decode()


def test_profile_1_sends_the_charge_point_id_and_its_key(tmp_path: Path) -> None:
    assert _decoded(ChargerConfig(charge_point_id="chg-07", security_profile=1, authorization_key=KEY)) == \
        f"chg-07:{KEY}"
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n", encoding="utf-8")
    assert _decoded(ChargerConfig(security_profile=2, authorization_key_file=key_file)) == f"chg-01:{KEY}"
    assert ChargerConfig().authorization_header() == {}
    assert KEY not in repr(ChargerConfig(security_profile=1, authorization_key=KEY))   # a secret in logs


@pytest.mark.parametrize(("settings", "message"), [
    ({"security_profile": 1}, "need one of authorization_key"),
    ({"security_profile": 1, "authorization_key": KEY, "authorization_key_file": "k"}, "need one of"),
    ({"authorization_key": KEY}, "needs security_profile 1 or 2"),
    ({"security_profile": 1, "authorization_key": KEY, "ca_file": "ca.pem"}, "ca_file is for security_profile 2"),
])
def test_inconsistent_security_settings_are_refused(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ChargerConfig.model_validate(settings)
