"""Commands on station master data, one handler each, run in a unit of work.

Every handler locks the station's row, checks the change against the rules (``model.py``), writes it, and
then ``_changed`` does what every change does: an audit record with before and after, the list's version
one up, and the new list emitted as ``command.replace_master_data`` on the station's command topic (written
to ``business.outbox`` in the same transaction and published after the commit). A command that changes
nothing (a retried request) writes nothing, records nothing and sends nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from business_services.access.model import STATION_USERS_CHANGED
from business_services.audit.model import AuditEntry
from business_services.messagebus import Handler
from business_services.stations import repository, views
from business_services.stations.model import (
    Conflict,
    Device,
    MasterDataError,
    NotFound,
    Nozzle,
    ScheduleDay,
    ShiftDefinition,
    StationRecord,
    Tank,
    check_code,
    check_nozzle,
    check_schedule,
    check_shift,
    check_station,
    check_tank,
    check_tank_removal,
    next_version,
)
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.commands import command_topic
from telemetry.contracts.events import MAX_EVENT_BYTES, CloudEvent
from telemetry.contracts.master_data import REPLACE_MASTER_DATA, MasterDataApplied

SOURCE = "forecourt/head-office/stations"


@dataclass(frozen=True, slots=True)
class CreateStation:
    station: StationRecord


@dataclass(frozen=True, slots=True)
class EditStation:
    station: StationRecord


@dataclass(frozen=True, slots=True)
class PutDevice:
    station: str
    device: Device


@dataclass(frozen=True, slots=True)
class PutTank:
    station: str
    tank: Tank


@dataclass(frozen=True, slots=True)
class RemoveTank:
    station: str
    number: int


@dataclass(frozen=True, slots=True)
class PutNozzle:
    """Add a nozzle or change its grade."""

    station: str
    nozzle: Nozzle


@dataclass(frozen=True, slots=True)
class PutShift:
    station: str
    shift: ShiftDefinition


@dataclass(frozen=True, slots=True)
class PutScheduleDay:
    station: str
    day: ScheduleDay


@dataclass(frozen=True, slots=True)
class ImportStation:
    """Seed a station with its parts from today's station file (``station_file.records_from_file``)."""

    station: StationRecord
    devices: list[Device]
    tanks: list[Tank]
    nozzles: list[Nozzle]


def _json(value: Any) -> Any:
    return None if value is None else asdict(value)


async def _locked(uow: UnitOfWork, code: str) -> tuple[StationRecord, int]:
    found = await repository.station(uow.conn, code, lock=True)
    if found is None:
        raise NotFound(f"没有站点 {code} (no station {code})")
    return found


async def _changed(uow: UnitOfWork, station: str, version: int, action: str, target: str, before: Any,
                   after: Any) -> int:
    """Audit the change, bump the list's version and emit the new list; nothing when nothing changed."""
    if next_version(version, before, after) == version:
        return version
    await uow.audit(AuditEntry(action, target, station, before, after))
    version = await repository.bump_version(uow.conn, station)
    await emit_list(uow, station)
    return version


async def emit_list(uow: UnitOfWork, station: str) -> None:
    """Emit the station's list at its current version (the event id names the version: a repeat is one message)."""
    data = await views.master_data(uow.conn, station)
    event = data.envelope(source=SOURCE, subject=station, event_id=f"master-data/{station}/{data.version}")
    if len(event.to_bytes()) > MAX_EVENT_BYTES:     # the edge would refuse it: refuse the change instead
        limit = MAX_EVENT_BYTES // 1024
        raise MasterDataError("station", f"站点主数据超过 {limit} KiB，无法下发到站 "
                                         f"(the station's list is over {limit} KiB and cannot be sent)")
    uow.emit(command_topic(data.station["company_group"], station, REPLACE_MASTER_DATA), event)


