"""OPC UA codec: status codes to quality and reason, values to the announced types, timestamps, variants out."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from asyncua import ua
from asyncua.ua.object_ids import ObjectIds

from protocol_adapters.opcua import codec
from protocol_adapters.opcua.points import NodeSpec, UaType
from telemetry.contracts.quality import Quality

RECEIVED = datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)
SOURCE = datetime(2026, 3, 1, 7, 59, 58, tzinfo=UTC)
MASS = NodeSpec("cng1/mass", "GasSkid/CngDispenser1/Mass_kg", "kg", UaType.DOUBLE)


@pytest.mark.parametrize(("status", "quality", "reason"), [
    (0x00000000, Quality.GOOD, ""),                         # Good
    (0x00960000, Quality.GOOD, ""),                         # GoodLocalOverride
    (0x808C0000, Quality.BAD, "sensor-fault"),              # BadSensorFailure
    (0x80050000, Quality.BAD, "comm-loss"),                 # BadCommunicationError
    (0x808A0000, Quality.BAD, "comm-loss"),                 # BadNotConnected
    (0x80310000, Quality.BAD, "comm-loss"),                 # BadNoCommunication
    (0x800D0000, Quality.BAD, "comm-loss"),                 # BadServerNotConnected
    (0x808B0000, Quality.BAD, "device-error"),              # BadDeviceFailure
    (0x803C0000, Quality.BAD, "out-of-range"),              # BadOutOfRange
    (0x80320000, Quality.BAD, "not-yet-read"),              # BadWaitingForInitialData
    (0x808D0000, Quality.BAD, "device-error"),              # BadOutOfService: no reason of its own
    (0x80000000, Quality.BAD, "device-error"),              # plain Bad
    (0xC0000000, Quality.BAD, "device-error"),              # severity 11 is bad too
    (0x40900000, Quality.UNCERTAIN, "stale"),               # UncertainLastUsableValue
    (0x408F0000, Quality.UNCERTAIN, "comm-loss"),           # UncertainNoCommunicationLastUsableValue
    (0x40930000, Quality.UNCERTAIN, "sensor-fault"),        # UncertainSensorNotAccurate
    (0x40940000, Quality.UNCERTAIN, "out-of-range"),        # UncertainEngineeringUnitsExceeded
    (0x40920000, Quality.UNCERTAIN, "uncertain"),           # UncertainInitialValue: no reason of its own
    (0x40000000, Quality.UNCERTAIN, "uncertain"),           # plain Uncertain
    (0x808C0000 | 0x0400 | 0x0100, Quality.BAD, "sensor-fault"),  # info bits (data value, limit low) ignored
])
def test_status_codes_become_quality_and_reason(status: int, quality: Quality, reason: str) -> None:
    assert codec.quality_of(status) == (quality, reason)


@pytest.mark.parametrize(("status", "name", "comm_loss"), [
    (0x803B0000, "BadNotWritable", False),
    (0x80AF0000, "BadInvalidState", False),
    (0x80040000, "BadResourceUnavailable", False),
    (0x80AE0000, "BadConnectionClosed", True),
    (0x800A0000, "BadTimeout", True),
    (0x80250000, "BadSessionIdInvalid", True),
    (0x80FF0000, "Bad", False),   # not a known code
])
def test_status_names_and_which_mean_the_link_is_gone(status: int, name: str, comm_loss: bool) -> None:
    assert codec.status_name(status) == name
    assert codec.is_comm_loss(status) is comm_loss


@pytest.mark.parametrize(("datatype", "raw", "value"), [
    (UaType.DOUBLE, 12.5, 12.5),
    (UaType.DOUBLE, 12, 12.0),                   # an integer into a Double node reads as float
    (UaType.FLOAT, 0.25, 0.25),
    (UaType.INT32, 450, 450),
    (UaType.UINT16, 65535, 65535),
    (UaType.BOOLEAN, True, True),
    (UaType.STRING, "target_pressure", "target_pressure"),
    (UaType.STRING, ua.LocalizedText("满"), "满"),
    (UaType.DATETIME, datetime(2026, 1, 1, tzinfo=UTC), 1_767_225_600_000),
    (UaType.DATETIME, datetime(2026, 1, 1, 8, tzinfo=timezone(timedelta(hours=8))), 1_767_225_600_000),
])
def test_values_become_the_announced_python_type(datatype: UaType, raw: object, value: object) -> None:
    got = codec.to_python(datatype, raw)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(("datatype", "raw"), [
    (UaType.INT32, 1.5), (UaType.INT32, True), (UaType.DOUBLE, "12.5"), (UaType.DOUBLE, False),
    (UaType.BOOLEAN, 1), (UaType.STRING, 5), (UaType.DOUBLE, [1.0, 2.0]),
])
def test_a_value_of_another_type_is_refused(datatype: UaType, raw: object) -> None:
    with pytest.raises(ValueError, match="expected"):
        codec.to_python(datatype, raw)


def test_good_reading_keeps_value_and_source_timestamp() -> None:
    r = codec.reading(MASS, 0, 12.34, SOURCE, RECEIVED, RECEIVED)
    assert (r.key, r.value, r.source_time, r.quality, r.reason) == ("cng1/mass", 12.34, SOURCE, Quality.GOOD, "")


def test_timestamp_falls_back_to_server_time_then_arrival() -> None:
    server = SOURCE + timedelta(seconds=1)
    assert codec.reading(MASS, 0, 1.0, None, server, RECEIVED).source_time == server
    no_time = datetime(1601, 1, 1, tzinfo=UTC)   # OPC UA's null DateTime
    assert codec.reading(MASS, 0, 1.0, no_time, None, RECEIVED).source_time == RECEIVED
    naive = datetime(2026, 3, 1, 7, 0)  # noqa: DTZ001 - a server that sends naive UTC
    assert codec.reading(MASS, 0, 1.0, naive, None, RECEIVED).source_time == naive.replace(tzinfo=UTC)


def test_bad_status_drops_the_value_and_uncertain_keeps_it() -> None:
    failed = codec.reading(MASS, 0x808C0000, 18.2, SOURCE, None, RECEIVED)
    assert (failed.value, failed.quality, failed.reason, failed.source_time) == (
        None, Quality.BAD, "sensor-fault", SOURCE)
    doubtful = codec.reading(MASS, 0x40930000, 18.2, SOURCE, None, RECEIVED)
    assert (doubtful.value, doubtful.quality, doubtful.reason) == (18.2, Quality.UNCERTAIN, "sensor-fault")


@pytest.mark.parametrize(("raw", "reason"), [
    (None, "bad-frame"),            # Good status without a value
    ("18.2", "bad-frame"),          # the node map says Double, the server sends text
    (float("nan"), "out-of-range"),
    (float("inf"), "out-of-range"),
])
def test_unusable_good_values_are_bad(raw: object, reason: str) -> None:
    r = codec.reading(MASS, 0, raw, SOURCE, None, RECEIVED)
    assert (r.value, r.quality, r.reason) == (None, Quality.BAD, reason)


def test_from_datavalue_reads_status_value_and_times() -> None:
    data = ua.DataValue(ua.Variant(7, ua.VariantType.Int32), ua.StatusCode(ua.UInt32(0)), SOURCE, RECEIVED)
    r = codec.from_datavalue(NodeSpec("cng1/transaction", "x", None, UaType.INT32), data, RECEIVED)
    assert (r.value, r.quality, r.source_time) == (7, Quality.GOOD, SOURCE)
    failed = ua.DataValue(ua.Variant(None), ua.StatusCode(ua.UInt32(0x808C0000)), SOURCE)
    assert codec.from_datavalue(MASS, failed, RECEIVED).reason == "sensor-fault"


@pytest.mark.parametrize(("datatype", "value", "vtype", "sent"), [
    (UaType.DOUBLE, 5, ua.VariantType.Double, 5.0),       # a Python int is sent as the Double the node wants
    (UaType.DOUBLE, 20.5, ua.VariantType.Double, 20.5),
    (UaType.INT32, 488, ua.VariantType.Int32, 488),
    (UaType.BOOLEAN, True, ua.VariantType.Boolean, True),
    (UaType.STRING, "x", ua.VariantType.String, "x"),
])
def test_encode_sends_the_nodes_type(datatype: UaType, value: object, vtype: ua.VariantType, sent: object) -> None:
    variant = codec.encode(datatype, value)  # type: ignore[arg-type]
    assert variant.VariantType == vtype and variant.Value == sent and type(variant.Value) is type(sent)


@pytest.mark.parametrize(("datatype", "value"), [
    (UaType.INT32, 4.8), (UaType.INT32, 2**31), (UaType.UINT16, -1), (UaType.INT16, True),
    (UaType.DOUBLE, "20"), (UaType.BOOLEAN, 0), (UaType.STRING, None),
])
def test_encode_refuses_what_does_not_fit(datatype: UaType, value: object) -> None:
    with pytest.raises(ValueError):
        codec.encode(datatype, value)  # type: ignore[arg-type]


def test_method_arguments_follow_the_declared_input_types() -> None:
    double = codec.variant_type(ua.NodeId(ua.Int32(11), ua.Int16(0)))
    assert double is ua.VariantType.Double
    assert codec.argument(0, double) == ua.Variant(0.0, ua.VariantType.Double)
    assert codec.variant_type(ua.NodeId(ua.Int32(3006), ua.Int16(0))) is None        # a structure
    assert codec.variant_type(ua.NodeId(ua.String("MyType"), ua.Int16(2))) is None   # a vendor type
    assert codec.argument("full", None).VariantType == ua.VariantType.String        # undeclared: guessed


def test_relative_path_puts_every_name_in_the_device_namespace() -> None:
    path = codec.relative_path(3, ("GasSkid", "CngDispenser1", "StartFill"), standard=("InputArguments",))
    names = [(e.TargetName.NamespaceIndex, e.TargetName.Name) for e in path.Elements]
    assert names == [(3, "GasSkid"), (3, "CngDispenser1"), (3, "StartFill"), (0, "InputArguments")]
    element = path.Elements[0]
    assert element.ReferenceTypeId == ua.NodeId(ua.Int32(ObjectIds.HierarchicalReferences), ua.Int16(0))
    assert (element.IsInverse, element.IncludeSubtypes) == (False, True)


def test_method_outputs_become_plain_values() -> None:
    assert codec.plain(3) == 3 and codec.plain(None) is None
    assert codec.plain(ua.LocalizedText("ok")) == "ok"
    assert codec.plain(datetime(2026, 1, 1, tzinfo=UTC)) == 1_767_225_600_000


def test_monitored_items_ask_for_a_deadband_only_when_the_node_has_one() -> None:
    node = ua.NodeId(ua.String("GasSkid.CngDispenser1.Flow_kg_min"), ua.Int16(2))
    plain = codec.monitored_item(7, node, 0.0, 250.0)
    assert (plain.RequestedParameters.ClientHandle, plain.RequestedParameters.SamplingInterval) == (7, 250.0)
    assert not isinstance(plain.RequestedParameters.Filter, ua.DataChangeFilter)   # the empty default
    assert plain.ItemToMonitor.NodeId == node
    filtered = codec.monitored_item(8, node, 0.5, 250.0).RequestedParameters.Filter
    assert isinstance(filtered, ua.DataChangeFilter)
    assert (filtered.DeadbandType, filtered.DeadbandValue) == (ua.DeadbandType.Absolute, 0.5)
    assert filtered.Trigger == ua.DataChangeTrigger.StatusValue


def test_subscription_keeps_alive_about_every_ten_seconds() -> None:
    params = codec.subscription_parameters(500.0, 10.0)
    assert (params.RequestedPublishingInterval, params.RequestedMaxKeepAliveCount) == (500.0, 20)
    assert params.RequestedLifetimeCount == 60 and params.PublishingEnabled
    assert codec.subscription_parameters(60_000.0, 10.0).RequestedMaxKeepAliveCount == 1


def test_browse_target_is_the_first_target_or_none() -> None:
    found = ua.BrowsePathResult(ua.StatusCode(ua.UInt32(0)), [ua.BrowsePathTarget(
        ua.ExpandedNodeId(ua.String("GasSkid.LngTank1"), ua.Int16(3)))])
    assert codec.browse_target(found) == ua.NodeId(ua.String("GasSkid.LngTank1"), ua.Int16(3))
    assert codec.browse_target(ua.BrowsePathResult(ua.StatusCode(ua.UInt32(0x806F0000)), [])) is None
