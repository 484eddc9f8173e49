"""The ``Notifier`` interface and its three channels, each speaking the real service's HTTP API:

- ``sms``: Aliyun SMS (dysmsapi 2017-05-25 ``SendSms``, RPC style: form POST signed with HMAC-SHA1 over the
  sorted, percent-encoded parameters; answer ``{"Code": "OK", "BizId": …}`` or an ``isv.*`` error code);
- ``wechat``: WeChat Official Account template message (``POST /cgi-bin/message/template/send?access_token=``,
  the token from ``GET /cgi-bin/token``, kept until it expires or the API says 40001/42001, then fetched again:
  ``business_services/wechat_token.py``, shared with the mini program's client);
- ``webhook``: a JSON POST with ``X-Forecourt-Signature: sha256=<HMAC-SHA256 of "<timestamp>.<body>">``,
  ``X-Forecourt-Timestamp`` and ``X-Forecourt-Delivery`` (the receiver dedupes on it).

Where the requests go is a setting (``MessagingConfig``): the simulators of ``simulators/messaging`` here and in
tests, ``https://dysmsapi.aliyuncs.com`` and ``https://api.weixin.qq.com`` in a real installation. A send either
returns the provider's message id or raises ``SendFailed`` saying whether a retry can help (timeouts, rate
limits, 5xx) or not (an invalid number, an unfollowed openid, a bad signature). Personal data (phones, openids)
never appears in a log line at INFO.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote

import niquests

from business_services.wechat_token import AccessToken, TokenUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Message:
    """One alarm message for one recipient (``address``: phone, openid or URL)."""

    delivery_id: int
    alarm_id: str
    step: int
    address: str
    station: str
    priority: str
    text: str                  # the alarm's message, Chinese
    value: str                 # e.g. "35.0 %LEL (限值 25.0)"
    raised_at: datetime


class SendFailed(Exception):
    def __init__(self, code: str, reason: str, *, retryable: bool) -> None:
        super().__init__(f"{code}: {reason}")
        self.code, self.reason, self.retryable = code, reason, retryable


class Notifier(Protocol):
    """One channel: send one message, return the provider's id, or raise ``SendFailed``."""

    channel: str

    async def send(self, message: Message) -> str: ...


@dataclass(frozen=True, slots=True)
class MessagingConfig:
    """Where and as whom to send (settings ``FORECOURT_SMS_*``, ``FORECOURT_WECHAT_*``, ``FORECOURT_WEBHOOK_*``)."""

    sms_endpoint: str = "https://dysmsapi.aliyuncs.com"
    sms_access_key_id: str = ""
    sms_access_key_secret: str = ""
    sms_sign_name: str = "加油站"
    sms_template_code: str = "SMS_0000001"
    wechat_endpoint: str = "https://api.weixin.qq.com"
    wechat_appid: str = ""
    wechat_secret: str = ""
    wechat_template_id: str = ""
    webhook_secret: str = ""
    timeout_s: float = 5.0
    # the customers' messages (docs/h5.md): the login code, and the drive-through notices pushed to members
    sms_login_template_code: str = "SMS_0000002"      # 您的验证码为${code}，5分钟内有效
    sms_paid_template_code: str = "SMS_0000003"       # ${station}无感支付：已从${card}支付${amount}元
    sms_confirm_template_code: str = "SMS_0000004"    # ${station}无感支付${amount}元待确认：<H5 的地址>c/${code}
    wechat_member_template_id: str = ""               # 交易提醒 (station, amount, what, time; its link the H5's)
    h5_url: str = "http://127.0.0.1:8000/h5/"         # the customer H5 the pushes link to
    # ${enterprise}对账单${statement}欠款${amount}元已于${due}到期，逾期${days}天，请尽快付款 (fleets/dunning_sms.py)
    sms_dunning_template_code: str = "SMS_0000005"


