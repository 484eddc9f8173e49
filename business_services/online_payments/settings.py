"""Provider settings from the environment: ``WECHATPAY_*`` and ``ALIPAY_*`` (docs/online-payments.md).

Unset ``WECHATPAY_MCHID`` / ``ALIPAY_APP_ID``: that provider is not offered (its charges fail with
"尚未开通"). Pointing at the simulators or at the real services is only a change of ``*_GATEWAY`` and keys.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WeChatSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WECHATPAY_", frozen=True)

    gateway: str = Field("https://api.mch.weixin.qq.com", description="the merchant API; a simulator's URL in demos")
    mchid: str
    appid: str
    merchant_serial: str = Field(description="the merchant API certificate's serial number")
    merchant_private_key: str = Field(repr=False, description="PEM of the merchant API private key")
    platform_public_key: str = Field(description="PEM of the WeChat Pay platform public key")
    platform_key_id: str = Field(description="its id, PUB_KEY_ID_…")
    apiv3_key: str = Field(repr=False, description="the 32-character APIv3 key")
    notify_url: str = Field(description="head office's public URL of /api/v1/online-payments/notify/wechatpay")
    timeout_s: float = Field(10.0, description="how long head office waits for WeChat Pay's answer")
    papay_plan_id: int | None = Field(None, description="委托代扣: the withholding plan's id (模板 id); unset: "
                                                        "免密支付 is not offered")
    papay_notify_url: str = Field("", description="head office's public URL of "
                                                  "/api/v1/online-payments/notify/wechatpay-papay (contracts)")


def wechat_from_env() -> WeChatSettings | None:
    import os
    if not os.environ.get("WECHATPAY_MCHID"):
        return None
    return WeChatSettings()  # type: ignore[call-arg]


class AlipaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ALIPAY_", frozen=True)

    gateway: str = Field("https://openapi.alipay.com/gateway.do", description="the open-platform gateway")
    app_id: str
    app_private_key: str = Field(repr=False, description="PEM of the app's private key (RSA2)")
    alipay_public_key: str = Field(description="PEM of Alipay's public key")
    notify_url: str = Field("", description="head office's public URL of /api/v1/online-payments/notify/alipay")
    timeout_s: float = Field(10.0, description="how long head office waits for Alipay's answer")


def alipay_from_env() -> AlipaySettings | None:
    import os
    if not os.environ.get("ALIPAY_APP_ID"):
        return None
    return AlipaySettings()  # type: ignore[call-arg]
