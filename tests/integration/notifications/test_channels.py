"""The three channels against the messaging simulator, which checks what the real services check: Aliyun
SendSms signed and answered, its error codes (invalid number, rate limit) and a timeout; WeChat's token fetched
once, refreshed when the API says it expired, and an unfollowed openid; the webhook's HMAC signature."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from business_services.notifications.channels import AliyunSms, Message, SendFailed, Webhook, WeChatTemplate
from tests.integration.notifications.support import OPENID, PHONE, messaging_sim

pytestmark = pytest.mark.integration


def message(address: str = PHONE, step: int = 0) -> Message:
    return Message(delivery_id=7, alarm_id="a1", step=step, address=address, station="demo-01", priority="urgent",
                   text="可燃气体二级报警，立即疏散并切断电源", value="55 %LEL (限值 50)",
                   raised_at=datetime(2026, 12, 4, 8, 0, tzinfo=UTC))


async def test_sms_is_signed_and_sent_and_its_errors_say_whether_to_retry() -> None:
    async with messaging_sim(timeout_s=0.5) as messaging:
        sms = AliyunSms(messaging.config)
        biz_id = await sms.send(message())
        received = (await messaging.received("sms"))["received"]
        assert [(r["PhoneNumbers"], r["OutId"], r["BizId"]) for r in received] == [(PHONE, "7", biz_id)]
        assert received[0]["TemplateParam"]["level"] == "紧急"
        assert received[0]["TemplateParam"]["station"] == "demo-01"

        with pytest.raises(SendFailed) as invalid:
            await sms.send(message("12345"))
        assert (invalid.value.code, invalid.value.retryable) == ("isv.MOBILE_NUMBER_ILLEGAL", False)

        await messaging.fault(sms_rate_limit_next=1)
        with pytest.raises(SendFailed) as limited:
            await sms.send(message())
        assert (limited.value.code, limited.value.retryable) == ("isv.BUSINESS_LIMIT_CONTROL", True)

        await messaging.fault(sms_timeout_next=1, delay_s=1.5)
        with pytest.raises(SendFailed) as late:
            await sms.send(message())
        assert (late.value.code, late.value.retryable) == ("timeout", True)

        wrong_key = AliyunSms(dataclasses.replace(messaging.config, sms_access_key_secret="not-the-secret"))  # noqa: S106
        with pytest.raises(SendFailed) as forged:
            await wrong_key.send(message())
        assert (forged.value.code, forged.value.retryable) == ("SignatureDoesNotMatch", False)
        assert len((await messaging.received("sms"))["received"]) == 1     # only the first went out


async def test_wechat_token_is_kept_refreshed_when_expired_and_refusals_are_told_apart() -> None:
    async with messaging_sim() as messaging:
        wechat = WeChatTemplate(messaging.config)
        await wechat.send(message(OPENID))
        await wechat.send(message(OPENID, step=1))
        assert (await messaging.received("wechat"))["token_requests"] == 1   # one token for both

        await messaging.fault(wechat_expire_tokens=True)   # the token dies before its expires_in (42001)
        await wechat.send(message(OPENID))
        seen = await messaging.received("wechat")
        assert seen["token_requests"] == 2
        assert [r["errcode"] for r in seen["refused"]] == [42001]
        assert len(seen["received"]) == 3
        assert seen["received"][1]["data"]["remark"]["value"].startswith("第 1 级升级")
        assert seen["received"][0]["touser"] == OPENID

        with pytest.raises(SendFailed) as unfollowed:
            await wechat.send(message("oUnfollowed1234567890"))
        assert (unfollowed.value.code, unfollowed.value.retryable) == ("43004", False)

        await messaging.fault(wechat_rate_limit_next=1)
        with pytest.raises(SendFailed) as limited:
            await wechat.send(message(OPENID))
        assert (limited.value.code, limited.value.retryable) == ("45009", True)


async def test_webhook_is_signed_and_a_busy_receiver_is_retryable() -> None:
    async with messaging_sim() as messaging:
        hook = Webhook(messaging.config)
        await hook.send(message(f"{messaging.url}/webhook/ops"))
        got = (await messaging.received("webhook"))["received"]
        assert [(w["name"], w["delivery"], w["body"]["station"]) for w in got] == [("ops", "7", "demo-01")]

        await messaging.fault(webhook_fail_next=1)
        with pytest.raises(SendFailed) as busy:
            await hook.send(message(f"{messaging.url}/webhook/ops"))
        assert (busy.value.code, busy.value.retryable) == ("HTTP 503", True)

        unsigned = Webhook(dataclasses.replace(messaging.config, webhook_secret="another"))  # noqa: S106
        with pytest.raises(SendFailed) as refused:
            await unsigned.send(message(f"{messaging.url}/webhook/ops"))
        assert (refused.value.code, refused.value.retryable) == ("HTTP 401", False)