PRIORITY_ZH = {"urgent": "紧急", "high": "高", "medium": "中", "low": "低", "journal": "记录"}


def _transport_failure(exc: Exception) -> SendFailed:
    kind = "timeout" if isinstance(exc, niquests.exceptions.Timeout) else "unreachable"
    return SendFailed(kind, type(exc).__name__, retryable=True)


# --- Aliyun SMS -----------------------------------------------------------------------------------------

def percent_encode(text: str) -> str:
    """Aliyun's POP percent-encoding: RFC 3986 unreserved kept, everything else %XX (space %20, ~ kept)."""
    return quote(text, safe="~")


def aliyun_signature(params: dict[str, str], secret: str, method: str = "POST") -> str:
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))
    to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


#: Aliyun SendSms codes after which trying again cannot help (the rest, and transport errors, are retried)
SMS_PERMANENT = frozenset({"isv.MOBILE_NUMBER_ILLEGAL", "isv.MOBILE_COUNT_OVER_LIMIT", "isv.SMS_SIGNATURE_ILLEGAL",
                           "isv.SMS_TEMPLATE_ILLEGAL", "isv.TEMPLATE_MISSING_PARAMETERS", "isv.AMOUNT_NOT_ENOUGH",
                           "isv.BLACK_KEY_CONTROL_LIMIT", "SignatureDoesNotMatch", "InvalidAccessKeyId.NotFound",
                           "isv.PARAM_LENGTH_LIMIT"})


class AliyunSms:
    channel = "sms"

    def __init__(self, config: MessagingConfig) -> None:
        self.config = config

    def request(self, message: Message) -> dict[str, str]:
        """The signed form parameters of one alarm SendSms call (template variables ≤ 35 characters each)."""
        return self.template_request(message.address, self.config.sms_template_code, str(message.delivery_id), {
            "station": message.station[:35], "level": PRIORITY_ZH.get(message.priority, message.priority),
            "alarm": message.text[:35], "value": message.value[:35]})

    def template_request(self, phone: str, template_code: str, out_id: str, variables: dict[str, str]
                         ) -> dict[str, str]:
        """The signed form parameters of one SendSms call of any approved template (the alarm's, the login
        code's, the member's payment notices: docs/h5.md)."""
        params = {
            "AccessKeyId": self.config.sms_access_key_id, "Action": "SendSms", "Format": "JSON",
            "RegionId": "cn-hangzhou", "SignatureMethod": "HMAC-SHA1", "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0", "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25", "PhoneNumbers": phone, "SignName": self.config.sms_sign_name,
            "TemplateCode": template_code, "OutId": out_id,
            "TemplateParam": json.dumps(variables, ensure_ascii=False, separators=(",", ":")),
        }
        params["Signature"] = aliyun_signature(params, self.config.sms_access_key_secret)
        return params

    async def send(self, message: Message) -> str:
        return await self.post(self.request(message))

    async def post(self, form: dict[str, str]) -> str:
        """Send one signed SendSms form; the provider's BizId, or ``SendFailed``."""
        try:
            async with niquests.AsyncSession() as http:
                response = await http.post(self.config.sms_endpoint.rstrip("/") + "/", data=form,
                                           timeout=self.config.timeout_s)
        except niquests.exceptions.RequestException as exc:
            raise _transport_failure(exc) from exc
        try:
            body: dict[str, Any] = response.json() or {}
        except ValueError:
            body = {}
        code = str(body.get("Code", f"HTTP {response.status_code}"))
        if code == "OK":
            return str(body.get("BizId", ""))
        retryable = code not in SMS_PERMANENT and (response.status_code or 0) not in (400, 403, 404)
        raise SendFailed(code, str(body.get("Message", ""))[:200], retryable=retryable or code.startswith("Throttling"))


# --- WeChat template message ----------------------------------------------------------------------------

WECHAT_PERMANENT = frozenset({40003, 43004, 40037, 47003, 40013, 40125})   # openid, unfollowed, template, data, app


