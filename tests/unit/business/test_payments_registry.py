"""Which methods a station server can take: the offline tenders always, online ones when given, the rest 尚未开通."""

from __future__ import annotations

from business_services.payments.offline import BANK_CARD, CASH
from business_services.payments.providers import ChargeRequest, ChargeState
from business_services.payments.registry import NOT_CONFIGURED, Providers
from telemetry.contracts.events.payments import Method


def test_every_method_is_listed_and_only_the_offline_ones_are_there_by_default() -> None:
    listed = {m.method: m for m in Providers().methods()}
    assert set(listed) == set(Method)
    assert {m for m, s in listed.items() if s.available} == {Method.CASH, Method.BANK_CARD, Method.OTHER}
    assert listed[Method.STORED_VALUE].reason == NOT_CONFIGURED and not listed[Method.WECHAT].available
    assert all(listed[m].safe_offline for m in (Method.CASH, Method.BANK_CARD, Method.OTHER))


def test_an_online_provider_given_takes_its_method() -> None:
    class Wechat:
        method, safe_offline = Method.WECHAT, False

        def unavailable(self) -> str | None:
            return "总部连接中断"

    providers = Providers([Wechat()])  # type: ignore[list-item]   # only what the registry reads
    [wechat] = [m for m in providers.methods() if m.method is Method.WECHAT]
    assert (wechat.available, wechat.reason, wechat.safe_offline) == (False, "总部连接中断", False)


async def test_the_bank_terminal_voucher_is_the_reference_and_cash_has_none() -> None:
    request = ChargeRequest("demo-01-20261204-P00001", "demo-01", Method.BANK_CARD, 100, "加油", reference="880012")
    card = await BANK_CARD.charge(request)
    assert (card.state, card.provider_ref) == (ChargeState.SUCCEEDED, "880012")
    assert (await CASH.charge(request)).provider_ref is None
