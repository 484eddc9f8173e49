"""Communication faults of the dispenser's Modbus TCP link, injected by a test or a scenario.

``DispenserFaults`` holds what is currently injected; the server consults it on every request
and reply. ``corrupt_frame`` is the pure byte-level part (malformed MBAP replies). Going
offline by refusing connections needs the listener, so it is ``DispenserServer.go_offline``;
power loss is the model's (``power_off``/``power_on``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

#: Modbus exception codes a read may be answered with (1..4 and 5, 6, 8, 10, 11).
EXCEPTION_CODES = frozenset({1, 2, 3, 4, 5, 6, 8, 10, 11})
_MBAP_LEN = 7


class OfflineMode(StrEnum):
    SILENT = "silent"  # connections accepted, requests never answered (client times out)
    REFUSE = "refuse"  # listener closed, open connections dropped, new ones refused


class GarbageKind(StrEnum):
    RANDOM_BYTES = "random_bytes"  # as many random bytes as the real reply
    BAD_PROTOCOL_ID = "bad_protocol_id"  # MBAP protocol id 0xDEAD instead of 0
    BAD_LENGTH = "bad_length"  # MBAP length 3 more than the bytes that follow
    TRUNCATED = "truncated"  # only the first half of the reply
    WRONG_TRANSACTION_ID = "wrong_transaction_id"  # a well-formed reply to another request


def corrupt_frame(frame: bytes, kind: GarbageKind, rng: random.Random) -> bytes:
    """A malformed version of a Modbus TCP reply ``frame`` (MBAP header + PDU)."""
    if kind is GarbageKind.RANDOM_BYTES or len(frame) < _MBAP_LEN:
        return rng.randbytes(max(len(frame), 1))
    if kind is GarbageKind.BAD_PROTOCOL_ID:
        return frame[:2] + b"\xde\xad" + frame[4:]
    if kind is GarbageKind.BAD_LENGTH:
        length = int.from_bytes(frame[4:6], "big") + 3
        return frame[:4] + (length & 0xFFFF).to_bytes(2, "big") + frame[6:]
    if kind is GarbageKind.TRUNCATED:
        return frame[: len(frame) // 2]
    tid = int.from_bytes(frame[:2], "big") ^ 0x5A5A
    return tid.to_bytes(2, "big") + frame[2:]


@dataclass(slots=True)
class FaultCounters:
    """What the faults did so far (a fault that fires is counted, never silent)."""

    dropped_requests: int = 0
    failed_reads: int = 0
    corrupted_replies: int = 0
    delayed_replies: int = 0


class DispenserFaults:
    """Injected link faults. ``count=None`` means until cleared; a number means that many times."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random(0)
        self.counters = FaultCounters()
        self.silent = False
        self.delay_ms = 0
        self._read_exception: int | None = None
        self._read_exception_left: int | None = None
        self._garbage: GarbageKind | None = None
        self._garbage_left: int | None = None

    # ----- injection -------------------------------------------------------------------------
    def mute(self, on: bool = True) -> None:
        """Offline, silent flavour: requests are swallowed, the client times out."""
        self.silent = on

    def slow_answers(self, delay_ms: int) -> None:
        """Every reply leaves ``delay_ms`` milliseconds (real time) late; 0 turns it off."""
        if delay_ms < 0:
            raise ValueError(f"delay must be >= 0 ms, got {delay_ms}")
        self.delay_ms = delay_ms

    def fail_reads(self, exception_code: int = 4, count: int | None = None) -> None:
        """Answer reads (FC01-04) with a Modbus exception (4 device failure, 6 busy, ...)."""
        if exception_code not in EXCEPTION_CODES:
            raise ValueError(f"not a Modbus exception code: {exception_code}")
        _check_count(count)
        self._read_exception, self._read_exception_left = exception_code, count

    def garbage_replies(self, kind: GarbageKind = GarbageKind.RANDOM_BYTES, count: int | None = None) -> None:
        """Replace replies by malformed MBAP frames of ``kind``."""
        _check_count(count)
        self._garbage, self._garbage_left = GarbageKind(kind), count

    def clear(self) -> None:
        """Remove every injected link fault (not power loss, which belongs to the model)."""
        self.silent, self.delay_ms = False, 0
        self._read_exception = self._read_exception_left = None
        self._garbage = self._garbage_left = None

    # ----- used by the server ----------------------------------------------------------------
    @property
    def delay_s(self) -> float:
        return self.delay_ms / 1000

    def take_read_exception(self) -> int | None:
        """The exception code this read must be answered with, if a read fault is armed."""
        code = self._read_exception
        if code is None:
            return None
        self._read_exception_left = _spend(self._read_exception_left)
        if self._read_exception_left == 0:
            self._read_exception = None
        self.counters.failed_reads += 1
        return code

    def outgoing(self, frame: bytes) -> bytes:
        """The bytes that actually go out for a reply ``frame``."""
        kind = self._garbage
        if kind is None:
            return frame
        self._garbage_left = _spend(self._garbage_left)
        if self._garbage_left == 0:
            self._garbage = None
        self.counters.corrupted_replies += 1
        return corrupt_frame(frame, kind, self._rng)


def _check_count(count: int | None) -> None:
    if count is not None and count < 1:
        raise ValueError(f"count must be >= 1 or None (until cleared), got {count}")


def _spend(left: int | None) -> int | None:
    return None if left is None else max(0, left - 1)
