"""Sparkplug session rules: seq and bdSeq numbering on the edge, gap and death tracking on the host."""

import pytest

from telemetry.contracts.session import (
    REBIRTH_METRIC,
    EdgeSequencer,
    HostSessions,
    HostState,
    HostStateWatch,
    Verdict,
    asks_rebirth,
    host_state,
    read_host_state,
)
from telemetry.contracts.sparkplug import DataType, Metric, Payload
from telemetry.contracts.topics import MessageType, SparkplugTopic


def test_seq_restarts_at_birth_and_wraps_modulo_256() -> None:
    s = EdgeSequencer()
    assert s.birth_seq() == 0
    seqs = [s.next_seq() for _ in range(300)]
    assert seqs[:3] == [1, 2, 3]
    assert seqs[254] == 255 and seqs[255] == 0 and seqs[256] == 1


def test_bd_seq_counts_sessions_and_wraps() -> None:
    s = EdgeSequencer(first_bd_seq=254)
    assert [s.new_session() for _ in range(4)] == [254, 255, 0, 1]


def test_aliases_are_stable_and_unique() -> None:
    s = EdgeSequencer()
    a, b = s.alias("disp-01", "fp1/volume"), s.alias("disp-01", "fp1/amount")
    assert a != b and s.alias("disp-01", "fp1/volume") == a
    assert s.alias("tank-1", "fp1/volume") not in (a, b)


def _t(mtype: MessageType, device: str | None = None) -> SparkplugTopic:
    return SparkplugTopic("g", mtype, "st-01", device)


def _birth(bd: int) -> Payload:
    return Payload(0, 0, (Metric("bdSeq", 1, 0, DataType.INT64, bd),))


def test_host_accepts_in_order_and_flags_a_gap() -> None:
    h = HostSessions()
    assert h.observe(_t(MessageType.NBIRTH), _birth(3)) is Verdict.ACCEPT
    births = Payload(0, 1, (Metric("fp1/volume", 9, 0, DataType.DOUBLE, 1.0),))
    assert h.observe(_t(MessageType.DBIRTH, "d"), births) is Verdict.ACCEPT
    assert h.observe(_t(MessageType.DDATA, "d"), Payload(0, 2)) is Verdict.ACCEPT
    assert h.observe(_t(MessageType.DDATA, "d"), Payload(0, 4)) is Verdict.GAP
    assert h.state("g", "st-01").stale
    assert h.observe(_t(MessageType.DDATA, "d"), Payload(0, 5)) is Verdict.ACCEPT
    assert h.resolve("g", "st-01", "d", Metric(None, 9)).name == "fp1/volume"  # type: ignore[union-attr]


def test_host_wraps_seq_without_a_gap() -> None:
    h = HostSessions()
    h.observe(_t(MessageType.NBIRTH), _birth(0))
    verdicts = [h.observe(_t(MessageType.DDATA, "d"), Payload(0, (i % 256))) for i in range(1, 600)]
    assert set(verdicts) == {Verdict.ACCEPT}


def test_data_before_birth_is_unborn_and_death_needs_matching_bd_seq() -> None:
    h = HostSessions()
    assert h.observe(_t(MessageType.DDATA, "d"), Payload(0, 1)) is Verdict.UNBORN
    h.observe(_t(MessageType.NBIRTH), _birth(5))
    assert h.observe(_t(MessageType.NDEATH), _birth(4)) is Verdict.STALE_DEATH
    assert h.state("g", "st-01").online
    assert h.observe(_t(MessageType.NDEATH), _birth(5)) is Verdict.DEATH
    assert not h.state("g", "st-01").online
    assert h.observe(_t(MessageType.DDATA, "d"), Payload(0, 1)) is Verdict.UNBORN


def test_bd_seq_counts_every_connect_and_resumes_after_a_restart() -> None:
    first = EdgeSequencer()
    assert [first.new_session() for _ in range(3)] == [0, 1, 2]     # failed CONNECTs count too
    kept = first.next_bd_seq
    restarted = EdgeSequencer()
    restarted.resume(kept)
    assert restarted.new_session() == 3, "a restart continues the count, never reuses a pending will's bdSeq"
    wrapped = EdgeSequencer()
    wrapped.resume(256)
    assert wrapped.new_session() == 0


@pytest.mark.parametrize(("metric", "asks"), [
    (Metric(REBIRTH_METRIC, None, 0, DataType.BOOLEAN, True), True),
    (Metric(None, 2, 0, DataType.BOOLEAN, True), True),           # alias only, as the NBIRTH gave it
    (Metric(None, 2, 0, DataType.BOOLEAN, False), False),
    (Metric(None, 1, 0, DataType.BOOLEAN, True), False),          # alias 1 is bdSeq
    (Metric(None, 99, 0, DataType.BOOLEAN, True), False),         # an alias nobody was given
])
def test_rebirth_is_read_by_name_or_by_alias(metric: Metric, asks: bool) -> None:
    s = EdgeSequencer()
    assert (s.alias(None, "bdSeq"), s.alias(None, REBIRTH_METRIC)) == (1, 2)
    assert asks_rebirth(s, Payload(0, None, (metric,))) is asks


def test_a_state_older_than_the_newest_seen_is_ignored() -> None:
    watch = HostStateWatch()
    assert watch.observe(read_host_state(host_state(True, 5000))) is True  # type: ignore[arg-type]
    stale = read_host_state(b'{"online": false, "timestamp": 1000}')
    assert stale == HostState(False, 1000)
    assert watch.observe(stale) is None, "an old will must not end the session"
    assert watch.observe(HostState(False, 5000)) is False, "the will of the current host session counts"
    assert watch.observe(HostState(True, 6000)) is True
    assert watch.observe(HostState(False, 5999)) is None


@pytest.mark.parametrize("raw", [b"", b"offline", b"[]", b'{"online": "yes"}', b'{"timestamp": 5}'])
def test_what_is_not_a_state_is_none(raw: bytes) -> None:
    assert read_host_state(raw) is None
