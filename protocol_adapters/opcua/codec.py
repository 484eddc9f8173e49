"""OPC UA data values in, typed readings out, and Python values to OPC UA variants. Pure: no I/O, no clock.

asyncua decodes the binary protocol; this module decides what a decoded ``DataValue`` means to us:

* the **status code** becomes our quality and reason (``BadSensorFailure`` → bad ``sensor-fault``,
  ``BadCommunicationError``/``BadNotConnected`` → bad ``comm-loss``, ``Uncertain*`` → uncertain …);
  a bad value is never passed on (``None``), an uncertain one is;
* the **value** becomes the Python type its ``NodeSpec`` announces; one of another type is bad
  ``bad-frame`` (it is not what the device's node map says);
* the **source timestamp** is kept (the server's, then the arrival time, when the device gives none).

Writes and method arguments go the other way: ``encode`` refuses a value that does not fit the
node's type before anything is sent (a Python ``5`` is not a Double, and the server would answer
``BadTypeMismatch``). The requests the client sends (browse paths, subscription, monitored items
with their deadband filter) are built here too, so that they can be checked without a server.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from asyncua import ua
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.status_codes import StatusCodes, get_name_and_doc

from protocol_adapters.opcua.points import NodeSpec, UaType
from protocol_adapters.readings import Reading, Value
from telemetry.contracts.quality import BadReason, Quality

NOT_YET_READ = "not-yet-read"

#: Status codes that say the data source could not be reached (or the session with it is gone).
COMM_LOSS_CODES = frozenset({
    StatusCodes.BadCommunicationError, StatusCodes.BadNotConnected, StatusCodes.BadNoCommunication,
    StatusCodes.BadServerNotConnected, StatusCodes.BadTimeout, StatusCodes.BadRequestTimeout,
    StatusCodes.BadConnectionClosed, StatusCodes.BadSecureChannelClosed, StatusCodes.BadSecureChannelIdInvalid,
    StatusCodes.BadSessionClosed, StatusCodes.BadSessionIdInvalid, StatusCodes.BadShutdown,
    StatusCodes.BadServerHalted, StatusCodes.BadTcpInternalError,
})

#: Reasons for status codes that name one; other bad codes are ``device-error``, other uncertain ones ``uncertain``.
REASONS: dict[int, str] = {
    **dict.fromkeys(COMM_LOSS_CODES, BadReason.COMM_LOSS.value),
    StatusCodes.BadSensorFailure: BadReason.SENSOR_FAULT.value,
    StatusCodes.BadDeviceFailure: BadReason.DEVICE_ERROR.value,
    StatusCodes.BadOutOfRange: BadReason.OUT_OF_RANGE.value,
    StatusCodes.BadDecodingError: BadReason.BAD_FRAME.value,
    StatusCodes.BadEncodingError: BadReason.BAD_FRAME.value,
    StatusCodes.BadWaitingForInitialData: NOT_YET_READ,
    StatusCodes.UncertainNoCommunicationLastUsableValue: BadReason.COMM_LOSS.value,
    StatusCodes.UncertainLastUsableValue: BadReason.STALE.value,
    StatusCodes.UncertainSensorNotAccurate: BadReason.SENSOR_FAULT.value,
    StatusCodes.UncertainSensorCalibration: BadReason.SENSOR_FAULT.value,
    StatusCodes.UncertainEngineeringUnitsExceeded: BadReason.OUT_OF_RANGE.value,
    StatusCodes.UncertainOverRange: BadReason.OUT_OF_RANGE.value,
    StatusCodes.UncertainUnderRange: BadReason.OUT_OF_RANGE.value,
}
UNCERTAIN = "uncertain"

_TYPE_NAMES = frozenset(t.value for t in UaType)
_INFO_BITS = 0x0000FFFF   # limit, overflow and info-type bits: not part of the code's meaning
_NO_TIME = datetime(1601, 1, 2, tzinfo=UTC)   # OPC UA's "no timestamp" is the 1601 epoch
_INT_RANGE = {
    UaType.INT16: (-(2**15), 2**15 - 1), UaType.INT32: (-(2**31), 2**31 - 1), UaType.INT64: (-(2**63), 2**63 - 1),
    UaType.UINT16: (0, 2**16 - 1), UaType.UINT32: (0, 2**32 - 1), UaType.UINT64: (0, 2**64 - 1),
}


def status_name(status: int) -> str:
    """``0x808C0000`` → ``"BadSensorFailure"`` (unknown codes: ``"Bad"``, ``"Uncertain"``, ``"Good"``)."""
    return get_name_and_doc(status & ~_INFO_BITS)[0]


def is_comm_loss(status: int) -> bool:
    return status & ~_INFO_BITS in COMM_LOSS_CODES


def quality_of(status: int) -> tuple[Quality, str]:
    """Severity bits 00 good, 01 uncertain, 1x bad; the reason from ``REASONS`` (empty when good)."""
    severity = (status >> 30) & 0b11
    if severity == 0:
        return Quality.GOOD, ""
    fallback = UNCERTAIN if severity == 1 else BadReason.DEVICE_ERROR.value
    quality = Quality.UNCERTAIN if severity == 1 else Quality.BAD
    return quality, REASONS.get(status & ~_INFO_BITS, fallback)


def to_python(datatype: UaType, value: object) -> Value:
    """A decoded variant value as the type the node map announces; ``ValueError`` when it is not one."""
    if isinstance(value, ua.LocalizedText):
        value = value.Text or ""
    if datatype is UaType.BOOLEAN and isinstance(value, bool):
        return value
    if datatype.integer and isinstance(value, int) and not isinstance(value, bool):
        return value
    if datatype.numeric and not datatype.integer and isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
        if not math.isfinite(number):
            raise OverflowError(f"{number} is not a finite number")
        return number
    if datatype is UaType.STRING and isinstance(value, str):
        return value
    if datatype is UaType.DATETIME and isinstance(value, datetime):
        return int(_aware(value).timestamp() * 1000)
    raise ValueError(f"expected {datatype.value}, got {type(value).__name__} {value!r}")


def reading(spec: NodeSpec, status: int, value: object, source_time: datetime | None,
            server_time: datetime | None, received: datetime) -> Reading:
    """One notified or read value as our ``Reading``."""
    stamp = next((_aware(t) for t in (source_time, server_time) if t is not None and _aware(t) > _NO_TIME), received)
    quality, reason = quality_of(status)
    if quality is Quality.BAD:
        return Reading(spec.key, None, stamp, quality, reason)
    if value is None:
        return Reading(spec.key, None, stamp, Quality.BAD, BadReason.BAD_FRAME.value)
    try:
        typed = to_python(spec.datatype, value)
    except OverflowError:
        return Reading(spec.key, None, stamp, Quality.BAD, BadReason.OUT_OF_RANGE.value)
    except ValueError:
        return Reading(spec.key, None, stamp, Quality.BAD, BadReason.BAD_FRAME.value)
    return Reading(spec.key, typed, stamp, quality, reason)


def from_datavalue(spec: NodeSpec, data: ua.DataValue, received: datetime) -> Reading:
    status = data.StatusCode.value if data.StatusCode is not None else StatusCodes.Good
    value = data.Value.Value if data.Value is not None else None
    return reading(spec, status, value, data.SourceTimestamp, data.ServerTimestamp, received)


def encode(datatype: UaType, value: Value | datetime) -> ua.Variant:
    """A Python value as the variant a node of ``datatype`` takes; ``ValueError`` when it does not fit."""
    vtype = ua.VariantType[datatype.value]
    if datatype is UaType.BOOLEAN and isinstance(value, bool):
        return ua.Variant(value, vtype)
    if datatype.integer and isinstance(value, int) and not isinstance(value, bool):
        low, high = _INT_RANGE[datatype]
        if not low <= value <= high:
            raise ValueError(f"{value} does not fit {datatype.value} ({low}..{high})")
        return ua.Variant(value, vtype)
    if datatype.numeric and not datatype.integer and isinstance(value, int | float) and not isinstance(value, bool):
        return ua.Variant(float(value), vtype)
    if datatype is UaType.STRING and isinstance(value, str):
        return ua.Variant(value, vtype)
    if datatype is UaType.DATETIME and isinstance(value, datetime):
        return ua.Variant(_aware(value), vtype)
    raise ValueError(f"{value!r} is not a {datatype.value}")


def argument(value: Value, vtype: ua.VariantType | None) -> ua.Variant:
    """A method argument for an input declared as ``vtype`` (None: not declared, let asyncua guess)."""
    if vtype is not None and vtype.name in _TYPE_NAMES:
        return encode(UaType(vtype.name), value)
    return ua.Variant(value)


def variant_type(datatype: ua.NodeId) -> ua.VariantType | None:
    """The built-in type of a DataType NodeId (``i=11`` → Double); None for structures and enumerations."""
    identifier = datatype.Identifier
    if datatype.NamespaceIndex == 0 and isinstance(identifier, int) and 1 <= identifier <= 25:
        return ua.VariantType(identifier)
    return None


def relative_path(namespace: int, elements: tuple[str, ...], standard: tuple[str, ...] = ()) -> ua.RelativePath:
    """BrowseNames in ``namespace``, then ``standard`` ones (namespace 0, e.g. ``InputArguments``), followed
    down hierarchical references (Organizes, HasComponent, HasProperty …)."""
    hierarchical = ua.NodeId(ua.Int32(ObjectIds.HierarchicalReferences), ua.Int16(0))
    steps = [(namespace, name) for name in elements] + [(0, name) for name in standard]
    return ua.RelativePath([
        ua.RelativePathElement(hierarchical, False, True,  # type: ignore[arg-type]
                               ua.QualifiedName(ua.String(name), ua.UInt16(ns)))
        for ns, name in steps
    ])


def browse_target(result: ua.BrowsePathResult) -> ua.NodeId | None:
    """The node a translated browse path led to (a plain NodeId), or None when it led nowhere."""
    if not result.StatusCode.is_good() or not result.Targets:
        return None
    target = result.Targets[0].TargetId
    return ua.NodeId(target.Identifier, target.NamespaceIndex)


def subscription_parameters(publishing_interval_ms: float, keep_alive_s: float) -> ua.CreateSubscriptionParameters:
    """Publish every interval, a keep-alive at least every ``keep_alive_s``, lifetime three keep-alives."""
    keep_alive = max(1, math.ceil(keep_alive_s * 1000 / publishing_interval_ms))
    return ua.CreateSubscriptionParameters(
        RequestedPublishingInterval=publishing_interval_ms, RequestedLifetimeCount=ua.UInt32(3 * keep_alive),
        RequestedMaxKeepAliveCount=ua.UInt32(keep_alive), MaxNotificationsPerPublish=ua.UInt32(0),
        PublishingEnabled=True, Priority=ua.Byte(0))


def monitored_item(handle: int, node_id: ua.NodeId, deadband: float,
                   sampling_ms: float) -> ua.MonitoredItemCreateRequest:
    """Watch a node's value (latest only); with a deadband, an absolute data-change filter on status and value."""
    params = ua.MonitoringParameters(ClientHandle=ua.UInt32(handle), SamplingInterval=sampling_ms,
                                     QueueSize=ua.UInt32(1), DiscardOldest=True)
    if deadband:
        params.Filter = ua.DataChangeFilter(Trigger=ua.DataChangeTrigger.StatusValue,
                                            DeadbandType=ua.UInt32(ua.DeadbandType.Absolute), DeadbandValue=deadband)
    item = ua.ReadValueId(NodeId=node_id, AttributeId=ua.UInt32(AttributeIds.Value))
    return ua.MonitoredItemCreateRequest(ItemToMonitor=item, MonitoringMode=ua.MonitoringMode.Reporting,
                                         RequestedParameters=params)


def plain(value: object) -> Value:
    """A method's output as a plain value: numbers, text and booleans as they are, times in ms, the rest as text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, ua.LocalizedText):
        return value.Text or ""
    if isinstance(value, datetime):
        return int(_aware(value).timestamp() * 1000)
    return str(value)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
