import re
from pathlib import Path

import pytest

from forecourt.settings import SettingsError, load_settings, setting_names


def test_defaults_mean_embedded_infrastructure(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("FORECOURT_DATABASE_URL", "FORECOURT_MQTT_URL"):
        monkeypatch.delenv(var, raising=False)
    s = load_settings()
    assert s.database_url is None and s.mqtt_url is None and s.api_port == 8000


@pytest.mark.parametrize(("var", "value", "expect"), [
    ("FORECOURT_API_PORT", "abc", "FORECOURT_API_PORT: expected an integer, got 'abc'"),
    ("FORECOURT_API_PORT", "70000", "FORECOURT_API_PORT: expected a smaller number"),
    ("FORECOURT_DATABASE_URL", "mysql://x", "FORECOURT_DATABASE_URL: expected a URL like postgresql://"),
    ("FORECOURT_MQTT_URL", "http://x", "FORECOURT_MQTT_URL: expected a URL like mqtt://"),
    ("FORECOURT_LOG_LEVEL", "LOUD", "FORECOURT_LOG_LEVEL: expected one of"),
    ("FORECOURT_API_PROT", "1", "FORECOURT_API_PROT: not a setting"),
    ("FORECOURT_BUSINESS_GROUP", "acme/#", "FORECOURT_BUSINESS_GROUP: expected letters, digits"),   # a topic level
    ("FORECOURT_BUSINESS_STALL_AFTER_S", "0", "FORECOURT_BUSINESS_STALL_AFTER_S: expected a larger number"),
    ("FORECOURT_PARTNER_PRIVATE_NETWORKS", "10.8.0.0/16,10.1.2",
     "FORECOURT_PARTNER_PRIVATE_NETWORKS: expected CIDRs separated by commas"),
])
def test_wrong_values_name_the_variable(monkeypatch: pytest.MonkeyPatch, var: str, value: str, expect: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(SettingsError, match=expect.replace("(", r"\(")):
        load_settings()


def test_env_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORECOURT_API_PORT", raising=False)
    env = tmp_path / "forecourt.env"
    env.write_text("FORECOURT_API_PORT=8123\n")
    assert load_settings(env).api_port == 8123
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "missing.env")


def test_every_setting_the_code_reads_is_known_so_it_does_not_stop_the_services() -> None:
    """A ``FORECOURT_*`` variable the code reads from the environment itself (a job's, a route's setting) must be
    a declared setting too: ``load_settings`` refuses unknown ones, so an undeclared one documented for operators
    would stop every ``forecourt`` command that starts with it set."""
    root = Path(__file__).resolve().parents[3]
    read = set()
    for package in ("business_services", "control_api", "forecourt", "telemetry", "edge_nodes", "protocol_adapters",
                    "vision"):
        for source in (root / package).rglob("*.py"):
            read |= set(re.findall(r"""(?:environ(?:\.get)?\(?\[?|getenv\()\s*["'](FORECOURT_[A-Z0-9_]+)["']""",
                                   source.read_text(encoding="utf-8")))
    read = {name for name in read if not name.startswith("FORECOURT_TEST_")}
    assert {"FORECOURT_BANK_URL", "FORECOURT_REFUND_APPROVAL_ABOVE_FEN"} <= read    # the scan finds them
    assert read - set(setting_names()) == set()
