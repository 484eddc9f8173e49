"""OPC UA node maps: NodeSpec rules, the gas-skid-v1 profile's shape, and the station-file device entry."""

from pathlib import Path

import pytest

from edge_nodes.devices.opcua import OpcUaDevice
from edge_nodes.station import StationConfigError, load_station
from protocol_adapters.opcua.points import NodeSpec, UaType, split_path
from protocol_adapters.opcua.profiles import NAMESPACE_GAS_SKID, gas_skid_v1
from telemetry.contracts.sparkplug import DataType


def test_node_spec_rules() -> None:
    spec = NodeSpec("cng1/mass", "/GasSkid/CngDispenser1/Mass_kg/", "kg", UaType.DOUBLE, deadband=0.5)
    assert spec.elements == ("GasSkid", "CngDispenser1", "Mass_kg")
    with pytest.raises(ValueError, match="only numbers"):
        NodeSpec("cng1/state_name", "GasSkid/CngDispenser1/StateName", None, UaType.STRING, deadband=1.0)
    with pytest.raises(ValueError, match="empty element"):
        NodeSpec("x", "GasSkid//Mass_kg")
    with pytest.raises(ValueError, match=">= 0"):
        NodeSpec("x", "GasSkid/Mass_kg", deadband=-1.0)
    assert split_path("GasSkid/Compressor1/Start") == ("GasSkid", "Compressor1", "Start")


def test_types_announce_their_sparkplug_type() -> None:
    assert UaType.DOUBLE.sparkplug is DataType.DOUBLE
    assert UaType.INT32.sparkplug is DataType.INT32
    assert UaType.DATETIME.sparkplug is DataType.DATETIME
    assert UaType.UINT16.integer and not UaType.FLOAT.integer and not UaType.BOOLEAN.numeric


def test_gas_skid_profile_is_shaped_by_the_equipment() -> None:
    specs = gas_skid_v1(cng_dispensers=3, lng_dispensers=1, compressor_stages=2)
    by_key = {s.key: s for s in specs}
    assert len(by_key) == len(specs)                                   # keys are unique
    assert {k.split("/")[0] for k in by_key} == {"skid", "compressor", "cascade", "cng1", "cng2", "cng3",
                                                  "lng_tank", "lng1"}
    assert "compressor/stage2_pressure" in by_key and "compressor/stage3_pressure" not in by_key
    mass = by_key["cng3/mass"]
    assert (mass.browse_path, mass.unit, mass.datatype) == ("GasSkid/CngDispenser3/Mass_kg", "kg", UaType.DOUBLE)
    assert by_key["cascade/high/pressure"].browse_path == "GasSkid/CascadeStorage/HighBank/Pressure_MPa_g"
    assert by_key["cascade/high/pressure"].unit == "MPa_g"
    assert (by_key["cng1/price"].datatype, by_key["cng1/price"].unit) == (UaType.INT32, "fen/kg")
    assert by_key["lng1/amount"].unit == "fen"
    assert by_key["lng_tank/vacuum_loss_alarm"].datatype is UaType.BOOLEAN
    assert all(s.deadband == 0 for s in specs)       # set per station, see docs/how-to/opcua-adapter.md
    cng_only = {s.key.split("/")[0] for s in gas_skid_v1(1, 0)}
    assert "lng_tank" not in cng_only and "lng1" not in cng_only


def _device(**extra: object) -> OpcUaDevice:
    return OpcUaDevice.model_validate({"protocol": "opcua", "code": "skid-01",
                                       "endpoint": "opc.tcp://127.0.0.1:4840/forecourt/gas-skid/", **extra})


def test_device_entry_with_profile_and_deadbands() -> None:
    device = _device(profile="gas-skid-v1", cng_dispensers=1, lng_dispensers=0,
                     deadbands={"cng1/flow": 0.5}, nodes=[{"key": "skid/time", "browse_path": "GasSkid/SimulatedTime",
                                                            "datatype": "DateTime"}])
    specs = {s.key: s for s in device.node_specs()}
    assert specs["cng1/flow"].deadband == 0.5 and specs["cng1/mass"].deadband == 0
    assert specs["skid/time"].datatype is UaType.DATETIME
    assert device.namespace() == NAMESPACE_GAS_SKID
    source = device.source()
    assert source.code == "skid-01" and source.metrics["cng1/mass"].unit == "kg"
    assert source.metrics["skid/time"].datatype is DataType.DATETIME
    assert not source.connected


@pytest.mark.parametrize(("extra", "message"), [
    ({}, "needs a 'profile' or a list of 'nodes'"),
    ({"nodes": [{"key": "a", "browse_path": "X/A"}]}, "'namespace_uri' is required"),
    ({"profile": "gas-skid-v1", "deadbands": {"cng9/flow": 1.0}}, "do not exist"),
    ({"profile": "gas-skid-v1", "deadbands": {"cng1/state_name": 1.0}}, "only numbers"),
    ({"profile": "gas-skid-v1", "nodes": [{"key": "cng1/mass", "browse_path": "X/A"}]}, "duplicate node keys"),
    ({"profile": "gas-skid-v1", "endpoint": "http://127.0.0.1:4840"}, "String should match pattern"),
])
def test_device_entry_mistakes_are_named(extra: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _device(**extra)


def test_station_file_names_the_opcua_device(tmp_path: Path) -> None:
    path = tmp_path / "station.yaml"
    path.write_text("""
station: gas-01
devices:
  - protocol: opcua
    code: skid-01
    kind: gas_skid
    endpoint: opc.tcp://127.0.0.1:4840/forecourt/gas-skid/
    profile: gas-skid-v1
    cng_dispensers: 2
    lng_dispensers: 1
    publishing_interval_ms: 250
""", encoding="utf-8")
    device = load_station(path).devices[0]
    assert isinstance(device, OpcUaDevice) and device.publishing_interval_ms == 250
    path.write_text(path.read_text(encoding="utf-8").replace("publishing_interval_ms: 250", "polling: 1"),
                    encoding="utf-8")
    with pytest.raises(StationConfigError, match=r"devices\.0\.polling: unknown key"):
        load_station(path)
