"""The station server's online providers: which methods go through head office, which are not set up."""

from __future__ import annotations

from business_services.online_payments.station_client import HeadOfficeProvider, NotOffered, online_providers
from business_services.payments.providers import ChargeRequest, ChargeState
from telemetry.contracts.events.payments import Method


async def test_wechat_and_alipay_share_one_link_and_the_others_are_not_set_up() -> None:
    providers = online_providers("http://127.0.0.1:9", "fck_00000000_x")
    wechat, alipay = providers[Method.WECHAT], providers[Method.ALIPAY]
    assert isinstance(wechat, HeadOfficeProvider) and isinstance(alipay, HeadOfficeProvider)
    assert wechat.link is alipay.link and not wechat.safe_offline
    assert wechat.unavailable() is None
    wechat.link.down = True                                   # as after a failed call: both stop at once
    assert "总部连接中断" in (alipay.unavailable() or "") and "支付宝" in (alipay.unavailable() or "")
    for method in (Method.UNIONPAY_QR, Method.ECNY):
        provider = providers[method]
        assert isinstance(provider, NotOffered) and "尚未开通" in (provider.unavailable() or "")
        answer = await provider.charge(ChargeRequest("demo-01-20261204-P00001", "demo-01", method, 100, "x"))
        assert answer.state == ChargeState.FAILED and "尚未开通" in answer.message
