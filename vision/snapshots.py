"""The snapshot store: the JPEG a plate was read from, a file under the data dir, kept for a number of days.

A key is ``{station}/{camera}/{YYYY}/{MM}/{DD}/{HHMMSS.ffffff}.jpg`` (UTC), so it names where and when the frame was
taken and fits the ``snapshot`` field of ``vehicle.recognized``; ``sweep`` removes the days older than the retention.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

_PART = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class SnapshotStore:
    def __init__(self, root: Path, retention_days: int = 30) -> None:
        if retention_days < 1:
            raise ValueError("snapshot retention must be at least one day")
        self.root = root
        self.retention_days = retention_days

    def key(self, station: str, camera: str, at: datetime) -> str:
        if not (_PART.match(station) and _PART.match(camera)):
            raise ValueError(f"bad station or camera code for a snapshot key: {station!r}/{camera!r}")
        utc = at.astimezone(UTC)
        return f"{station}/{camera}/{utc:%Y/%m/%d}/{utc:%H%M%S.%f}.jpg"

    def save(self, station: str, camera: str, at: datetime, jpeg: bytes) -> str:
        """Write the frame (atomically: a reader never sees half a file) and answer its key."""
        key = self.key(station, camera, at)
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        partial.write_bytes(jpeg)
        partial.replace(path)
        return key

    def path(self, key: str) -> Path:
        if ".." in key.split("/") or key.startswith("/"):
            raise ValueError(f"not a snapshot key: {key!r}")
        return self.root / key

    def sweep(self, now: datetime) -> int:
        """Remove every day folder older than the retention; answer how many files went."""
        oldest = now.astimezone(UTC).date() - timedelta(days=self.retention_days)
        removed = 0
        for day in self.root.glob("*/*/[0-9][0-9][0-9][0-9]/[0-9][0-9]/[0-9][0-9]"):
            try:
                taken = date(int(day.parent.parent.name), int(day.parent.name), int(day.name))
            except ValueError:
                continue
            if taken < oldest:
                for file in day.iterdir():
                    file.unlink()
                    removed += 1
                day.rmdir()
        return removed
