"""The whole declared address space of one gas skid, in browse order (see docs/protocols/gas-skid-opcua.md)."""

from __future__ import annotations

from simulators.gas_skid import cng_points, lng_points
from simulators.gas_skid.compressor import Bank
from simulators.gas_skid.model import GasSkidModel
from simulators.gas_skid.points import ObjectSpec

#: Namespace of every node of the skid; resolve its index from the server's NamespaceArray.
NAMESPACE_URI = "urn:forecourt:gas-skid"
#: The root object, below Objects.
ROOT = "GasSkid"


def address_space(model: GasSkidModel) -> list[ObjectSpec]:
    """Objects below ``Objects/GasSkid`` for this model's equipment (dispenser counts, stages)."""
    return [
        cng_points.compressor(model.config.compressor.stages),
        cng_points.cascade(),
        *(cng_points.cascade_bank(bank) for bank in (Bank.LOW, Bank.MID, Bank.HIGH)),
        *(cng_points.cng_dispenser(d.number) for d in model.cng_dispensers),
        lng_points.lng_tank(model.config.lng_tank.relief_g_mpa),
        *(lng_points.lng_dispenser(d.number) for d in model.lng_dispensers),
    ]


def node_id(path: tuple[str, ...], name: str | None = None) -> str:
    """String NodeId identifier: ``GasSkid.<path...>.<name>`` (e.g. ``GasSkid.LngTank1.Pressure_MPa_g``)."""
    return ".".join((ROOT, *path, *((name,) if name else ())))
