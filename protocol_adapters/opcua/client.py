"""The one place that talks OPC UA on the wire (asyncua), turning every library error into ours.

``OpcUaClient.run`` keeps one session to an endpoint for as long as it runs: connect, look the
device's namespace up by URI, resolve every node's browse path in one request, subscribe to all
of them (absolute deadband where the node map asks for one) and hand each batch of changes on.
When the server goes away it reports the loss, waits the back-off its caller chooses, and does it
all again on a fresh session — namespace, browse paths and subscriptions included, since a
restarted server may number them differently.

``write`` and ``call`` use the present session. A refusal from the server (``BadNotWritable``,
``BadOutOfRange``, ``BadInvalidState`` …) raises ``Refused`` (a ``DeviceRejected``) carrying the
status name; no session raises ``DeviceUnavailable``; a value that does not fit the node's type
raises ``ValueError`` before anything is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.node import Node
from asyncua.common.subscription import DataChangeNotif, Subscription
from asyncua.ua.status_codes import StatusCodes
from asyncua.ua.uaerrors import UaError, UaStatusCodeError

from protocol_adapters.opcua import codec
from protocol_adapters.opcua.points import NodeSpec, split_path
from protocol_adapters.readings import AdapterError, BadFrame, DeviceRejected, DeviceUnavailable, Reading, Value
from telemetry.contracts.quality import BadReason, Quality

log = logging.getLogger(__name__)

Changes = Callable[[list[Reading]], Awaitable[None]]
Lost = Callable[[AdapterError], Awaitable[None]]
RetryDelay = Callable[[int], float]
T = TypeVar("T")

KEEP_ALIVE_S = 10.0          # the server says "still here" at least this often when nothing changes
SESSION_TIMEOUT_MS = 60_000  # a session we could not close (the link dropped) is freed on the PLC after this


class Refused(DeviceRejected):
    """The server said no to a write, a call or a node; ``status`` is its name (``BadInvalidState``)."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


@dataclass(frozen=True, slots=True)
class _Change:
    handle: int
    value: ua.DataValue


@dataclass(frozen=True, slots=True)
class _Gone:
    why: str


class _Handler:
    """asyncua's subscription callbacks, queued for ``OpcUaClient`` to read in order."""

    def __init__(self, events: asyncio.Queue[_Change | _Gone]) -> None:
        self.events = events

    def datachange_notification(self, node: Node, val: Any, data: DataChangeNotif) -> None:
        handle = data.subscription_data.client_handle
        if handle is not None and data.monitored_item.Value is not None:
            self.events.put_nowait(_Change(handle, data.monitored_item.Value))

    def status_change_notification(self, status: ua.StatusChangeNotification) -> None:
        code = status.Status.value if status.Status is not None else StatusCodes.Good
        if code & 0x80000000:   # the subscription is gone on the server (BadTimeout, BadShutdown …)
            self.events.put_nowait(_Gone(f"subscription ended: {codec.status_name(code)}"))


@dataclass(frozen=True, slots=True)
class _Method:
    object_id: ua.NodeId
    method_id: ua.NodeId
    inputs: tuple[ua.VariantType | None, ...]


@dataclass(slots=True)
class _Session:
    client: Client
    namespace: int
    node_ids: dict[str, ua.NodeId]
    missing: dict[str, str]                       # key → status name of a node that did not resolve
    methods: dict[str, _Method] = field(default_factory=dict)


