"""The vision service at a station: lane cameras in, ``vehicle.recognized`` out (docs/vision.md, "The vision service").

One task per camera reads frames (``vision/cameras.py``) in a small thread pool (inference and decoding never run
on the event loop), gives each usable frame to the plate reader (``read(image) -> list[PlateReading]``), and a
``LaneTracker`` per camera decides, from the readings of consecutive frames, when a *new car* has been read: the
voted reading changed, or the lane was empty for ``empty_frames`` frames before. Only then is the frame saved in
the snapshot store and one ``vehicle.recognized`` published for the camera's fuelling position (or entry/exit).

Nothing here crashes the service: a camera that disappears is reconnected with back-off (counted, logged), an
empty, corrupt or frozen frame is a counted skip, a reader that raises is a counted skip, and a model set that
does not load (a wrong hash) leaves the service up, unhealthy, with the reason in ``/healthz``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast, get_args

from pydantic import ValidationError

from edge_nodes.devices.camera import CameraEntry
from edge_nodes.station import Station, StationConfigError, load_station
from protocol_adapters.mqtt.outbox import MqttSink
from telemetry.contracts.broker import BrokerAddress
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.vision import PlateColour, VehicleRecognized
from telemetry.contracts.health import Health, check, health
from vision import plates
from vision.cameras import CameraBinding, CameraUnavailable, Frame, FrameSource, Image, open_source
from vision.events import EventQueue, queue_file
from vision.metrics import FRAMES, RECOGNITIONS, RECONNECTS, SKIPPED
from vision.models import ModelStore, store_from_settings
from vision.plates import Vote, vote
from vision.readings import PlateReading
from vision.snapshots import SnapshotStore

if TYPE_CHECKING:
    from forecourt.settings import Settings

log = logging.getLogger(__name__)
__all__ = ["FRAMES", "RECOGNITIONS", "RECONNECTS", "SKIPPED", "EventQueue", "LaneTracker", "PlateReader",
           "VisionService", "bindings_of", "plate_reader", "sweep_daily", "vision_for", "vision_for_station",
           "vision_health"]    # the counters and the queue live in vision/metrics.py and vision/events.py

T = TypeVar("T")
INFERENCE_THREADS = 2      # the station server's CPU: 2 cores


class PlateReader(Protocol):
    def read(self, image: Image) -> list[PlateReading]: ...


Publish = Callable[[CloudEvent], Awaitable[None]]


@dataclass
class LaneTracker:
    """Pure rule: the readings of one camera frame by frame → a ``Vote`` (vision/plates/voting.py) once per car."""

    min_frames: int = 2            # frames that must agree before a car is announced
    window: int = 5                # the last frames voted over
    empty_frames: int = 3          # frames without a plate after which the lane counts as empty
    _recent: list[PlateReading] = field(default_factory=list)
    _empty: int = 0
    _announced: str | None = None

    def observe(self, readings: Sequence[PlateReading]) -> Vote | None:
        confident = [r for r in readings if r.text and not r.uncertain]    # the reader's threshold decides
        if not readings:
            self._empty += 1
            if self._empty >= self.empty_frames:
                self._recent.clear()
                self._announced = None
            return None
        self._empty = 0
        if not confident:          # a plate is there but not read with confidence: reported, never guessed
            return None
        self._recent = [*self._recent, max(confident, key=lambda r: r.confidence)][-self.window:]
        voted = vote(self._recent, min_frames=self.min_frames)
        if voted is None or voted.reading.text == self._announced:
            return None
        self._announced = voted.reading.text
        return voted


@dataclass
class CameraState:
    binding: CameraBinding
    tracker: LaneTracker
    connected: bool = False
    last_error: str = ""
    last_jpeg: bytes = b""


class VisionService:
    """Reads the station's cameras and publishes what it recognises; ``run`` until cancelled."""

    def __init__(self, station: str, cameras: Sequence[CameraBinding], reader_factory: Callable[[], PlateReader],
                 publish: Publish, snapshots: SnapshotStore, *, now: Callable[[], datetime],
                 frame_interval_s: float = 0.2, backoff_s: tuple[float, float] = (0.5, 30.0)) -> None:
        if len({c.code for c in cameras}) != len(cameras):
            raise ValueError("two cameras with the same code")
        self.station = station
        self._reader_factory = reader_factory
        self._reader: PlateReader | None = None
        self.model_error = ""
        self._publish = publish
        self._snapshots = snapshots
        self._now = now
        self._interval = frame_interval_s
        self._backoff = backoff_s
        self.cameras = {c.code: CameraState(c, LaneTracker()) for c in cameras}
        self._pool = ThreadPoolExecutor(INFERENCE_THREADS, thread_name_prefix="vision")

    async def run(self) -> None:
        try:
            await self._load_models()
            async with asyncio.TaskGroup() as tasks:
                for state in self.cameras.values():
                    tasks.create_task(self._watch(state), name=f"camera {state.binding.code}")
        finally:
            self._pool.shutdown(wait=False, cancel_futures=True)

    async def _load_models(self) -> None:
        try:
            self._reader = await self._in_pool(self._reader_factory)
        except Exception as error:  # any load failure (wrong hash, missing file) is reported
            self.model_error = f"模型加载失败，请检查模型目录和 SHA256SUMS：{error}"
            log.error("vision: the plate models did not load, no plates are read: %s", error)

    async def _in_pool(self, call: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, call, *args)

    async def _watch(self, state: CameraState) -> None:
        code = state.binding.code
        delay = self._backoff[0]
        while True:
            source: FrameSource | None = None
            try:
                source = await self._in_pool(open_source, state.binding)
                if state.last_error:
                    RECONNECTS.labels(code).inc()
                    log.info("vision: camera %s is back", code)
                state.connected, state.last_error, delay = True, "", self._backoff[0]
                while True:
                    frame = await self._in_pool(source.read)
                    await self.handle(state, frame)
                    await asyncio.sleep(self._interval)
            except (CameraUnavailable, OSError) as error:
                state.connected = False
                if not state.last_error:
                    log.warning("vision: camera %s lost (%s), retrying with back-off", code, error)
                state.last_error = str(error) or type(error).__name__
            except Exception as error:  # anything else (an OpenCV error, a full disk): logged, the camera retried
                state.connected = False
                log.exception("vision: camera %s failed, retrying with back-off", code)
                state.last_error = f"{type(error).__name__}: {error}"
            finally:
                if source is not None:
                    await self._in_pool(source.close)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff[1])

    async def handle(self, state: CameraState, frame: Frame) -> VehicleRecognized | None:
        """One frame of one camera: counted, read, tracked; the event when it decides a new car."""
        code = state.binding.code
        FRAMES.labels(code).inc()
        if frame.image is None:
            self._skip(code, frame.skipped or "empty")
            return None
        if frame.as_sent and frame.jpeg and frame.jpeg == state.last_jpeg:
            self._skip(code, "frozen")
            return None          # the same bytes again: a frozen camera, nothing new seen
        state.last_jpeg = frame.jpeg
        if self._reader is None:
            self._skip(code, "no_model")
            return None
        try:
            readings = await self._in_pool(self._reader.read, frame.image)
        except Exception as error:  # a frame the reader chokes on is skipped, not fatal
            log.warning("vision: camera %s: the plate reader failed on a frame: %s", code, error)
            self._skip(code, "reader_error")
            return None
        voted = state.tracker.observe(readings)
        if voted is None:
            return None
        return await self._announce(state, voted, frame)

    def _skip(self, code: str, reason: str) -> None:
        SKIPPED.labels(code, reason).inc()

    async def _announce(self, state: CameraState, voted: Vote, frame: Frame) -> VehicleRecognized | None:
        binding, seen_at = state.binding, self._now()
        try:
            event = VehicleRecognized(station=self.station, camera=binding.code,
                                      fuelling_point=binding.fuelling_point, direction=binding.direction,
                                      plate=voted.reading.text, colour=_colour(voted.reading.colour),
                                      confidence=round(min(max(voted.confidence, 0.0), 1.0), 4),
                                      frames=voted.frames, seen_at=seen_at)
        except ValidationError:        # a text no plate format allows: reported as a skip, never published
            self._skip(binding.code, "not_a_plate")
            return None
        key = await self._in_pool(self._snapshots.save, self.station, binding.code, seen_at, frame.jpeg)
        event = event.model_copy(update={"snapshot": key})
        await self._publish(event.envelope(source=f"forecourt/vision/{self.station}", subject=binding.code,
                                           event_id=event.event_id(), time=seen_at))
        RECOGNITIONS.labels(binding.code).inc()
        log.info("vision: camera %s (fuelling point %s) recognised a vehicle in %d frames", binding.code,
                 binding.fuelling_point, voted.frames)        # the plate itself is PII: not at INFO
        return event

    def health(self) -> Health:
        checks = {"models": check(self._reader is not None, self.model_error or None)}
        for code, state in self.cameras.items():
            checks[f"camera {code}"] = check(state.connected, state.last_error or None)
        return health("vision", checks)


