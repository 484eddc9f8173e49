"""Which events one of N business consumer processes handles (pure rules, no I/O).

Each process has its own persistent MQTT session and receives every event; it handles those of the
stations that hash to it (CRC-32 of ``group/station``, stable across processes, versions and restarts) and
acknowledges the rest at once. So every event of a station, and so of each of its fuelling points, is
handled by one process, in the order the broker delivers it; and no event is handled by two.
(MQTT v5 shared subscriptions spread messages round-robin over a group's members and would break that
order; see docs/how-to/add-a-business-domain.md.) An event whose topic names no station is handled by
partition 1, which dead-letters it.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

from telemetry.contracts.topics import TopicError, parse_event_topic

_SPELLING = re.compile(r"^([1-9][0-9]{0,2})/([1-9][0-9]{0,2})$")


@dataclass(frozen=True, slots=True)
class Partition:
    index: int = 1      # 1 … count
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Partition:
        """``"i/N"`` (e.g. ``2/3``: the second of three processes)."""
        match = _SPELLING.match(text.strip())
        if match is None or not 1 <= int(match[1]) <= int(match[2]):
            raise ValueError(f"分区应写作 i/N，1 ≤ i ≤ N，例如 1/2 (a partition is i/N with 1 ≤ i ≤ N, e.g. 1/2): "
                             f"{text[:20]!r}")
        return cls(int(match[1]), int(match[2]))

    def owns(self, topic: str) -> bool:
        if self.count == 1:
            return True
        try:
            origin = parse_event_topic(topic)
        except TopicError:
            return self.index == 1
        return zlib.crc32(f"{origin.group}/{origin.station}".encode()) % self.count == self.index - 1

    def client_id(self, base: str) -> str:
        """The MQTT client id of this partition's persistent session (a single process keeps ``base``)."""
        return base if self.count == 1 else f"{base}-{self.index}-of-{self.count}"

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"
