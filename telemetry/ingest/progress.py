"""Is the ingest worker making progress? Pure bookkeeping for ``/healthz`` and the stall metric.

A worker that answers but commits nothing while messages wait is not healthy: the database may be away,
or a message may be stuck. ``Progress`` counts messages received and not yet committed, and says the
worker is stalled when some have waited longer than ``stall_after_s`` without any commit meanwhile.
Times are ``time.monotonic()`` values passed in by the caller.
"""

from __future__ import annotations


class Progress:
    def __init__(self, stall_after_s: float = 30.0) -> None:
        self.stall_after_s = stall_after_s
        self.waiting = 0               # received, not yet committed
        self._since: float | None = None   # the last commit, or when messages started waiting

    def received(self, now: float) -> None:
        if self.waiting == 0:
            self._since = now
        self.waiting += 1

    def committed(self, count: int, now: float) -> None:
        self.waiting = max(0, self.waiting - count)
        self._since = now if self.waiting else None

    def reset(self) -> None:
        """A new MQTT session: what was waiting will be delivered again."""
        self.waiting, self._since = 0, None

    def stalled_for(self, now: float) -> float:
        """Seconds that messages have waited without a commit (0 when nothing waits)."""
        return 0.0 if self._since is None or not self.waiting else now - self._since

    def stalled(self, now: float) -> bool:
        return self.stalled_for(now) > self.stall_after_s