def vision_health(service: VisionService, queue: EventQueue) -> Health:
    """The service's ``/healthz``: models, each camera, and the events waiting for the broker."""
    return health("vision", {**service.health()["checks"], "events": queue.health()})


def _colour(name: str) -> PlateColour:
    return cast(PlateColour, name) if name in get_args(PlateColour) else "unknown"


def bindings_of(station: Station) -> list[CameraBinding]:
    """The cameras of a station file (its ``protocol: camera`` entries, edge_nodes/devices/camera.py)."""
    return [CameraBinding(d.code, d.url, d.fuelling_point, d.direction) for d in station.devices
            if isinstance(d, CameraEntry)]


PLATE_MODELS = ("plate_detect_320", "plate_text", "plate_colour")


def plate_reader(store: ModelStore) -> PlateReader:
    """The plate pipeline (vision/plates) on the checked models of ``store``."""
    for name in PLATE_MODELS:      # each file's SHA-256 checked first: a wrong one is named, never loaded
        store.path(name)
    return plates.PlateReader(store)


async def sweep_daily(snapshots: SnapshotStore, now: Callable[[], datetime], every_s: float = 86_400) -> None:
    while True:
        removed = await asyncio.to_thread(snapshots.sweep, now())
        if removed:
            log.info("vision: %d snapshots older than %d days removed", removed, snapshots.retention_days)
        await asyncio.sleep(every_s)


