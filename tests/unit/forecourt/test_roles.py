"""What the two roles differ in, and the setting that picks one."""

import pytest

from forecourt.roles import Role, policy
from forecourt.settings import SettingsError, load_settings


def test_only_head_office_owns_master_data() -> None:
    assert policy("head-office").owns_master_data
    assert not policy(Role.STATION).owns_master_data


def test_the_role_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORECOURT_ROLE", raising=False)
    assert load_settings().role == "head-office"
    monkeypatch.setenv("FORECOURT_ROLE", "station")
    assert load_settings().role == "station"
    monkeypatch.setenv("FORECOURT_ROLE", "branch")
    with pytest.raises(SettingsError, match="FORECOURT_ROLE"):
        load_settings()
