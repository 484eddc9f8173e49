"""A poller stops when cancelled even if the Modbus library swallowed the cancellation mid-read.

On Python 3.11 ``asyncio.wait_for`` (which pymodbus uses for every request and connect) returns the
result when the answer and the cancellation arrive together (gh-86296): the task stays "cancelling"
but runs on. The poller must notice and stop instead of sleeping into its next poll.
"""

from __future__ import annotations

import asyncio
import contextlib

from edge_nodes.poller import ModbusPoller
from edge_nodes.source import Snapshot
from protocol_adapters.modbus.client import ModbusConnection
from protocol_adapters.modbus.codec import ReadBlock
from protocol_adapters.modbus.points import PointSpec


class SwallowingConnection(ModbusConnection):
    """Answers every read, and like 3.11's wait_for keeps the answer when cancelled during the read."""

    def __init__(self) -> None:
        super().__init__(host="127.0.0.1", port=1)
        self.reading = asyncio.Event()
        self.reads = 0

    async def read(self, block: ReadBlock, unit_id: int | None = None) -> dict[str, int | float | bool | None]:
        self.reads += 1
        self.reading.set()
        with contextlib.suppress(asyncio.CancelledError):   # the answer came with the cancellation: it wins
            await asyncio.sleep(0.05)
        return dict.fromkeys((p.key for p in block.points), 1)


async def test_a_cancellation_swallowed_inside_a_read_still_stops_the_poller() -> None:
    connection = SwallowingConnection()
    poller = ModbusPoller("disp-01", connection, [PointSpec("status", 2, integer=True)], interval_s=0.5)
    snapshots: list[Snapshot] = []

    async def emit(snapshot: Snapshot) -> None:
        snapshots.append(snapshot)

    task = asyncio.create_task(poller.run(emit))
    await connection.reading.wait()
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=3.0)   # several poll intervals: it would have polled again
    while not task.done():                              # (on failure) stop it for good before asserting
        task.cancel()
        await asyncio.wait([task], timeout=0.1)
    assert task in done and task.cancelled()
    assert connection.reads == 1
