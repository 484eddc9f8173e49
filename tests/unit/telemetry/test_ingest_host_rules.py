"""Pure rules of ingest: when a worker is stalled, what a STATE on its host topic means, what is an outage."""

import psycopg
import pytest
from psycopg import errors

from telemetry.contracts.session import HostState
from telemetry.ingest.host import Reaction, reaction
from telemetry.ingest.progress import Progress
from telemetry.storage.repository import is_outage


def test_stalled_only_while_messages_wait_without_a_commit() -> None:
    p = Progress(stall_after_s=10)
    assert not p.stalled(1000.0), "nothing waiting is not a stall, however long it is quiet"
    p.received(1000.0)
    p.received(1005.0)
    assert p.stalled_for(1009.0) == 9.0 and not p.stalled(1009.0)
    assert p.stalled(1010.5)
    p.committed(1, 1011.0)
    assert p.waiting == 1 and not p.stalled(1020.0) and p.stalled(1021.5), "a commit is progress"
    p.committed(1, 1022.0)
    assert p.stalled_for(5000.0) == 0.0
    p.received(6000.0)
    p.reset()
    assert p.waiting == 0 and not p.stalled(9000.0)


@pytest.mark.parametrize(("state", "expected"), [
    (None, Reaction.NOT_A_STATE),
    (HostState(True, 50), Reaction.NONE),
    (HostState(False, 50), Reaction.REPEAT_ONLINE),     # an older session's will: the host is still here
    (HostState(False, 100), Reaction.NEW_SESSION),      # our own stamp or newer: a newer worker died
    (HostState(False, 150), Reaction.NEW_SESSION),
    (HostState(False, None), Reaction.NEW_SESSION),
    (HostState(False, 2**64 - 1), Reaction.NOT_A_STATE),  # from the far future: garbage, not a reason to reconnect
])
def test_reaction_of_a_running_worker_to_its_host_state(state: HostState | None, expected: Reaction) -> None:
    assert reaction(state, session_ms=100) is expected


@pytest.mark.parametrize(("exc", "outage"), [
    (psycopg.OperationalError("connection refused"), True),
    (psycopg.InterfaceError("the connection is closed"), True),
    (errors.AdminShutdown(), True),
    (errors.DiskFull(), True),
    (errors.DeadlockDetected(), True),
    (errors.ProgramLimitExceeded(), False),     # index row too large: retrying forever would stall ingest
    (errors.UntranslatableCharacter(), False),
    (errors.NumericValueOutOfRange(), False),
    (psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"), False),
])
def test_only_an_absent_database_is_an_outage(exc: psycopg.Error, outage: bool) -> None:
    assert is_outage(exc) is outage
