"""A TLS tank gauge in a station file: what validates, what fails naming the key, what the source announces."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_nodes.devices.tls import TlsDevice, TlsSource
from edge_nodes.station import StationConfigError, load_station
from telemetry.contracts.sparkplug import DataType

GOOD = """
station: st-01
devices:
  - code: atg-01
    protocol: tls
    host: 127.0.0.1
    port: 10001
    tanks: [1, 2, 3]
    security_code: ABC123
    poll_interval_s: 5
"""


def _load(tmp_path: Path, text: str) -> TlsDevice:
    path = tmp_path / "station.yaml"
    path.write_text(text, encoding="utf-8")
    device = load_station(path).devices[0]
    assert isinstance(device, TlsDevice)
    return device


def test_a_tcp_gauge_loads_and_its_source_announces_every_tank_metric(tmp_path: Path) -> None:
    device = _load(tmp_path, GOOD)
    assert (device.host, device.port, device.tanks, device.security_code) == ("127.0.0.1", 10001, (1, 2, 3), "ABC123")
    source = device.source()
    assert isinstance(source, TlsSource) and source.code == "atg-01"
    assert len(source.metrics) == 36
    assert source.metrics["tank2/tc_volume"].unit == "L"
    assert source.metrics["tank3/water"].unit == "mm"
    assert source.metrics["tank1/last_delivery_end"].datatype is DataType.INT64
    assert source.metrics["tank1/alarms"].datatype is DataType.STRING


def test_a_serial_gauge_without_tanks_discovers_them(tmp_path: Path) -> None:
    text = GOOD.replace("    host: 127.0.0.1\n    port: 10001\n", "    serial_port: /dev/ttyS1\n    baudrate: 1200\n")
    device = _load(tmp_path, text.replace("    tanks: [1, 2, 3]\n", ""))
    assert (device.serial_port, device.baudrate, device.tanks) == ("/dev/ttyS1", 1200, None)
    assert device.source().metrics == {}     # filled in from the first inventory answer


@pytest.mark.parametrize(("change", "names"), [
    (("    host: 127.0.0.1\n", ""), ["devices.0", "either 'host'"]),                       # neither line
    (("    port: 10001\n", "    port: 10001\n    serial_port: /dev/ttyS0\n"), ["not both"]),
    (("tanks: [1, 2, 3]", "tanks: [1, 1]"), ["devices.0.tanks", "distinct"]),
    (("tanks: [1, 2, 3]", "tanks: [0]"), ["devices.0.tanks.0"]),
    (("tanks: [1, 2, 3]", "tanks: []"), ["devices.0.tanks"]),
    (("security_code: ABC123", "security_code: ABC"), ["devices.0.security_code"]),
    (("poll_interval_s: 5", "poll_interval_s: 5\n    timezone: Mars/Olympus"), ["devices.0.timezone", "unknown"]),
    (("poll_interval_s: 5", "poll_interval_s: 5\n    baudrate: 9601"), ["devices.0.baudrate"]),
    (("poll_interval_s: 5", "poll_interval_s: 5\n    unit_id: 1"), ["devices.0.unit_id", "unknown key"]),
])
def test_bad_entries_name_the_key(tmp_path: Path, change: tuple[str, str], names: list[str]) -> None:
    assert change[0] in GOOD
    path = tmp_path / "station.yaml"
    path.write_text(GOOD.replace(*change), encoding="utf-8")
    with pytest.raises(StationConfigError) as err:
        load_station(path)
    for name in names:
        assert name in str(err.value)
