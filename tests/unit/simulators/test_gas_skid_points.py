"""The declared OPC UA address space of the gas skid, checked without a server."""

from __future__ import annotations

import pytest
from asyncua import ua

from simulators.gas_skid.address_space import address_space, node_id
from simulators.gas_skid.config import GasSkidConfig
from simulators.gas_skid.errors import CommandRefused
from simulators.gas_skid.model import GasSkidModel
from simulators.gas_skid.points import MPA_G, PointSpec, Unit

PYTHON_TYPES = {
    ua.VariantType.Double: float,
    ua.VariantType.Int32: int,
    ua.VariantType.Boolean: bool,
    ua.VariantType.String: str,
}
#: BrowseName suffix -> unit symbol it promises.
SUFFIX_UNITS = {"_MPa_g": "MPa", "_C": "°C", "_kg": "kg", "_kg_min": "kg/min", "_kg_m3": "kg/m³", "_h": "h",
                "_mm": "mm", "_pct": "%", "_m3": "m³", "_L": "L", "_Pa": "Pa", "_W": "W"}


@pytest.fixture
def model() -> GasSkidModel:
    model = GasSkidModel(GasSkidConfig())
    model.advance(1.0)
    return model


def all_points(model: GasSkidModel) -> list[tuple[tuple[str, ...], PointSpec]]:
    return [(obj.path, point) for obj in address_space(model) for point in obj.points]


def test_tree_has_the_equipment_objects(model: GasSkidModel) -> None:
    paths = [obj.path for obj in address_space(model)]
    assert paths == [
        ("Compressor1",), ("CascadeStorage",), ("CascadeStorage", "LowBank"), ("CascadeStorage", "MidBank"),
        ("CascadeStorage", "HighBank"), ("CngDispenser1",), ("CngDispenser2",), ("LngTank1",),
        ("LngDispenser1",), ("LngDispenser2",),
    ]


def test_node_ids_are_unique(model: GasSkidModel) -> None:
    ids = [node_id(path, p.name) for path, p in all_points(model)]
    ids += [node_id(obj.path, m.name) for obj in address_space(model) for m in obj.methods]
    assert len(ids) == len(set(ids))
    assert node_id(("LngTank1",), "Pressure_MPa_g") == "GasSkid.LngTank1.Pressure_MPa_g"


def test_every_value_has_its_declared_type(model: GasSkidModel) -> None:
    model.start_cng_fill(1)
    model.start_lng_fill(1)
    model.advance(60.0)
    for path, point in all_points(model):
        value = point.read(model)
        expected = PYTHON_TYPES[point.vtype]
        assert isinstance(value, expected), (path, point.name, value)
        if expected is int:
            assert not isinstance(value, bool) and -(2**31) <= value < 2**31, (path, point.name)


def test_unit_suffixes_match_engineering_units(model: GasSkidModel) -> None:
    for path, point in all_points(model):
        if point.name.endswith(("_fen", "_fen_per_kg")):  # money: integer fen, no UNECE unit
            assert point.unit is None and point.vtype is ua.VariantType.Int32, (path, point.name)
            continue
        suffix = next((s for s in sorted(SUFFIX_UNITS, key=len, reverse=True) if point.name.endswith(s)), None)
        if suffix is None:
            assert point.unit is None, (path, point.name)
        else:
            assert point.unit is not None and point.unit.symbol == SUFFIX_UNITS[suffix], (path, point.name)


def test_unece_unit_id_packs_the_code() -> None:
    assert MPA_G.unit_id == 0x4D5041  # "MPA"
    assert Unit("P1", "%", "percent").unit_id == 0x5031


def test_setpoints_declare_a_range_and_refuse_outside_it(model: GasSkidModel) -> None:
    setpoints = [(path, p) for path, p in all_points(model) if p.write is not None]
    assert {p.name for _, p in setpoints} >= {"StartPressure_MPa_g", "StopPressure_MPa_g", "UnitPrice_fen_per_kg",
                                              "TargetPressure_MPa_g", "HighPressureSetpoint_MPa_g"}
    for path, point in setpoints:
        assert point.eu_range is not None and point.write is not None
        _low, high = point.eu_range
        too_high = int(high) + 1 if point.vtype is ua.VariantType.Int32 else high + 1.0
        with pytest.raises(CommandRefused):
            point.write(model, too_high)
        before = point.read(model)
        point.write(model, before)  # writing the present value back is accepted
        assert point.read(model) == before, (path, point.name)


def test_measured_values_have_no_write(model: GasSkidModel) -> None:
    writable = {p.name for _, p in all_points(model) if p.write is not None}
    assert not writable & {"Mass_kg", "Pressure_MPa_g", "Level_pct", "Totalizer_kg", "State", "Amount_fen"}


def test_methods_are_declared_per_object(model: GasSkidModel) -> None:
    methods = {obj.path[-1]: [m.name for m in obj.methods] for obj in address_space(model)}
    assert methods["Compressor1"] == ["Start", "Stop", "Reset"]
    assert methods["CngDispenser2"] == ["StartFill", "Stop", "Reset"]
    assert methods["LngTank1"] == ["OpenVentValve", "CloseVentValve"]
    assert methods["LngDispenser1"] == ["StartFill", "Stop", "Reset"]


def test_every_point_and_method_describes_itself(model: GasSkidModel) -> None:
    """A description says what the node is (and unit and range where it has them), not its name again."""
    for obj in address_space(model):
        assert obj.description and obj.description != obj.path[-1], obj.path
        for point in obj.points:
            assert point.description and point.description != point.name, (obj.path, point.name)
            if point.unit is not None:
                assert point.unit.symbol in point.description, (obj.path, point.name)
        for method in obj.methods:
            assert method.description and method.description != method.name, (obj.path, method.name)