def vision_for_station(settings: Settings, station_file: Path, broker: BrokerAddress,
                       ) -> tuple[VisionService, EventQueue, Coroutine[Any, Any, None]]:
    """``forecourt vision serve``: the service on the cameras of a station file (``vision_for``)."""
    station = load_station(station_file)
    cameras = bindings_of(station)
    if not cameras:
        raise StationConfigError(f"{station_file}: no camera (protocol: camera) in devices; add one per lane")
    return vision_for(settings, station.station, cameras, broker)


def vision_for(settings: Settings, station: str, cameras: Sequence[CameraBinding], broker: BrokerAddress,
               ) -> tuple[VisionService, EventQueue, Coroutine[Any, Any, None]]:
    """The service, its event queue to the broker and the snapshot sweep (data_dir/vision/snapshots)."""
    queue = EventQueue(MqttSink(broker, f"forecourt-vision-{settings.group}-{station}"), settings.group, station,
                       path=queue_file(settings.data_dir))
    snapshots = SnapshotStore(Path(settings.data_dir) / "vision" / "snapshots", settings.vision_snapshot_days)
    store = store_from_settings(settings)
    service = VisionService(station, cameras, lambda: plate_reader(store), queue.put, snapshots,
                            now=lambda: datetime.now(UTC))
    return service, queue, sweep_daily(snapshots, lambda: datetime.now(UTC))