async def create_station(cmd: CreateStation, uow: UnitOfWork) -> int:
    s = check_station(cmd.station)
    if not await repository.insert_station(uow.conn, s):
        existing = await repository.station(uow.conn, s.code)
        if existing is not None and existing[0] == s:
            return existing[1]          # the same create again: nothing to do
        raise Conflict(f"站点编码 {s.code} 已存在 (station {s.code} exists already; edit it instead)")
    await uow.audit(AuditEntry("stations.station.create", f"station:{s.code}", s.code, None, _json(s)))
    await emit_list(uow, s.code)
    return 1


async def import_station(cmd: ImportStation, uow: UnitOfWork) -> int:
    """Create the station with every part at version 1; importing the same file again changes nothing."""
    s = check_station(cmd.station)
    if not await repository.insert_station(uow.conn, s):
        found = await _locked(uow, s.code)
        same = (found[0] == s and await repository.devices(uow.conn, s.code) == cmd.devices
                and await repository.tanks(uow.conn, s.code) == [check_tank(t) for t in cmd.tanks]
                and await repository.nozzles(uow.conn, s.code) == cmd.nozzles)
        if not same:
            raise Conflict(f"站点 {s.code} 已存在且与文件不同，请在后台修改 "
                           f"(station {s.code} exists and differs from the file; edit it instead)")
        return found[1]
    for d in cmd.devices:
        check_code(d.code, "devices.code")
        await repository.put_device(uow.conn, s.code, d)
    for t in cmd.tanks:
        await repository.put_tank(uow.conn, s.code, check_tank(t))
    tanks = await repository.tanks(uow.conn, s.code)
    for n in cmd.nozzles:
        await repository.put_nozzle(uow.conn, s.code, check_nozzle(n, tanks, cmd.devices))
    await uow.audit(AuditEntry("stations.station.import", f"station:{s.code}", s.code, None,
                               {"station": _json(s), "devices": [d.code for d in cmd.devices],
                                "tanks": [_json(t) for t in cmd.tanks], "nozzles": [_json(n) for n in cmd.nozzles]}))
    await emit_list(uow, s.code)
    return 1


async def edit_station(cmd: EditStation, uow: UnitOfWork) -> int:
    before, version = await _locked(uow, cmd.station.code)
    after = check_station(cmd.station)
    await repository.update_station(uow.conn, after)
    views.forget_groups(after.code)                      # its company (the events' topic) may have changed
    return await _changed(uow, after.code, version, "stations.station.edit", f"station:{after.code}",
                          _json(before), _json(after))


async def put_device(cmd: PutDevice, uow: UnitOfWork) -> int:
    _, version = await _locked(uow, cmd.station)
    check_code(cmd.device.code, "code")
    if "code" in cmd.device.settings:
        raise MasterDataError("settings", "设备参数中不应再写 code (settings carry no code; it is the device's own)")
    before = next((d for d in await repository.devices(uow.conn, cmd.station) if d.code == cmd.device.code), None)
    await repository.put_device(uow.conn, cmd.station, cmd.device)
    return await _changed(uow, cmd.station, version, "stations.device.put", f"{cmd.station}/{cmd.device.code}",
                          _json(before), _json(cmd.device))


async def put_tank(cmd: PutTank, uow: UnitOfWork) -> int:
    _, version = await _locked(uow, cmd.station)
    tank = check_tank(cmd.tank)
    tanks = await repository.tanks(uow.conn, cmd.station)
    before = next((t for t in tanks if t.number == tank.number), None)
    if before is not None and before.grade != tank.grade:   # changing a tank's grade is removing the old one
        check_tank_removal(tank.number, tanks, await repository.nozzles(uow.conn, cmd.station))
    await repository.put_tank(uow.conn, cmd.station, tank)
    return await _changed(uow, cmd.station, version, "stations.tank.put", f"{cmd.station}/tank-{tank.number}",
                          _json(before), _json(tank))


