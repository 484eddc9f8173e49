"""The ``protocol: ocpp`` station-file entry: one central system for the station's chargers, and its metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_nodes.devices.ocpp import OcppDevice, OcppSource
from edge_nodes.station import StationConfigError, load_station
from protocol_adapters.ocpp.auth import TokenStatus
from telemetry.contracts.sparkplug import DataType

STATION = """
station: st-07
devices:
  - code: chargers
    protocol: ocpp
    listen_port: 9100
    charge_points: [chg-01, {id: chg-02, connectors: 2}]
    id_tags: {RFID0001: Accepted, STOLEN01: Blocked}
"""


def _load(tmp_path: Path, text: str) -> OcppDevice:
    path = tmp_path / "station.yaml"
    path.write_text(text, encoding="utf-8")
    device = load_station(path).devices[0]
    assert isinstance(device, OcppDevice)
    return device


def test_the_entry_builds_a_source_with_every_metric(tmp_path: Path) -> None:
    device = _load(tmp_path, STATION)
    assert [(cp.id, cp.connectors) for cp in device.charge_points] == [("chg-01", 1), ("chg-02", 2)]
    source = device.source()
    assert isinstance(source, OcppSource) and source.code == "chargers"
    assert len(source.metrics) == 2 + 5 * 3   # online per charger, 5 per connector
    assert source.metrics["chg-02/2/energy"].unit == "kWh"
    assert source.metrics["chg-02/2/power"].unit == "kW"
    assert source.metrics["chg-01/1/soc"].unit == "%"
    assert source.metrics["chg-01/online"].datatype is DataType.BOOLEAN
    assert source.metrics["chg-01/1/status"].datatype is DataType.STRING
    assert source.auth.status("stolen01") is TokenStatus.BLOCKED
    # before the server runs: every charger offline, connector values bad
    snapshot = source.snapshot()
    assert {r.key for r in snapshot.readings} == set(source.metrics)
    assert {r.reason for r in snapshot.readings if not r.key.endswith("/online")} == {"comm-loss"}


def test_the_id_tags_file_wins_over_the_station_file(tmp_path: Path) -> None:
    tags = tmp_path / "tags.json"
    tags.write_text(json.dumps({"RFID0001": "Blocked"}), encoding="utf-8")
    device = _load(tmp_path, STATION + f"    id_tags_file: {tags}\n")
    assert device.source().auth.status("RFID0001") == "Blocked"


@pytest.mark.parametrize(("change", "names"), [
    (("charge_points: [chg-01, {id: chg-02, connectors: 2}]", "charge_points: []"), ["charge_points", "at least 1"]),
    (("charge_points: [chg-01, {id: chg-02, connectors: 2}]", "charge_points: [chg-01, chg-01]"),
     ["duplicate id 'chg-01'"]),
    (("charge_points: [chg-01, {id: chg-02, connectors: 2}]", "charge_points: [chg/01]"), ["charge_points.0.id"]),
    (("STOLEN01: Blocked", "STOLEN01: Stolen"), ["id_tags.STOLEN01", "'Stolen'"]),
    (("listen_port: 9100", "listen_port: 70000"), ["listen_port"]),
    (("listen_port: 9100", "listen_port: 9100\n    colour: red"), ["colour", "unknown key"]),
])
def test_bad_entries_fail_at_start(tmp_path: Path, change: tuple[str, str], names: list[str]) -> None:
    with pytest.raises(StationConfigError) as err:
        _load(tmp_path, STATION.replace(*change))
    for name in names:
        assert name in str(err.value)


def test_a_broken_id_tags_file_fails_when_the_source_is_built(tmp_path: Path) -> None:
    tags = tmp_path / "tags.json"
    tags.write_text("{oops", encoding="utf-8")
    device = _load(tmp_path, STATION + f"    id_tags_file: {tags}\n")
    with pytest.raises(ValueError, match=r"tags\.json"):
        device.source()


def test_the_central_systems_counters_are_on_the_edge_metrics() -> None:
    from edge_nodes.metrics import REGISTRY

    device = OcppDevice.model_validate({"protocol": "ocpp", "code": "chargers-metrics-test",
                                        "charge_points": ["chg-01"]})
    source = device.source()
    stats = source.csms.core.stats
    stats.refused_handshakes, stats.bad_values, stats.refused_sessions = 3, 2, 1

    def sample(event: str) -> float | None:
        return REGISTRY.get_sample_value("forecourt_edge_ocpp_events_total",
                                         {"device": "chargers-metrics-test", "event": event})

    assert (sample("refused_handshakes"), sample("bad_values"), sample("refused_sessions")) == (3, 2, 1)
    assert sample("sessions") == 0