class OpcUaClient:
    """One endpoint, its node map and the session kept to it (see the module docstring)."""

    def __init__(self, endpoint: str, nodes: Sequence[NodeSpec], *, namespace_uri: str,
                 publishing_interval_ms: float = 500.0, timeout_s: float = 2.0) -> None:
        self.endpoint = endpoint
        self.namespace_uri = namespace_uri
        self.specs = {n.key: n for n in nodes}
        if len(self.specs) != len(nodes):
            raise ValueError("two nodes share a key")
        self.publishing_interval_ms = publishing_interval_ms
        self.timeout_s = timeout_s
        self._session: _Session | None = None
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def connected(self) -> bool:
        return self._session is not None

    # --- the session loop ------------------------------------------------------------------

    async def run(self, on_change: Changes, on_lost: Lost, retry_delay: RetryDelay) -> None:
        """Keep a session until cancelled: changes go to ``on_change``, each loss or failed attempt to ``on_lost``."""
        failures = 0
        while True:
            was_up, error = await self._session_until_lost(on_change)
            failures = 1 if was_up else failures + 1
            if failures == 1:
                log.warning("OPC UA %s unavailable (%s): %s", self.endpoint, error.reason, error)
            await on_lost(error)
            await asyncio.sleep(retry_delay(failures))

    async def _session_until_lost(self, on_change: Changes) -> tuple[bool, AdapterError]:
        events: asyncio.Queue[_Change | _Gone] = asyncio.Queue()
        client = Client(self.endpoint, timeout=self.timeout_s, watchdog_intervall=self.timeout_s)
        client.session_timeout = SESSION_TIMEOUT_MS

        async def lost(exc: Exception) -> None:
            events.put_nowait(_Gone(f"connection lost: {exc}"))

        client.connection_lost_callback = lost
        try:
            try:
                async with asyncio.timeout(self.timeout_s * 5):
                    session, handles = await self._open(client, events)
            except Exception as exc:  # whatever the library raises, the device is unavailable
                return False, self._error(exc, "connect")
            self._session = session
            log.info("OPC UA %s connected: %d nodes subscribed, namespace %s = ns %d", self.endpoint,
                     len(handles), self.namespace_uri, session.namespace)
            subscribed = set(handles.values())
            missing = [Reading(k, None, datetime.now(UTC), Quality.BAD, BadReason.DEVICE_ERROR.value)
                       for k in self.specs if k not in subscribed]
            if missing:
                await on_change(missing)
            return True, await self._pump(events, handles, on_change)
        finally:
            self._session = None
            await self._disconnect(client)

    async def _open(self, client: Client, events: asyncio.Queue[_Change | _Gone]
                    ) -> tuple[_Session, dict[int, str]]:
        await client.connect()
        namespaces = await client.get_namespace_array()
        if self.namespace_uri not in namespaces:
            raise Refused("BadNoMatch", f"namespace {self.namespace_uri} is not on the server")
        ns = namespaces.index(self.namespace_uri)
        keys = list(self.specs)
        results = await client.translate_browsepaths(
            client.nodes.objects.nodeid, [codec.relative_path(ns, self.specs[k].elements) for k in keys])
        node_ids: dict[str, ua.NodeId] = {}
        missing: dict[str, str] = {}
        for key, result in zip(keys, results, strict=True):
            target = codec.browse_target(result)
            if target is not None:
                node_ids[key] = target
            else:
                missing[key] = codec.status_name(result.StatusCode.value)
                log.warning("OPC UA %s: %s (%s) not found: %s", self.endpoint, key, self.specs[key].browse_path,
                            missing[key])
        parameters = codec.subscription_parameters(self.publishing_interval_ms, KEEP_ALIVE_S)
        subscription = await client.create_subscription(parameters, _Handler(events))
        handles = await self._monitor(subscription, node_ids)
        return _Session(client, ns, node_ids, missing), handles

    async def _monitor(self, subscription: Subscription, node_ids: dict[str, ua.NodeId]) -> dict[int, str]:
        """One monitored item per node, client handle = position; returns handle → key of those accepted."""
        requests = [codec.monitored_item(handle, node_id, self.specs[key].deadband, self.publishing_interval_ms)
                    for handle, (key, node_id) in enumerate(node_ids.items(), start=1)]
        results = await subscription.create_monitored_items(requests) if requests else []
        handles: dict[int, str] = {}
        for handle, (key, result) in enumerate(zip(node_ids, results, strict=True), start=1):
            if isinstance(result, ua.StatusCode):
                log.warning("OPC UA %s: cannot subscribe to %s: %s", self.endpoint, key, result.name)
            else:
                handles[handle] = key
        return handles

    async def _pump(self, events: asyncio.Queue[_Change | _Gone], handles: dict[int, str],
                    on_change: Changes) -> AdapterError:
        """Hand changes on, a batch at a time, until the session is gone."""
        while True:
            batch = [await events.get()]
            while not events.empty():
                batch.append(events.get_nowait())
            received = datetime.now(UTC)
            readings = [codec.from_datavalue(self.specs[handles[e.handle]], e.value, received)
                        for e in batch if isinstance(e, _Change) and e.handle in handles]
            if readings:
                await on_change(readings)
            gone = next((e for e in batch if isinstance(e, _Gone)), None)
            if gone is not None:
                return DeviceUnavailable(f"{self.endpoint}: {gone.why}")

    async def _disconnect(self, client: Client) -> None:
        """Close the session in a task of its own: asyncua's ``disconnect`` swallows a cancellation of the task
        that runs it, and a source being stopped must stop."""
        closing = asyncio.create_task(_close(client, self.timeout_s))
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)
        await asyncio.shield(closing)

    # --- reads, writes and calls on the present session -------------------------------------

    async def read(self, key: str) -> Reading:
        spec, session = self._spec(key), self._require()
        node = session.client.get_node(self._node_id(session, key))
        data = await self._guard(f"read {key}", node.read_data_value(raise_on_bad_status=False))
        return codec.from_datavalue(spec, data, datetime.now(UTC))

    async def write(self, key: str, value: Value) -> None:
        """Write one node's value; raises ``Refused`` with the server's status when it says no."""
        variant = codec.encode(self._spec(key).datatype, value)
        session = self._require()
        node = session.client.get_node(self._node_id(session, key))
        await self._guard(f"write {key}", node.write_value(variant))

    async def call(self, method_path: str, *args: Value) -> list[Value]:
        """Call the method at ``method_path`` (``GasSkid/CngDispenser1/StartFill``); returns its outputs."""
        elements = split_path(method_path)
        session = self._require()
        method = session.methods.get(method_path)
        if method is None:
            method = await self._guard(f"find {method_path}", self._find_method(session, elements))
            session.methods[method_path] = method
        inputs = [codec.argument(a, method.inputs[i] if i < len(method.inputs) else None) for i, a in enumerate(args)]
        request = ua.CallMethodRequest(ObjectId=method.object_id, MethodId=method.method_id, InputArguments=inputs)
        results = await self._guard(f"call {method_path}", session.client.uaclient.call([request]))
        status = results[0].StatusCode
        if not status.is_good():
            raise self._status_error(status.value, f"call {method_path}")
        return [codec.plain(v.Value) for v in results[0].OutputArguments or []]

    async def _find_method(self, session: _Session, elements: tuple[str, ...]) -> _Method:
        ns = session.namespace
        paths = [codec.relative_path(ns, elements[:-1]), codec.relative_path(ns, elements),
                 codec.relative_path(ns, elements, standard=("InputArguments",))]
        objects = session.client.nodes.objects.nodeid
        parent, method, arguments = map(codec.browse_target, await session.client.translate_browsepaths(objects, paths))
        if method is None:
            raise Refused("BadNoMatch", f"no method {'/'.join(elements)} on {self.endpoint}")
        inputs: tuple[ua.VariantType | None, ...] = ()
        if arguments is not None:
            declared = await session.client.get_node(arguments).read_value()
            inputs = tuple(codec.variant_type(a.DataType) for a in declared or [])
        return _Method(parent if parent is not None and len(elements) > 1 else objects, method, inputs)

    def _spec(self, key: str) -> NodeSpec:
        spec = self.specs.get(key)
        if spec is None:
            raise ValueError(f"{self.endpoint}: no node {key!r} in the node map")
        return spec

    def _require(self) -> _Session:
        if self._session is None:
            raise DeviceUnavailable(f"{self.endpoint}: not connected")
        return self._session

    def _node_id(self, session: _Session, key: str) -> ua.NodeId:
        node_id = session.node_ids.get(key)
        if node_id is None:
            raise Refused(session.missing.get(key, "BadNodeIdUnknown"), f"{key} ({self.specs[key].browse_path})")
        return node_id

    async def _guard(self, doing: str, request: Awaitable[T]) -> T:
        try:
            return await request
        except Exception as exc:  # every library error becomes one of ours
            raise self._error(exc, doing) from exc

    def _error(self, exc: BaseException, doing: str) -> AdapterError:
        if isinstance(exc, AdapterError):
            return exc
        if isinstance(exc, UaStatusCodeError):
            return self._status_error(int(exc.code), doing)
        if isinstance(exc, OSError | TimeoutError):
            return DeviceUnavailable(f"{self.endpoint}: {doing}: {exc or type(exc).__name__}")
        if isinstance(exc, UaError):
            return BadFrame(f"{self.endpoint}: {doing}: {exc}")
        log.warning("OPC UA %s: %s failed", self.endpoint, doing, exc_info=exc)
        return AdapterError(f"{self.endpoint}: {doing}: {type(exc).__name__}: {exc}")

    def _status_error(self, status: int, doing: str) -> AdapterError:
        name = codec.status_name(status)
        if codec.is_comm_loss(status):
            return DeviceUnavailable(f"{self.endpoint}: {doing}: {name}")
        return Refused(name, f"{self.endpoint}: {doing}")


async def _close(client: Client, timeout_s: float) -> None:
    with contextlib.suppress(Exception):
        async with asyncio.timeout(timeout_s):
            await client.disconnect()

