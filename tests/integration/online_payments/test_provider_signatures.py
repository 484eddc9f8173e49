"""The simulators refuse a request signed with the wrong merchant key, as the real gateways do, and the
SDKs refuse an answer signed with the wrong platform key (the outcome is then unknown, never success)."""

from __future__ import annotations

import dataclasses

import pytest

from business_services.online_payments.alipay import AlipayGateway
from business_services.online_payments.model import ProviderUnreachable
from business_services.online_payments.settings import AlipaySettings, WeChatSettings
from business_services.online_payments.wechat import WeChatGateway
from business_services.payments.providers import ChargeState
from simulators.alipay.server import AlipayKeys
from simulators.wechatpay.keys import WeChatPayKeys, key_pair
from tests.integration.online_payments.support import HeadOffice

pytestmark = pytest.mark.integration
NOTIFY = "http://127.0.0.1:9/api/v1/online-payments/notify/wechatpay"   # never called here


async def test_wechatpay_refuses_a_bad_request_signature_and_the_sdk_a_bad_answer(head_office: HeadOffice) -> None:
    genuine = head_office.sim.keys
    wrong_merchant = dataclasses.replace(genuine, merchant=key_pair())
    settings = WeChatSettings(**wrong_merchant.merchant_config(head_office.sim_url), notify_url=NOTIFY)
    refused = await WeChatGateway(settings).create("demo-01-20261204-P00031", 100, "测试", None)
    assert refused.state == ChargeState.FAILED and "SIGN_ERROR" in refused.message
    assert "demo-01-20261204-P00031" not in head_office.sim.orders

    wrong_platform = WeChatPayKeys(genuine.mchid, genuine.appid, genuine.merchant_serial, genuine.merchant,
                                   key_pair(), genuine.platform_key_id, genuine.apiv3_key)
    genuine_gateway = WeChatGateway(WeChatSettings(**genuine.merchant_config(head_office.sim_url), notify_url=NOTIFY))
    assert (await genuine_gateway.create("demo-01-20261204-P00034", 100, "测试", None)).state == ChargeState.PENDING
    settings = WeChatSettings(**wrong_platform.merchant_config(head_office.sim_url), notify_url=NOTIFY)
    with pytest.raises(ProviderUnreachable):                  # a 200 whose signature is not the platform's
        await WeChatGateway(settings).query("demo-01-20261204-P00034")


async def test_alipay_refuses_a_bad_request_signature_and_the_sdk_a_bad_answer(head_office: HeadOffice) -> None:
    genuine = head_office.alipay.keys
    gateway = head_office.alipay_url
    wrong_app = AlipayKeys(genuine.app_id, key_pair(), genuine.alipay)
    refused = await AlipayGateway(AlipaySettings(**wrong_app.merchant_config(gateway))).create(
        "demo-01-20261204-P00032", 100, "测试", None)
    assert refused.state == ChargeState.FAILED and "invalid-signature" in refused.message
    assert "demo-01-20261204-P00032" not in head_office.alipay.trades

    wrong_alipay = AlipayKeys(genuine.app_id, genuine.app, key_pair())
    with pytest.raises(ProviderUnreachable):
        await AlipayGateway(AlipaySettings(**wrong_alipay.merchant_config(gateway))).create(
            "demo-01-20261204-P00033", 100, "测试", None)
