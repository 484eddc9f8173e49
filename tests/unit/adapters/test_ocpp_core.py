"""The central system's decisions without a socket: hand-over before the answer, remote tags, orphans."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from ocpp.exceptions import FormationViolationError, InternalError

from protocol_adapters.ocpp.auth import AuthorizationCache
from protocol_adapters.ocpp.codec import OcppVersion
from protocol_adapters.ocpp.core import CsmsCore
from protocol_adapters.ocpp.sessions import ChargingSession

NOW = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
T0, T1 = "2026-01-01T08:00:00.000Z", "2026-01-01T09:00:00.000Z"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def make_core(clock: Clock | None = None) -> tuple[CsmsCore, list[ChargingSession]]:
    handed: list[ChargingSession] = []

    async def sink(session: ChargingSession) -> None:
        handed.append(session)

    core = CsmsCore(AuthorizationCache({"RFID0001": "Accepted", "STOLEN01": "Blocked"}), expected={"chg-01": 2},
                    on_session=sink, first_transaction_id=500, now=clock or Clock())
    core.states.connected("chg-01", OcppVersion.V16)
    return core, handed


async def test_a_failed_hand_over_answers_internal_error_and_the_retry_books_it_once() -> None:
    core, handed = make_core()
    number, status = await core.start_16("chg-01", 1, "RFID0001", 1_000, T0)
    assert (number, status) == (500, "Accepted")
    failures = iter([RuntimeError("outbox full")])

    async def flaky(session: ChargingSession) -> None:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        handed.append(session)

    core.on_session = flaky
    with pytest.raises(InternalError):
        await core.stop_16("chg-01", 500, 8_000, T1, "EVDisconnected", None)
    await core.stop_16("chg-01", 500, 8_000, T1, "EVDisconnected", None)     # the charger's retry
    await core.stop_16("chg-01", 500, 8_000, T1, "EVDisconnected", None)     # a repeat
    assert [s.energy_kwh for s in handed] == [7.0]
    assert (core.stats.sessions, core.stats.hand_over_failures, core.stats.duplicates) == (1, 1, 1)


async def test_start_verdicts_from_the_list_and_repeated_for_duplicates() -> None:
    core, _ = make_core()
    blocked = await core.start_16("chg-01", 2, "STOLEN01", 0, T0)
    again = await core.start_16("chg-01", 2, "STOLEN01", 0, T0)
    assert blocked == again and blocked[1] == "Blocked"
    assert (await core.start_16("chg-01", 1, "NOBODY", 0, T1))[1] == "Invalid"
    with pytest.raises(FormationViolationError):
        await core.start_16("chg-01", 1, "RFID0001", 0, "yesterday")


async def test_a_remote_start_tag_is_accepted_once_and_only_for_a_while() -> None:
    clock = Clock()
    core, _ = make_core(clock)
    core.allow_remote("chg-01", "APP00042")
    assert (await core.start_16("chg-01", 1, "app00042", 0, T0))[1] == "Accepted"
    assert (await core.start_16("chg-01", 2, "APP00042", 0, T0))[1] == "Invalid"   # used up
    core.allow_remote("chg-01", "APP00043")
    clock.now += timedelta(hours=1)
    assert (await core.start_16("chg-01", 1, "APP00043", 0, T1))[1] == "Invalid"   # expired


async def test_201_token_answers_at_start_and_at_a_stop_with_another_card() -> None:
    core, handed = make_core()
    info = {"transaction_id": "tx-1", "charging_state": "Charging"}
    begin = [{"timestamp": T0, "sampled_value": [{"value": 100.0, "context": "Transaction.Begin"}]}]
    status = await core.transaction_event("chg-01", "Started", T0, 0, info, begin, {"id": 2, "connector_id": 1},
                                          {"id_token": "RFID0001", "type": "ISO14443"})
    assert status == "Accepted" and core.states.charge_points["chg-01"].connectors[2].transaction == "tx-1"
    end = [{"timestamp": T1, "sampled_value": [{"value": 2100.0, "context": "Transaction.End"}]}]
    stop_info = {"transaction_id": "tx-1", "stopped_reason": "Local", "charging_state": "EVConnected"}
    status = await core.transaction_event("chg-01", "Ended", T1, 1, stop_info, end, None,
                                          {"id_token": "STOLEN01", "type": "ISO14443"})
    assert status == "Blocked"
    [session] = handed
    assert (session.connector, session.id_tag, session.energy_kwh, session.stop_reason) == (2, "RFID0001", 2.0,
                                                                                            "Local")


async def test_a_transaction_started_before_a_restart_shows_but_makes_no_session() -> None:
    core, handed = make_core()
    sample = [{"timestamp": T0, "sampled_value": [{"value": "5000", "unit": "Wh"}]}]
    core.meter_values("chg-01", 1, sample, OcppVersion.V16, transaction_id=77)
    connector = core.states.charge_points["chg-01"].connectors[1]
    assert (connector.transaction, connector.energy_wh) == ("77", 5000.0)
    await core.stop_16("chg-01", 77, 6000, T1, "Local", None)
    assert handed == [] and core.stats.orphans == 1
    assert (connector.transaction, connector.energy_wh) == ("", 6000.0)


async def test_a_negative_or_absurd_register_is_counted_skipped_and_the_good_values_kept() -> None:
    core, _ = make_core()
    good = [{"timestamp": T0, "sampled_value": [{"value": "5000", "unit": "Wh"}]}]
    core.meter_values("chg-01", 1, good, OcppVersion.V16)
    bad = [{"timestamp": T1, "sampled_value": [
        {"value": "-5000", "unit": "Wh"},
        {"measurand": "Power.Active.Import", "unit": "kW", "value": "7.2"}]},
           {"timestamp": T1, "sampled_value": [{"value": "1e308", "unit": "kWh"}]}]
    core.meter_values("chg-01", 1, bad, OcppVersion.V16)
    connector = core.states.charge_points["chg-01"].connectors[1]
    assert (connector.energy_wh, connector.power_kw) == (5000.0, 7.2)
    assert core.stats.bad_values == 2
    energy = next(r for r in core.states.readings() if r.key == "chg-01/1/energy")
    assert energy.value == 5.0


async def test_a_negative_meter_start_falls_back_to_the_transactions_first_reading() -> None:
    core, handed = make_core()
    number, _ = await core.start_16("chg-01", 1, "RFID0001", -5000, T0)
    connector = core.states.charge_points["chg-01"].connectors[1]
    assert connector.energy_wh is None and core.stats.bad_values == 1
    sample = [{"timestamp": T0, "sampled_value": [{"value": "10000", "unit": "Wh"}]}]
    core.meter_values("chg-01", 1, sample, OcppVersion.V16, transaction_id=number)
    await core.stop_16("chg-01", number, 17_000, T1, "EVDisconnected", None)
    [session] = handed
    assert (session.meter_start_wh, session.meter_stop_wh, session.energy_kwh) == (10_000, 17_000, 7.0)


async def test_an_absurd_meter_stop_falls_back_to_the_last_reading() -> None:
    core, handed = make_core()
    number, _ = await core.start_16("chg-01", 1, "RFID0001", 1_000, T0)
    sample = [{"timestamp": T0, "sampled_value": [{"value": "4000", "unit": "Wh"}]}]
    core.meter_values("chg-01", 1, sample, OcppVersion.V16, transaction_id=number)
    await core.stop_16("chg-01", number, 10**15, T1, "Local", None)
    [session] = handed
    assert (session.meter_stop_wh, session.energy_kwh) == (4_000, 3.0)
    assert core.stats.bad_values == 1
    assert core.states.charge_points["chg-01"].connectors[1].energy_wh == 4000.0


@pytest.mark.parametrize(("tag", "status"), [("RFID0001", "Accepted"), ("STOLEN01", "Blocked"),
                                             ("NOBODY", "Invalid")])
async def test_16_sessions_carry_the_tags_verdict_and_refused_ones_are_counted(tag: str, status: str) -> None:
    core, handed = make_core()
    number, answer = await core.start_16("chg-01", 1, tag, 1_000, T0)
    await core.stop_16("chg-01", number, 3_000, T1, "DeAuthorized", None)
    [session] = handed
    assert (answer, session.id_tag_status, session.authorised) == (status, status, status == "Accepted")
    assert core.stats.refused_sessions == (status != "Accepted")


async def test_201_a_token_first_named_at_the_end_is_judged_before_the_hand_over() -> None:
    core, handed = make_core()
    info = {"transaction_id": "tx-9", "charging_state": "Charging"}
    await core.transaction_event("chg-01", "Started", T0, 0, info, None, {"id": 1, "connector_id": 1}, None)
    stop_info = {"transaction_id": "tx-9", "stopped_reason": "Local"}
    status = await core.transaction_event("chg-01", "Ended", T1, 1, stop_info, None, None,
                                          {"id_token": "NOBODY", "type": "ISO14443"})
    [session] = handed
    assert (status, session.id_tag, session.id_tag_status, session.authorised) == ("Unknown", "NOBODY", "Unknown",
                                                                                   False)


async def test_201_a_session_without_any_token_is_not_authorised() -> None:
    core, handed = make_core()
    info = {"transaction_id": "tx-8", "charging_state": "Charging"}
    await core.transaction_event("chg-01", "Started", T0, 0, info, None, {"id": 1, "connector_id": 1}, None)
    await core.transaction_event("chg-01", "Ended", T1, 1, {"transaction_id": "tx-8"}, None, None, None)
    [session] = handed
    assert (session.id_tag_status, session.authorised, core.stats.refused_sessions) == ("", False, 1)
