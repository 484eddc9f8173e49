"""``forecourt mqtt-auth``: station files in, broker files and env files out; a second run keeps the passwords."""

from pathlib import Path

import pytest

from edge_nodes.station import load_station
from forecourt.cli import main
from forecourt.mqtt_security import check_password
from forecourt.settings import load_settings
from telemetry.contracts.broker import BrokerAddress

DEMO = Path(__file__).parents[3] / "config" / "stations" / "demo.yaml"


def _passwd(out: Path) -> dict[str, str]:
    return dict(line.split(":", 1) for line in (out / "passwd").read_text().splitlines())


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("FORECOURT_MQTT_URL", "FORECOURT_MQTT_CA_FILE", "FORECOURT_GROUP", "FORECOURT_PRIMARY_HOST_ID"):
        monkeypatch.delenv(var, raising=False)


def test_generates_files_that_the_settings_accept(tmp_path: Path, clean_env: None,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "north.yaml"
    other.write_text("station: north-02\ngroup: north-co\ndevices: []\n")
    out = tmp_path / "mqtt"
    code = main(["mqtt-auth", "--stations", str(DEMO), str(other), "--out", str(out), "--group", "acme",
                 "--host-id", "hq", "--broker-host", "mqtt.example.cn", "--port", "1884", "--bind", "10.0.0.5",
                 "--outbox-mb", "64"])
    assert code == 0
    assert "demo-01.env" in capsys.readouterr().out

    settings = load_settings(out / "demo-01.env")
    assert settings.group == (load_station(DEMO).group or "acme") and settings.primary_host_id == "hq"
    address = BrokerAddress.from_url(settings.mqtt_url or "")
    assert (address.username, address.host, address.port) == ("edge-demo-01", "mqtt.example.cn", 1884)
    assert check_password(address.password or "", _passwd(out)["edge-demo-01"])
    assert load_settings(out / "north-02.env").group == "north-co"
    acl = (out / "acl").read_text()
    assert f"topic write spBv1.0/{settings.group}/DDATA/demo-01/+\n" in acl and "topic read spBv1.0/STATE/hq\n" in acl
    conf = (out / "mosquitto.conf").read_text()
    assert "listener 1884 10.0.0.5\n" in conf and f"max_queued_bytes {2 * 64 * 1024 * 1024}\n" in conf
    business = BrokerAddress.from_url(load_settings(out / "business.env").mqtt_url or "")
    assert business.username == "business" and check_password(business.password or "", _passwd(out)["business"])
    assert load_settings(out / "control-api.env").group == "acme"


def test_a_second_run_keeps_every_password(tmp_path: Path, clean_env: None) -> None:
    out = tmp_path / "mqtt"
    assert main(["mqtt-auth", "--stations", str(DEMO), "--out", str(out)]) == 0
    first_env, first_passwd = (out / "demo-01.env").read_text(), _passwd(out)
    assert main(["mqtt-auth", "--stations", str(DEMO), "--out", str(out)]) == 0
    assert (out / "demo-01.env").read_text() == first_env
    assert _passwd(out)["edge-demo-01"] != first_passwd["edge-demo-01"]     # a new salt …
    password = BrokerAddress.from_url(load_settings(out / "demo-01.env").mqtt_url or "").password or ""
    assert check_password(password, _passwd(out)["edge-demo-01"])            # … for the same password


def test_a_bad_station_file_or_tls_folder_is_reported(tmp_path: Path, clean_env: None,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("station: Bad Code\ndevices: []\n")
    assert main(["mqtt-auth", "--stations", str(bad), "--out", str(tmp_path / "a")]) == 2
    assert "bad.yaml: station" in capsys.readouterr().err
    assert main(["mqtt-auth", "--stations", str(DEMO), "--out", str(tmp_path / "b"), "--tls-dir", str(tmp_path)]) == 2
    assert "missing ca.crt, server.crt, server.key" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