class WeChatTemplate:
    channel = "wechat"

    def __init__(self, config: MessagingConfig, clock: Any = time.monotonic) -> None:
        self.config = config
        self._token = AccessToken(config.wechat_endpoint, config.wechat_appid, config.wechat_secret,
                                  config.timeout_s, clock)   # business_services/wechat_token.py

    def body(self, message: Message) -> dict[str, Any]:
        local = message.raised_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        return {"touser": message.address, "template_id": self.config.wechat_template_id,
                "data": {"first": {"value": f"【{PRIORITY_ZH.get(message.priority, message.priority)}】报警"},
                         "keyword1": {"value": message.station}, "keyword2": {"value": message.text},
                         "keyword3": {"value": message.value}, "keyword4": {"value": local},
                         "remark": {"value": "请尽快确认处理" if message.step == 0
                                    else f"第 {message.step} 级升级：仍未确认"}}}

    async def send(self, message: Message) -> str:
        return await self.post(self.body(message))

    async def post(self, body: dict[str, Any]) -> str:
        """Send one template message (``touser``, ``template_id``, ``data``, optionally ``url``); its msgid, or
        ``SendFailed``."""
        endpoint = f"{self.config.wechat_endpoint.rstrip('/')}/cgi-bin/message/template/send"
        try:
            async with niquests.AsyncSession() as http:
                async def post(token: str) -> dict[str, Any]:
                    response = await http.post(endpoint, params={"access_token": token}, json=body,
                                               timeout=self.config.timeout_s)
                    return response.json() or {}
                answer = await self._token.call(http, post)   # a refused token is fetched again, once
        except TokenUnavailable as exc:
            raise SendFailed(f"token {exc.code}", exc.errmsg, retryable=exc.code in (-1, 45009)) from exc
        except niquests.exceptions.RequestException as exc:
            raise _transport_failure(exc) from exc
        except ValueError as exc:
            raise SendFailed("bad answer", str(exc)[:200], retryable=True) from exc
        code = int(answer.get("errcode", -1))
        if code == 0:
            return str(answer.get("msgid", ""))
        raise SendFailed(str(code), str(answer.get("errmsg", ""))[:200], retryable=code not in WECHAT_PERMANENT)


# --- webhook --------------------------------------------------------------------------------------------

def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class Webhook:
    channel = "webhook"

    def __init__(self, config: MessagingConfig) -> None:
        self.config = config

    def payload(self, message: Message) -> bytes:
        return json.dumps({"delivery_id": message.delivery_id, "alarm_id": message.alarm_id, "step": message.step,
                           "station": message.station, "priority": message.priority, "message": message.text,
                           "value": message.value, "raised_at": message.raised_at.isoformat()},
                          ensure_ascii=False).encode()

    async def send(self, message: Message) -> str:
        body, timestamp = self.payload(message), str(int(time.time()))
        headers = {"Content-Type": "application/json", "X-Forecourt-Timestamp": timestamp,
                   "X-Forecourt-Delivery": str(message.delivery_id),
                   "X-Forecourt-Signature": webhook_signature(self.config.webhook_secret, timestamp, body)}
        try:
            async with niquests.AsyncSession() as http:
                response = await http.post(message.address, data=body, headers=headers, timeout=self.config.timeout_s)
        except niquests.exceptions.RequestException as exc:
            raise _transport_failure(exc) from exc
        status = response.status_code or 0
        if 200 <= status < 300:
            return f"http {status}"
        raise SendFailed(f"HTTP {status}", (response.text or "")[:200], retryable=status == 429 or status >= 500)


def notifiers(config: MessagingConfig) -> dict[str, Notifier]:
    """One notifier per channel, from the installation's settings."""
    return {"sms": AliyunSms(config), "wechat": WeChatTemplate(config), "webhook": Webhook(config)}
