"""The rules an event passes before a handler or the database sees it, and which database errors are outages."""

import json

import psycopg
import pytest
from psycopg import errors

from business_services.consumer import is_outage
from business_services.intake import Admitted, Rejected, admit, sanitised
from telemetry.contracts.events import MAX_EVENT_BYTES, CloudEvent

TOPIC = "forecourt/v1/acme/st-01/events/fuelling.completed"


def _raw(**changes: object) -> bytes:
    event = {"specversion": "1.0", "id": "e-1", "source": "forecourt/st-01/disp-01", "type": "fuelling.completed",
             "time": "2026-03-01T08:00:00Z", "data": {"station": "st-01", "pump": "disp-01"}} | changes
    return json.dumps(event).encode()


def test_a_good_event_is_admitted_with_the_topics_identity() -> None:
    verdict = admit(TOPIC, _raw())
    assert isinstance(verdict, Admitted)
    assert (verdict.origin.group, verdict.origin.station, verdict.event.id) == ("acme", "st-01", "e-1")
    assert isinstance(admit(TOPIC, _raw(data={"pump": "disp-01"})), Admitted)     # no claim: the topic speaks


@pytest.mark.parametrize(("topic", "raw", "kind", "reason"), [
    (TOPIC, _raw(id="e\x00-1"), "invalid", "id"),                                  # NUL in the id
    (TOPIC, _raw(id="e" * 10_000), "invalid", "id"),                               # an id longer than any key
    (TOPIC, _raw(id=""), "invalid", "id"),
    (TOPIC, b"\xff\xfe not utf-8", "invalid", "not a valid CloudEvent"),
    (TOPIC, b"{not json", "invalid", "not JSON"),
    (TOPIC, b"[" * 100_000, "invalid", "over the"),                               # over the size limit
    (TOPIC, b"[" * 30_000 + b"]" * 30_000, "invalid", "nested too deeply"),       # under the limit, deep
    (TOPIC, json.dumps([1, 2]).encode(), "invalid", "not a valid CloudEvent"),
    (TOPIC, _raw(type="gas_fill.completed"), "invalid", "in the topic"),           # type is not the topic's
    (TOPIC, _raw(type="Fuelling Completed!"), "invalid", "type"),
    (TOPIC, _raw(surprise=1), "invalid", "surprise"),
    (TOPIC, _raw(data={"station": "other-02", "volume_l": 500}), "security", "other-02"),
    (TOPIC, _raw(data={"station": None}), "security", "None"),
    ("forecourt/v1/acme/st-01/commands/command.set_price", _raw(type="command.set_price"), "invalid", "command"),
    ("forecourt/v1/acme/ST 01/events/fuelling.completed", _raw(), "invalid", "station level"),
    ("forecourt/v1/a+b/st-01/events/fuelling.completed", _raw(), "invalid", "group level"),
    ("forecourt/v1/st-01/events/fuelling.completed", _raw(), "invalid", "not a forecourt/v1"),   # no group
])
def test_poison_is_rejected_with_a_reason(topic: str, raw: bytes, kind: str, reason: str) -> None:
    verdict = admit(topic, raw)
    assert isinstance(verdict, Rejected) and verdict.kind == kind
    assert reason in verdict.reason
    assert "\x00" not in verdict.reason and len(verdict.reason) <= 500 and verdict.reason.isprintable()


def test_a_forged_event_names_both_stations() -> None:
    verdict = admit(TOPIC, _raw(data={"station": "other-02"}))
    assert isinstance(verdict, Rejected)
    assert (verdict.topic_station, verdict.claimed_station) == ("st-01", "other-02")


def test_the_size_limit_is_checked_before_parsing() -> None:
    assert len(CloudEvent(source="s", type="a.b", data={"x": "y" * (MAX_EVENT_BYTES - 200)}).to_bytes()) \
        <= MAX_EVENT_BYTES
    with pytest.raises(ValueError, match="limit"):
        CloudEvent.from_bytes(b" " * (MAX_EVENT_BYTES + 1))


def test_sanitised_text_is_printable_and_bounded() -> None:
    assert sanitised("a\x00b\nc") == "a\\x00b\\nc"
    assert len(sanitised("x" * 10_000)) == 500 and sanitised("x" * 10_000).endswith("…")


@pytest.mark.parametrize(("error", "lost", "outage"), [
    (psycopg.OperationalError("connection refused"), False, True),       # connect failed: no SQLSTATE
    (errors.AdminShutdown(), False, True),                               # 57P01
    (errors.ConnectionFailure(), False, True),                           # 08006
    (errors.DiskFull(), False, True),                                    # 53100
    (errors.ProgramLimitExceeded(), False, False),                       # 54000: an index row too large
    (errors.StringDataRightTruncation(), False, False),                  # 22001
    (errors.UniqueViolation(), False, False),
    (psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"), False, False),
    (psycopg.DataError("anything"), True, True),                         # the connection is gone: wait for it
])
def test_only_a_database_outage_makes_an_event_wait(error: psycopg.Error, lost: bool, outage: bool) -> None:
    assert is_outage(error, lost) is outage
