"""The gas skid's OPC UA server (asyncua): the one place with I/O.

``GasSkidServer`` builds the declared address space under ``Objects/GasSkid`` (namespace
``urn:forecourt:gas-skid``, string NodeIds ``GasSkid.<Object>.<Variable>``), then a task steps
the model to the clock and publishes changed values every ``publish_interval_s`` of real time.
Client writes pass a setpoint gate that applies the PLC's rules (``BadNotWritable`` for measured
values, ``BadTypeMismatch``, ``BadOutOfRange``, ``BadInvalidState``); method calls answer
refusals with a bad status as well, and the reason is shown in ``GasSkid/LastRefusal``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import socket
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from asyncua import ua
from asyncua.common.callback import CallbackType, ServerItemCallback
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.address_space import AddressSpace, AttributeService
from asyncua.server.server import Server

from simulators.clock import SimClock
from simulators.gas_skid import ua_nodes
from simulators.gas_skid.address_space import NAMESPACE_URI, ROOT, address_space, node_id
from simulators.gas_skid.config import GasSkidConfig
from simulators.gas_skid.errors import CommandRefused, Refusal
from simulators.gas_skid.faults import GasSkidFaults
from simulators.gas_skid.model import GasSkidModel
from simulators.gas_skid.points import MethodSpec, PointSpec, Value
from simulators.gas_skid.ua_nodes import AttributeIds, ObjectIds, StatusCodes, nid, status

_log = logging.getLogger(__name__)

DEFAULT_PORT = 4840
ENDPOINT_PATH = "/forecourt/gas-skid/"

REFUSAL_STATUS = {
    Refusal.INVALID_STATE: StatusCodes.BadInvalidState,
    Refusal.OUT_OF_RANGE: StatusCodes.BadOutOfRange,
    Refusal.RESOURCE_LOW: StatusCodes.BadResourceUnavailable,
    Refusal.NOT_WRITABLE: StatusCodes.BadNotWritable,
    Refusal.TYPE_MISMATCH: StatusCodes.BadTypeMismatch,
    Refusal.BAD_ARGUMENT: StatusCodes.BadInvalidArgument,
    Refusal.ARGUMENTS_MISSING: StatusCodes.BadArgumentsMissing,
    Refusal.TOO_MANY_ARGUMENTS: StatusCodes.BadTooManyArguments,
}


class _SetpointGate(AttributeService):
    """Client writes into the skid's namespace go to the PLC's rules; everything else as asyncua does."""

    def __init__(self, aspace: AddressSpace, skid: GasSkidServer, ns: int) -> None:
        super().__init__(aspace)
        self._skid = skid
        self._ns = ns

    async def write(self, params: ua.WriteParameters, user: User = User(role=UserRole.Admin)) -> list[ua.StatusCode]:  # noqa: B008
        if user.role is UserRole.Admin:  # the server's own session
            return await super().write(params, user)
        results: list[ua.StatusCode] = []
        for item in params.NodesToWrite:
            if item.NodeId.NamespaceIndex == self._ns:
                results.append(await self._skid.client_write(item))
            else:
                results.extend(await super().write(ua.WriteParameters(NodesToWrite=[item]), user))
        return results


class GasSkidServer:
    """OPC UA endpoint of one gas skid; ``async with GasSkidServer(config, clock, port=0) as skid: ...``."""

    def __init__(
        self,
        config: GasSkidConfig,
        clock: SimClock,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        publish_interval_s: float = 0.5,
        model: GasSkidModel | None = None,
    ) -> None:
        self.model = model if model is not None else GasSkidModel(config)
        self.clock = clock
        self.host = host
        self.port = port
        self.publish_interval_s = publish_interval_s
        self.faults = GasSkidFaults(self.model, self)
        self.last_refusal = ""
        self.response_delay_s = 0.0
        self.ns = 0
        self._ua: Server | None = None
        self._points: dict[ua.NodeId, PointSpec] = {}
        self._published: dict[ua.NodeId, tuple[Value, bool]] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._synced_at = clock.elapsed()
        self._server_clock_at = datetime.min.replace(tzinfo=UTC)
        self._online = False

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://{self.host}:{self.port}{ENDPOINT_PATH}"

    @property
    def online(self) -> bool:
        return self._online

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        if self.port == 0:
            self.port = _free_port(self.host)
        server = Server()
        await server.init()
        server.disable_clock()  # CurrentTime is kept by the publish loop, so stop() need not wait a second
        server.set_endpoint(self.endpoint)
        server.set_server_name("Forecourt gas skid simulator")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        await server.set_application_uri("urn:forecourt:gas-skid:simulator")
        self.ns = await server.register_namespace(NAMESPACE_URI)
        self._ua = server
        self._points.clear()
        self._published.clear()
        await self._build()
        server.iserver.attribute_service = _SetpointGate(server.iserver.aspace, self, self.ns)
        server.subscribe_server_callback(CallbackType.PreRead, self._delay_response)
        server.subscribe_server_callback(CallbackType.PreWrite, self._delay_response)
        await server.start()
        await self._publish()
        self._online = True
        _log.info("gas skid OPC UA server on %s (namespace %s = ns %d)", self.endpoint, NAMESPACE_URI, self.ns)
        self._loop_task = asyncio.create_task(self._publish_loop(), name="gas-skid-publish")

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        if self._ua is not None:
            await self._ua.stop()  # also fine while offline: closing a closed endpoint is a no-op
            self._ua = None
        self._online = False

    async def __aenter__(self) -> GasSkidServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def go_offline(self) -> None:
        """Close the listening socket and drop every client; the skid keeps running."""
        if self._ua is not None and self._ua.bserver is not None and self._online:
            await self._ua.bserver.stop()
            self._online = False

    async def go_online(self) -> None:
        """Listen again on the same port."""
        if self._ua is not None and self._ua.bserver is not None and not self._online:
            await self._ua.bserver.start()
            self._online = True

    # --- model time and publishing ---------------------------------------------------------------

    async def sync(self) -> None:
        """Step the model to the clock's present and publish what changed."""
        now = self.clock.elapsed()
        if now > self._synced_at:
            self.model.advance(now - self._synced_at)
            self._synced_at = now
        await self._publish()

    async def _publish_loop(self) -> None:
        while True:
            await asyncio.sleep(self.publish_interval_s)
            await self.sync()

    async def _publish(self) -> None:
        server = self._server()
        source_time = self.clock.stamp()     # one time base toward the edge (simulators/clock.py)
        server_time = datetime.now(UTC)
        failed = self.model.sensors.failed
        for nodeid, spec in self._points.items():
            value = spec.read(self.model)
            bad = spec.sensor is not None and spec.sensor in failed
            if self._published.get(nodeid) == (value, bad):
                continue
            self._published[nodeid] = (value, bad)
            quality = status(StatusCodes.BadSensorFailure if bad else StatusCodes.Good)
            datavalue = ua.DataValue(
                ua_nodes.variant(value, spec.vtype), quality, ua_nodes.timestamp(source_time),
                ua_nodes.timestamp(server_time),
            )
            await server.write_attribute_value(nodeid, datavalue)
        await self._write_own(f"{ROOT}.SimulatedTime", ua.Variant(source_time, ua.VariantType.DateTime))
        await self._write_own(f"{ROOT}.LastRefusal", ua.Variant(self.last_refusal, ua.VariantType.String))
        await self._update_server_clock(server, server_time)

    async def _update_server_clock(self, server: Server, now: datetime) -> None:
        """Server/ServerStatus/CurrentTime (wall clock), as asyncua's own clock task would, once a second."""
        if (now - self._server_clock_at).total_seconds() < 1.0:
            return
        self._server_clock_at = now
        status_node = server.get_node(ua_nodes.std(ObjectIds.Server_ServerStatus))
        server_status = copy.copy(await status_node.read_value())
        server_status.CurrentTime = now
        await status_node.write_value(server_status)
        current = ua.DataValue(ua.Variant(ua_nodes.timestamp(now), ua.VariantType.DateTime))
        await server.write_attribute_value(ua_nodes.std(ObjectIds.Server_ServerStatus_CurrentTime), current)

    async def _write_own(self, identifier: str, value: ua.Variant) -> None:
        await self._server().write_attribute_value(nid(identifier, self.ns), ua.DataValue(value))

    # --- client requests -------------------------------------------------------------------------

    async def client_write(self, item: ua.WriteValue) -> ua.StatusCode:
        """A client's write of one node in our namespace, judged as the PLC would."""
        await self._delay_response()
        spec = self._points.get(item.NodeId)
        try:
            if item.AttributeId != AttributeIds.Value or spec is None or spec.write is None:
                raise CommandRefused(Refusal.NOT_WRITABLE, f"{item.NodeId.Identifier} is not a writable setpoint")
            variant = item.Value.Value
            if variant is None or variant.VariantType != spec.vtype:
                given = "no value" if variant is None else variant.VariantType.name
                raise CommandRefused(Refusal.TYPE_MISMATCH, f"{spec.name} takes {spec.vtype.name}, got {given}")
            await self.sync()
            spec.write(self.model, variant.Value)
        except CommandRefused as refused:
            return await self._refuse(refused)
        await self.sync()
        return status(StatusCodes.Good)

    def _method_handler(self, spec: MethodSpec) -> ua_nodes.MethodHandler:
        async def handler(_parent: ua.NodeId, *args: ua.Variant) -> list[ua.Variant] | ua.StatusCode:
            await self._delay_response()
            try:
                count = f"{spec.name} takes {len(spec.inputs)} argument(s), got {len(args)}"
                if len(args) < len(spec.inputs):
                    raise CommandRefused(Refusal.ARGUMENTS_MISSING, count)
                if len(args) > len(spec.inputs):
                    raise CommandRefused(Refusal.TOO_MANY_ARGUMENTS, count)
                await self.sync()
                outputs = spec.call(self.model, [arg.Value for arg in args])
            except CommandRefused as refused:
                return await self._refuse(refused)
            await self.sync()
            return [ua_nodes.variant(v, a.vtype) for v, a in zip(outputs, spec.outputs, strict=True)]

        return handler

    async def _refuse(self, refused: CommandRefused) -> ua.StatusCode:
        self.last_refusal = f"{refused.reason.value}: {refused.message}"
        await self._publish()
        return status(REFUSAL_STATUS[refused.reason])

    async def _delay_response(self, event: ServerItemCallback | None = None, _service: Any = None) -> None:
        """The "slow answers" fault: hold client reads, writes and calls for ``response_delay_s``."""
        if self.response_delay_s > 0 and (event is None or event.is_external):
            await asyncio.sleep(self.response_delay_s)

    # --- address space ---------------------------------------------------------------------------

    def _server(self) -> Server:
        if self._ua is None:
            raise RuntimeError("gas skid server not started")
        return self._ua

    async def _build(self) -> None:
        ns = self.ns
        root = await ua_nodes.add_object(self._server().nodes.objects, ns, ROOT, ROOT, "CNG/LNG gas skid")
        for identifier, value, description in (
            ("SimulatedTime", ua.Variant(self.clock.now(), ua.VariantType.DateTime), "simulated station time (UTC)"),
            ("LastRefusal", ua.Variant("", ua.VariantType.String), "why the last write or call was refused"),
        ):
            node = await root.add_variable(nid(f"{ROOT}.{identifier}", ns), ua_nodes.qname(identifier, ns), value)
            await ua_nodes.describe(node, description)
        parents: dict[tuple[str, ...], ua_nodes.Node] = {(): root}
        for obj in address_space(self.model):
            parent = parents[obj.path[:-1]]
            node = await ua_nodes.add_object(parent, ns, node_id(obj.path), obj.path[-1], obj.description)
            parents[obj.path] = node
            for point in obj.points:
                identifier = node_id(obj.path, point.name)
                await ua_nodes.add_variable(node, ns, identifier, point, point.read(self.model))
                self._points[nid(identifier, ns)] = point
            for method in obj.methods:
                await ua_nodes.add_method(node, ns, node_id(obj.path, method.name), method,
                                          self._method_handler(method))


def _free_port(host: str) -> int:
    """A port the OS says is free now (kept for the server's whole life, across go_offline/online)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


async def run(
    config: GasSkidConfig, clock: SimClock, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT
) -> None:
    """Serve the gas skid until cancelled."""
    async with GasSkidServer(config, clock, host=host, port=port):
        await asyncio.Event().wait()
