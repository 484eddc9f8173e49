"""The station's master-data list as the edge keeps it: newest version wins, kept on disk for offline use.

Head office publishes the whole list as ``command.replace_master_data`` (``telemetry/contracts/master_data.py``).
``MasterDataStore.offer`` keeps a list only when its version is newer than the one held, writing it to its
file atomically (a temporary file, fsync, rename), so a crash leaves either the old list or the new one, and
a restarted edge node starts with what it had. The command handler answers every list with
``station.master_data_applied`` naming the version held, which head office records. The station server reads
the same file (``business_services/stations/copy.py``), so the station keeps working while head office is away.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from pydantic import ValidationError

from edge_nodes.commands import DeviceCommand
from telemetry.contracts.commands import Result
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.master_data import REPLACE_MASTER_DATA, MasterData, MasterDataApplied, newer

log = logging.getLogger(__name__)


class MasterDataStore:
    """The newest master-data list seen, in memory and (when ``path`` is given) on disk."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.current: MasterData | None = None
        if path is not None and path.exists():
            try:
                self.current = MasterData.model_validate_json(path.read_bytes())
            except (ValidationError, ValueError) as exc:
                # never start without saying so; the next list from head office replaces it
                log.error("master-data file %s is unreadable, starting without a list: %s", path, str(exc)[:300])

    @property
    def version(self) -> int | None:
        return None if self.current is None else self.current.version

    def offer(self, data: MasterData) -> MasterDataApplied:
        """Keep ``data`` if it is newer than the list held; say which version is held afterwards."""
        held = self.version
        if held is not None and not newer(data.version, held):
            return MasterDataApplied(station=data.station_code, version=held, offered=data.version,
                                     outcome="already-held" if data.version == held else "older-ignored")
        if self.path is not None:
            write_atomically(self.path, data.model_dump_json().encode())
        self.current = data
        return MasterDataApplied(station=data.station_code, version=data.version, offered=data.version,
                                 outcome="applied")


def write_atomically(path: Path, body: bytes) -> None:
    """Replace ``path`` with ``body`` so that a crash leaves the old content or the new, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + ".tmp")
    with temp.open("wb") as f:
        f.write(body)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temp, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)          # the rename itself survives a power cut
    finally:
        os.close(folder)


def master_data_commands(station: str, store: MasterDataStore,
                         emit_event: Callable[[CloudEvent], Awaitable[None]]) -> dict[tuple[str, str], DeviceCommand]:
    """The station-level command (no ``device``): keep the list if newer, report the version held."""
    async def replace(command: MasterData) -> tuple[Result, str]:
        if command.station_code != station:
            return "bad-argument", f"a list for station {command.station_code}, this is {station}"
        applied = store.offer(command)
        await emit_event(applied.envelope(source=f"forecourt/{station}/edge", subject=station))
        log.info("master data version %d offered: %s, holding %d", applied.offered, applied.outcome, applied.version)
        return "accepted", f"{applied.outcome}: version {applied.version} held"
    return {("", REPLACE_MASTER_DATA): DeviceCommand(MasterData, replace)}
