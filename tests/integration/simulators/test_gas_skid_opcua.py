"""The gas skid over OPC UA with a real asyncua client: browse, units, methods, fills, refusals, faults."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from asyncua import Client, Node, ua
from asyncua.ua import uaerrors

from simulators.clock import ManualClock, SimClock
from simulators.gas_skid.address_space import NAMESPACE_URI
from simulators.gas_skid.config import CascadeConfig, GasSkidConfig
from simulators.gas_skid.server import GasSkidServer, run

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

CONFIG = GasSkidConfig(cascade=CascadeConfig(low_initial_g_mpa=16.0, mid_initial_g_mpa=20.0, high_initial_g_mpa=24.5))


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def skid() -> AsyncIterator[GasSkidServer]:
    async with GasSkidServer(CONFIG, ManualClock(), port=0, publish_interval_s=0.05) as server:
        yield server


@pytest_asyncio.fixture(loop_scope="module")
async def client(skid: GasSkidServer) -> AsyncIterator[Client]:
    async with Client(skid.endpoint, timeout=5) as opc:
        yield opc


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def node(client: Client, *path: str) -> Node:
    ns = await client.get_namespace_index(NAMESPACE_URI)
    return await client.nodes.objects.get_child([f"{ns}:GasSkid", *(f"{ns}:{p}" for p in path)])


async def value(client: Client, *path: str) -> object:
    return await (await node(client, *path)).read_value()


async def tick(skid: GasSkidServer, seconds: float) -> None:
    assert isinstance(skid.clock, ManualClock)
    skid.clock.advance(seconds)
    await skid.sync()


async def test_browse_tree_by_path(client: Client, skid: GasSkidServer) -> None:
    ns = await client.get_namespace_index(NAMESPACE_URI)
    root = await node(client)
    names = [(await child.read_browse_name()).Name for child in await root.get_children()]
    assert names[:2] == ["SimulatedTime", "LastRefusal"]
    assert names[2:] == ["Compressor1", "CascadeStorage", "CngDispenser1", "CngDispenser2", "LngTank1",
                         "LngDispenser1", "LngDispenser2"]
    high = await node(client, "CascadeStorage", "HighBank", "Pressure_MPa_g")
    assert high.nodeid == ua.NodeId("GasSkid.CascadeStorage.HighBank.Pressure_MPa_g", ns)
    assert await high.read_value() == pytest.approx(24.5, abs=1e-3)
    start_fill = await node(client, "CngDispenser1", "StartFill")
    assert await start_fill.read_node_class() == ua.NodeClass.Method


async def test_values_carry_types_and_engineering_units(client: Client, skid: GasSkidServer) -> None:
    pressure = await node(client, "LngTank1", "Pressure_MPa_g")
    assert await pressure.read_data_type_as_variant_type() == ua.VariantType.Double
    units = await (await pressure.get_child("0:EngineeringUnits")).read_value()
    assert (units.UnitId, units.DisplayName.Text) == (0x4D5041, "MPa")
    assert units.NamespaceUri == "http://www.opcfoundation.org/UA/units/un/cefact"
    assert await pressure.read_value() == pytest.approx(skid.model.lng_tank.pressure_g, abs=1e-4)
    flow = await (await node(client, "LngDispenser1", "Flow_kg_min")).get_child("0:EngineeringUnits")
    assert (await flow.read_value()).DisplayName.Text == "kg/min"
    assert await value(client, "Compressor1", "StateName") == "stopped"
    assert isinstance(await value(client, "CngDispenser1", "UnitPrice_fen_per_kg"), int)
    setpoint_range = await (await node(client, "Compressor1", "StopPressure_MPa_g")).get_child("0:EURange")
    assert (await setpoint_range.read_value()).High == 25.0


async def test_cng_fill_progresses_to_the_compensated_target(client: Client, skid: GasSkidServer) -> None:
    dispenser = await node(client, "CngDispenser1")
    ns = dispenser.nodeid.NamespaceIndex
    transaction = await dispenser.call_method(f"{ns}:StartFill", ua.Variant(0.0, ua.VariantType.Double))
    assert transaction == await value(client, "CngDispenser1", "TransactionNo") == 1
    await tick(skid, 5.0)
    assert await value(client, "CngDispenser1", "State") == 1
    masses, amounts, banks = [], [], set()
    while await value(client, "CngDispenser1", "State") == 1:
        masses.append(await value(client, "CngDispenser1", "Mass_kg"))
        amounts.append(await value(client, "CngDispenser1", "Amount_fen"))
        banks.add(await value(client, "CngDispenser1", "ActiveBankName"))
        await tick(skid, 5.0)
    assert masses == sorted(masses) and masses[-1] > masses[0] > 0
    assert amounts == sorted(amounts) and amounts[-1] > 0
    assert {"low", "mid", "high"} <= banks
    assert await value(client, "CngDispenser1", "StateName") == "complete"
    assert await value(client, "CngDispenser1", "StopReason") == "target_pressure"
    pressure = await value(client, "CngDispenser1", "VehiclePressure_MPa_g")
    target = await value(client, "CngDispenser1", "CompensatedTarget_MPa_g")
    assert pressure == pytest.approx(target, abs=2e-3)
    assert await value(client, "CngDispenser1", "Totalizer_kg") >= await value(client, "CngDispenser1", "Mass_kg")


async def test_publish_loop_follows_the_clock(client: Client, skid: GasSkidServer) -> None:
    simulated = await node(client, "SimulatedTime")
    before = await simulated.read_value()
    skid.clock.advance(120.0)  # type: ignore[attr-defined]
    for _ in range(100):  # the loop publishes every 0.05 s; no sync() here
        if await simulated.read_value() != before:
            break
        await asyncio.sleep(0.05)
    assert (await simulated.read_value() - before).total_seconds() == pytest.approx(120.0)


async def expect_bad(status: type[uaerrors.UaStatusCodeError], action: object) -> None:
    with pytest.raises(status):
        await action  # type: ignore[misc]


async def test_writes_the_plc_would_refuse_are_refused(client: Client, skid: GasSkidServer) -> None:
    mass = await node(client, "CngDispenser2", "Mass_kg")
    await expect_bad(uaerrors.BadNotWritable, mass.write_value(ua.Variant(1.0, ua.VariantType.Double)))
    price = await node(client, "CngDispenser2", "UnitPrice_fen_per_kg")
    await expect_bad(uaerrors.BadTypeMismatch, price.write_value(ua.Variant(4.8, ua.VariantType.Double)))
    await expect_bad(uaerrors.BadOutOfRange, price.write_value(ua.Variant(0, ua.VariantType.Int32)))
    start = await node(client, "Compressor1", "StartPressure_MPa_g")
    await expect_bad(uaerrors.BadOutOfRange, start.write_value(ua.Variant(24.5, ua.VariantType.Double)))
    assert skid.model.compressor.start_g_mpa == 20.0
    await price.write_value(ua.Variant(488, ua.VariantType.Int32))
    assert skid.model.cng(2).price_fen_per_kg == 488 == await price.read_value()
    ns = price.nodeid.NamespaceIndex
    await (await node(client, "CngDispenser2")).call_method(f"{ns}:StartFill", 2.0)
    await expect_bad(uaerrors.BadInvalidState, price.write_value(ua.Variant(500, ua.VariantType.Int32)))
    assert "during a fill" in await value(client, "LastRefusal")
    await tick(skid, 60.0)
    assert await value(client, "CngDispenser2", "StopReason") == "preset_reached"
    assert await value(client, "CngDispenser2", "Amount_fen") == 976  # 2.00 kg x 488 fen/kg


async def test_every_refused_write_or_call_says_why_in_last_refusal(client: Client, skid: GasSkidServer) -> None:
    mass = await node(client, "LngDispenser1", "Mass_kg")
    await expect_bad(uaerrors.BadNotWritable, mass.write_value(ua.Variant(1.0, ua.VariantType.Double)))
    assert await value(client, "LastRefusal") == (
        "not_writable: GasSkid.LngDispenser1.Mass_kg is not a writable setpoint")
    price = await node(client, "LngDispenser1", "UnitPrice_fen_per_kg")
    await expect_bad(uaerrors.BadTypeMismatch, price.write_value(ua.Variant(4.8, ua.VariantType.Double)))
    assert await value(client, "LastRefusal") == "type_mismatch: UnitPrice_fen_per_kg takes Int32, got Double"
    lng = await node(client, "LngDispenser1")
    ns = lng.nodeid.NamespaceIndex
    await expect_bad(uaerrors.BadArgumentsMissing, lng.call_method(f"{ns}:StartFill"))
    assert await value(client, "LastRefusal") == "arguments_missing: StartFill takes 1 argument(s), got 0"
    await expect_bad(uaerrors.BadTooManyArguments, lng.call_method(f"{ns}:StartFill", 1.0, 2.0))
    assert await value(client, "LastRefusal") == "too_many_arguments: StartFill takes 1 argument(s), got 2"
    assert await value(client, "LngDispenser1", "State") == 0  # nothing was started


async def test_no_node_description_repeats_its_browse_name(client: Client) -> None:
    todo, seen = [await node(client)], 0
    while todo:
        current = todo.pop()
        name = (await current.read_browse_name()).Name
        description = (await current.read_description()).Text
        assert description and description != name, (current.nodeid, description)
        seen += 1
        todo.extend(await current.get_children())
    assert seen > 200  # objects, variables, methods and their properties, all of them walked


async def test_calls_the_plc_would_refuse_are_refused(client: Client, skid: GasSkidServer) -> None:
    lng = await node(client, "LngDispenser2")
    ns = lng.nodeid.NamespaceIndex
    await expect_bad(uaerrors.BadOutOfRange, lng.call_method(f"{ns}:StartFill", -1.0))
    await expect_bad(uaerrors.BadInvalidArgument, lng.call_method(f"{ns}:StartFill", "full"))
    await expect_bad(uaerrors.BadArgumentsMissing, lng.call_method(f"{ns}:StartFill"))
    skid.faults.dispenser_fault("lng", 2, code=4)
    await skid.sync()
    assert (await value(client, "LngDispenser2", "State"), await value(client, "LngDispenser2", "FaultCode")) == (4, 4)
    await expect_bad(uaerrors.BadInvalidState, lng.call_method(f"{ns}:StartFill", 0.0))
    await lng.call_method(f"{ns}:Reset")
    assert await lng.call_method(f"{ns}:StartFill", 0.0) == 1
    cng = await node(client, "CngDispenser2")
    await cng.call_method(f"{ns}:Reset")
    for bank in ("low", "mid", "high"):
        skid.faults.stuck_sensor(f"cascade.{bank}", 8.0)
    await expect_bad(uaerrors.BadResourceUnavailable, cng.call_method(f"{ns}:StartFill", 0.0))
    assert (await value(client, "LastRefusal")).startswith("resource_low")
    skid.faults.repair_sensor()
    compressor = await node(client, "Compressor1")
    await expect_bad(uaerrors.BadInvalidState, compressor.call_method(f"{ns}:Reset"))


async def test_methods_drive_compressor_and_vent_valve(client: Client, skid: GasSkidServer) -> None:
    compressor = await node(client, "Compressor1")
    ns = compressor.nodeid.NamespaceIndex
    await compressor.call_method(f"{ns}:Stop")
    assert await value(client, "Compressor1", "AutoEnabled") is False
    skid.faults.compressor_trip(3)
    await skid.sync()
    assert (await value(client, "Compressor1", "State"), await value(client, "Compressor1", "FaultCode")) == (3, 3)
    await expect_bad(uaerrors.BadInvalidState, compressor.call_method(f"{ns}:Start"))
    await compressor.call_method(f"{ns}:Reset")
    await compressor.call_method(f"{ns}:Start")  # banks are below 25 MPa after the fills
    await tick(skid, 20.0)
    assert await value(client, "Compressor1", "StateName") == "running"
    assert await value(client, "Compressor1", "DischargePressure_MPa_g") > 10.0
    tank = await node(client, "LngTank1")
    await tank.call_method(f"{ns}:OpenVentValve")
    before = await value(client, "LngTank1", "VentedMass_kg")
    await tick(skid, 60.0)
    assert await value(client, "LngTank1", "VentValveOpen") is True
    assert await value(client, "LngTank1", "VentedMass_kg") > before
    await tank.call_method(f"{ns}:CloseVentValve")
    assert await value(client, "LngTank1", "VentValveOpen") is False


async def test_sensor_faults_show_in_values_and_status(client: Client, skid: GasSkidServer) -> None:
    skid.faults.stuck_sensor("lng_tank.pressure")
    stuck = await value(client, "LngTank1", "Pressure_MPa_g")
    skid.faults.lng_vacuum_loss()
    await tick(skid, 3600.0)
    assert await value(client, "LngTank1", "Pressure_MPa_g") == stuck
    assert skid.model.lng_tank.pressure_g > stuck + 0.01
    assert await value(client, "LngTank1", "VacuumLossAlarm") is True
    skid.faults.sensor_failure("lng_tank.level")
    await skid.sync()
    level = await node(client, "LngTank1", "Level_pct")
    data = await level.read_data_value(raise_on_bad_status=False)
    assert data.StatusCode.value == ua.StatusCodes.BadSensorFailure
    skid.faults.repair_sensor()
    skid.faults.restore_lng_vacuum()
    await skid.sync()
    assert (await level.read_data_value()).StatusCode.is_good()
    assert await value(client, "LngTank1", "Pressure_MPa_g") > stuck + 0.01


async def test_slow_responses_delay_client_requests(skid: GasSkidServer) -> None:
    async with Client(skid.endpoint, timeout=0.3) as impatient:
        pressure = impatient.get_node(ua.NodeId("GasSkid.LngTank1.Pressure_MPa_g", skid.ns))
        await pressure.read_value()
        skid.faults.slow_responses(2.0)
        try:
            with pytest.raises(asyncio.TimeoutError):
                await pressure.read_value()
        finally:
            skid.faults.slow_responses(0.0)


async def test_clients_reconnect_after_the_endpoint_was_offline(client: Client, skid: GasSkidServer) -> None:
    totalizer_node = ua.NodeId("GasSkid.CngDispenser1.Totalizer_kg", skid.ns)
    before = await client.get_node(totalizer_node).read_value()
    await skid.faults.offline()
    assert not skid.online
    with pytest.raises((ConnectionError, OSError, asyncio.TimeoutError)):
        await client.get_node(totalizer_node).read_value()
    with pytest.raises((ConnectionError, OSError, asyncio.TimeoutError)):
        async with Client(skid.endpoint, timeout=1):
            pass
    skid.model.start_cng_fill(1)  # the skid works on while nobody watches
    await tick(skid, 30.0)
    await skid.faults.online()
    async with Client(skid.endpoint, timeout=5) as again:
        after = await again.get_node(totalizer_node).read_value()
    assert after > before


async def test_run_serves_alone_until_cancelled() -> None:
    probe = GasSkidServer(CONFIG, SimClock(60.0), port=0)
    port = _free_port()
    task = asyncio.create_task(run(CONFIG, SimClock(60.0), port=port))
    endpoint = probe.endpoint.replace(":0/", f":{port}/")
    level = None
    for _ in range(100):
        try:
            async with Client(endpoint, timeout=2) as opc:
                ns = await opc.get_namespace_index(NAMESPACE_URI)
                level = await opc.get_node(ua.NodeId("GasSkid.LngTank1.Level_pct", ns)).read_value()
                break
        except (ConnectionError, OSError):
            await asyncio.sleep(0.1)
    assert level == pytest.approx(CONFIG.lng_tank.initial_level_pct, abs=0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises((ConnectionError, OSError)):
        async with Client(endpoint, timeout=1):
            pass


async def test_server_stops_cleanly_while_offline(skid: GasSkidServer) -> None:
    """Last in this module: it stops the shared server (the fixture's own stop is then a no-op)."""
    await skid.go_offline()
    await skid.stop()
    assert not skid.online
    with socket.socket() as again:  # nobody listens there any more (TIME_WAIT leftovers allowed)
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", skid.port))
        again.listen()
