"""Sparkplug session rules: seq and bdSeq numbering on the edge, gap and death tracking on the host."""

from telemetry.contracts.session import EdgeSequencer, HostSessions, Verdict
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