async def remove_tank(cmd: RemoveTank, uow: UnitOfWork) -> int:
    _, version = await _locked(uow, cmd.station)
    tanks = await repository.tanks(uow.conn, cmd.station)
    before = next((t for t in tanks if t.number == cmd.number), None)
    check_tank_removal(cmd.number, tanks, await repository.nozzles(uow.conn, cmd.station))
    await repository.delete_tank(uow.conn, cmd.station, cmd.number)
    return await _changed(uow, cmd.station, version, "stations.tank.remove", f"{cmd.station}/tank-{cmd.number}",
                          _json(before), None)


async def put_nozzle(cmd: PutNozzle, uow: UnitOfWork) -> int:
    """Add a nozzle or change its grade (the grade must be in a tank of the station)."""
    _, version = await _locked(uow, cmd.station)
    nozzle = check_nozzle(cmd.nozzle, await repository.tanks(uow.conn, cmd.station),
                          await repository.devices(uow.conn, cmd.station))
    before = next((n for n in await repository.nozzles(uow.conn, cmd.station)
                   if (n.device, n.fuelling_point, n.number) == (nozzle.device, nozzle.fuelling_point, nozzle.number)),
                  None)
    await repository.put_nozzle(uow.conn, cmd.station, nozzle)
    target = f"{cmd.station}/{nozzle.device}/fp{nozzle.fuelling_point}/n{nozzle.number}"
    return await _changed(uow, cmd.station, version, "stations.nozzle.put", target, _json(before), _json(nozzle))


async def put_shift(cmd: PutShift, uow: UnitOfWork) -> int:
    _, version = await _locked(uow, cmd.station)
    shift = check_shift(cmd.shift)
    before = next((s for s in await repository.shifts(uow.conn, cmd.station) if s.code == shift.code), None)
    await repository.put_shift(uow.conn, cmd.station, shift)
    return await _changed(uow, cmd.station, version, "stations.shift.put", f"{cmd.station}/shift-{shift.code}",
                          _json(before), _json(shift))


async def put_schedule_day(cmd: PutScheduleDay, uow: UnitOfWork) -> int:
    """The staff of one shift on one day (排班). Audited; the list carries shift definitions, not the rota."""
    _, version = await _locked(uow, cmd.station)
    day = check_schedule(cmd.day, await repository.shifts(uow.conn, cmd.station))
    before = await repository.schedule_day(uow.conn, cmd.station, day)
    if before == day:
        return version
    await repository.put_schedule_day(uow.conn, cmd.station, day)
    await uow.audit(AuditEntry("stations.schedule.put", f"{cmd.station}/{day.day}/{day.shift}", cmd.station,
                               _json(before), _json(day)))
    return version


async def record_master_data_applied(event: CloudEvent, uow: UnitOfWork) -> bool:
    """The station reports the list version it holds (its station is the topic's: the intake checked it)."""
    applied = MasterDataApplied.from_event(event)
    return await repository.record_edge_version(uow.conn, applied.station, applied.version, event.time)


async def station_users_changed(event: CloudEvent, uow: UnitOfWork) -> None:
    """Users of these stations' lists changed at head office (access): raise each list's version and send it,
    in the same unit of work as the change. A station this server does not hold as master data is skipped."""
    for code in event.data["stations"]:
        if await repository.station(uow.conn, code, lock=True) is not None:
            await repository.bump_version(uow.conn, code)
            await emit_list(uow, code)


EVENT_HANDLERS: dict[str, list[Handler]] = {MasterDataApplied.TYPE: [record_master_data_applied],
                                            STATION_USERS_CHANGED: [station_users_changed]}
COMMAND_HANDLERS: dict[type, Handler] = {
    CreateStation: create_station, ImportStation: import_station, EditStation: edit_station, PutDevice: put_device,
    PutTank: put_tank, RemoveTank: remove_tank, PutNozzle: put_nozzle, PutShift: put_shift,
    PutScheduleDay: put_schedule_day,
}
