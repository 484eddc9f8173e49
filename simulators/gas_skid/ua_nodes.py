"""Turning the declared specs into asyncua nodes: objects, variables with units and ranges, methods.

Only used by ``server.py``: each ``add_*`` adds nodes through the server's internal session and
returns the created node. The small constructors (``nid``, ``status``, ``std``) wrap asyncua's
strict wire types (``ua.String``, ``ua.Int16``, ``ua.UInt32``) so the rest of the code stays plain.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, cast

from asyncua import ua
from asyncua.common.node import Node
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.status_codes import StatusCodes

from simulators.gas_skid.points import ArgSpec, MethodSpec, PointSpec, Value

__all__ = ["AttributeIds", "Node", "ObjectIds", "StatusCodes"]

#: Namespace of UNECE unit ids in EUInformation (OPC UA Part 8).
UNECE_NAMESPACE = "http://www.opcfoundation.org/UA/units/un/cefact"

MethodHandler = Callable[..., Awaitable[Any]]


def nid(identifier: str, ns: int) -> ua.NodeId:
    """A string NodeId in namespace ``ns``."""
    return ua.NodeId(ua.String(identifier), ua.Int16(ns))


def qname(name: str, ns: int) -> ua.QualifiedName:
    return ua.QualifiedName(ua.String(name), ua.UInt16(ns))


def std(object_id: int) -> ua.NodeId:
    """A standard (namespace 0) NodeId, e.g. ``std(ObjectIds.BaseObjectType)``."""
    return ua.NodeId(ua.Int32(object_id), ua.Int16(0))


def status(code: int) -> ua.StatusCode:
    return ua.StatusCode(ua.UInt32(code))


def timestamp(moment: datetime) -> ua.DateTime:
    return cast(ua.DateTime, moment)


def variant(value: Value, vtype: ua.VariantType) -> ua.Variant:
    return ua.Variant(float(value) if vtype is ua.VariantType.Double else value, vtype)


def text(value: str) -> ua.LocalizedText:
    return ua.LocalizedText(ua.String(value))


async def add_object(parent: Node, ns: int, identifier: str, name: str, description: str) -> Node:
    item = ua.AddNodesItem()
    item.RequestedNewNodeId = nid(identifier, ns)
    item.BrowseName = qname(name, ns)
    item.NodeClass = ua.NodeClass.Object
    item.ParentNodeId = parent.nodeid
    organizes = parent.nodeid.NamespaceIndex == 0  # below the standard Objects folder
    item.ReferenceTypeId = std(ObjectIds.Organizes if organizes else ObjectIds.HasComponent)
    item.TypeDefinition = std(ObjectIds.BaseObjectType)
    attrs = ua.ObjectAttributes()
    attrs.DisplayName = text(name)
    attrs.Description = text(description)
    attrs.EventNotifier = 0
    item.NodeAttributes = attrs
    return await _add(parent, item)


async def add_variable(parent: Node, ns: int, identifier: str, spec: PointSpec, value: Value) -> Node:
    """A variable (BaseAnalogType if it has a unit) with EngineeringUnits and, for setpoints, EURange."""
    item = ua.AddNodesItem()
    item.RequestedNewNodeId = nid(identifier, ns)
    item.BrowseName = qname(spec.name, ns)
    item.NodeClass = ua.NodeClass.Variable
    item.ParentNodeId = parent.nodeid
    item.ReferenceTypeId = std(ObjectIds.HasComponent)
    item.TypeDefinition = std(ObjectIds.BaseAnalogType if spec.unit is not None else ObjectIds.BaseDataVariableType)
    access = ua.AccessLevel.CurrentRead.mask
    if spec.write is not None:
        access |= ua.AccessLevel.CurrentWrite.mask
    attrs = ua.VariableAttributes()
    attrs.DisplayName = text(spec.name)
    attrs.Description = text(spec.description)
    attrs.DataType = std(spec.vtype.value)
    attrs.Value = variant(value, spec.vtype)
    attrs.ValueRank = ua.ValueRank.Scalar
    attrs.AccessLevel = access
    attrs.UserAccessLevel = access
    attrs.WriteMask = 0
    attrs.UserWriteMask = 0
    attrs.Historizing = False
    item.NodeAttributes = attrs
    node = await _add(parent, item)
    if spec.unit is not None:
        units = ua.EUInformation(
            NamespaceUri=UNECE_NAMESPACE,
            UnitId=spec.unit.unit_id,
            DisplayName=text(spec.unit.symbol),
            Description=text(spec.unit.description),
        )
        prop = await node.add_property(nid(f"{identifier}.EngineeringUnits", ns),
                                       qname("EngineeringUnits", 0), units,
                                       varianttype=ua.VariantType.ExtensionObject, datatype=ObjectIds.EUInformation)
        await describe(prop, f"unit of {spec.name}: {spec.unit.symbol} ({spec.unit.description}, "
                             f"UNECE {spec.unit.code})")
    if spec.eu_range is not None:
        low, high = spec.eu_range
        prop = await node.add_property(nid(f"{identifier}.EURange", ns), qname("EURange", 0),
                                       ua.Range(Low=float(low), High=float(high)),
                                       varianttype=ua.VariantType.ExtensionObject, datatype=ObjectIds.Range)
        await describe(prop, f"the widest range a write of {spec.name} accepts: {low:g}..{high:g}")
    return node


def _argument(arg: ArgSpec) -> ua.Argument:
    return ua.Argument(
        Name=arg.name,
        DataType=std(arg.vtype.value),
        ValueRank=ua.ValueRank.Scalar,
        ArrayDimensions=[],
        Description=text(arg.description),
    )


async def add_method(parent: Node, ns: int, identifier: str, spec: MethodSpec, handler: MethodHandler) -> Node:
    method = await parent.add_method(
        nid(identifier, ns),
        qname(spec.name, ns),
        handler,
        [_argument(a) for a in spec.inputs],
        [_argument(a) for a in spec.outputs],
    )
    await describe(method, spec.description)
    for prop_name, args in (("InputArguments", spec.inputs), ("OutputArguments", spec.outputs)):
        if args:
            names = ", ".join(a.name for a in args)
            kind = "arguments" if prop_name == "InputArguments" else "results"
            await describe(await method.get_child(f"0:{prop_name}"), f"{kind} of {spec.name}: {names}")
    return method


async def describe(node: Node, description: str) -> None:
    """Set a node's Description attribute (asyncua repeats the BrowseName when none is given)."""
    await node.write_attribute(AttributeIds.Description, ua.DataValue(ua.Variant(text(description))))


async def _add(parent: Node, item: ua.AddNodesItem) -> Node:
    result = (await parent.session.add_nodes([item]))[0]
    result.StatusCode.check()
    return Node(parent.session, result.AddedNodeId)
