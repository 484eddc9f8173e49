"""Communication faults: offline, slow answers, bad checksums, garbage frames, Modbus exception codes.

Each takes the ``Target`` it hits and the fault's arguments and returns how to undo it (None when
it undoes itself: a counted burst of bad tank-gauge answers, one garbage frame to a CSMS). Delays
are real milliseconds, as a protocol client's timeout is; a charger takes its delay in simulated
seconds, so it is scaled by the speed. A dispenser's read-exception and garbage faults are one
switch in its simulator: ending one ends the other (staying mute or slow is kept).
"""

from __future__ import annotations

from simulators.dispenser.faults import DispenserFaults, GarbageKind, OfflineMode
from simulators.scenario.fault_target import (
    Args,
    Target,
    Undo,
    arg_float,
    arg_int,
    arg_text,
    undo_by,
    undo_units,
)

DEFAULT_COUNT = 10  # answers spoiled by a counted fault of the tank gauge


def keep_other_link_faults(faults: DispenserFaults) -> None:
    """Clear a dispenser's read-exception and garbage faults, keeping it mute or slow if it was."""
    silent, delay = faults.silent, faults.delay_ms
    faults.clear()
    faults.mute(silent)
    faults.slow_answers(delay)


async def offline(t: Target, args: Args) -> Undo | None:
    if t.kind == "dispenser":
        server, mode = t.dispenser(), OfflineMode(arg_text(args, "mode", "refuse"))
        t.fired_s = t.ctx.clock.elapsed()  # closing the listener takes real time
        await server.go_offline(mode)
        return server.go_online
    if t.kind == "tank_gauge":
        gauge = t.gauge()
        gauge.faults.offline(True)
        return undo_by(lambda: gauge.faults.offline(False))
    if t.kind == "gas_skid":
        skid = t.skid()
        t.fired_s = t.ctx.clock.elapsed()
        await skid.faults.offline()
        return skid.faults.online
    if t.kind == "camera":
        cameras = t.cameras()
        cameras.faults.offline(t.code, arg_text(args, "mode", "drop"))
        return undo_by(lambda: cameras.faults.online(t.code))
    if t.kind == "charger":
        if not t.ctx.station.networked[t.code]:
            return undo_by(lambda: None)  # no CSMS: the charger is off the network anyway
        t.charger().faults.go_offline()
        return undo_by(t.charger().faults.go_online)
    line, units = t.detectors()
    for unit in units:
        line.faults.offline(unit, True)
    return undo_units(units, lambda unit: line.faults.offline(unit, False))


async def slow(t: Target, args: Args) -> Undo | None:
    delay_ms = arg_float(args, "delay_ms", 500.0)
    if delay_ms < 0:
        raise ValueError("delay_ms: expected ≥ 0")
    if t.kind == "dispenser":
        faults = t.dispenser().faults
        faults.slow_answers(round(delay_ms))
        return undo_by(lambda: faults.slow_answers(0))
    if t.kind == "tank_gauge":
        gauge = t.gauge()
        gauge.faults.slow(delay_ms / 1000)
        return undo_by(lambda: gauge.faults.slow(0.0))
    if t.kind == "gas_skid":
        skid = t.skid()
        skid.faults.slow_responses(delay_ms / 1000)
        return undo_by(lambda: skid.faults.slow_responses(0.0))
    if t.kind == "charger":
        charger = t.charger()
        charger.faults.slow_answers(delay_ms / 1000 * t.ctx.clock.speed)
        return undo_by(lambda: charger.faults.slow_answers(0.0))
    line, units = t.detectors()
    for unit in units:
        line.faults.slow(unit, delay_ms / 1000)
    return undo_units(units, lambda unit: line.faults.slow(unit, 0.0))


async def bad_checksum(t: Target, args: Args) -> Undo | None:
    if t.kind == "tank_gauge":
        t.gauge().faults.corrupt_checksum(arg_int(args, "count", DEFAULT_COUNT))
        return None
    line, units = t.detectors()
    for unit in units:
        line.faults.corrupt_crc(unit, True)
    return undo_units(units, lambda unit: line.faults.corrupt_crc(unit, False))


async def garbage(t: Target, args: Args) -> Undo | None:
    if t.kind == "dispenser":
        faults = t.dispenser().faults
        count = arg_int(args, "count", 0) or None
        faults.garbage_replies(GarbageKind(arg_text(args, "kind", "random_bytes")), count)
        return undo_by(lambda: keep_other_link_faults(faults))
    if t.kind == "tank_gauge":
        t.gauge().faults.garbage(arg_int(args, "count", DEFAULT_COUNT))
        return None
    if t.kind == "charger":
        await t.charger().faults.send_garbage()
        return None
    line, units = t.detectors()
    for unit in units:
        line.faults.garbage(unit, True)
    return undo_units(units, lambda unit: line.faults.garbage(unit, False))


async def exception(t: Target, args: Args) -> Undo | None:
    code = arg_int(args, "code", 4)
    if t.kind == "dispenser":
        faults = t.dispenser().faults
        faults.fail_reads(code, arg_int(args, "count", 0) or None)
        return undo_by(lambda: keep_other_link_faults(faults))
    line, units = t.detectors()
    for unit in units:
        line.faults.exception(unit, code)
    return undo_units(units, lambda unit: line.faults.exception(unit, None))
