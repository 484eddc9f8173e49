"""Messaging services on one real port, for notifications and their tests: Aliyun SMS, WeChat template
messages, and a webhook receiver. Each speaks the real API's shape, checks what the real one checks, fails the
way the real one fails (on demand), and records what it received so tests can read it.

- **Aliyun SMS** ``POST /`` (dysmsapi 2017-05-25, ``Action=SendSms``, form-encoded RPC with an HMAC-SHA1
  ``Signature`` over the sorted percent-encoded parameters, secret + "&"): a bad signature is
  ``SignatureDoesNotMatch`` (400), an unknown key ``InvalidAccessKeyId.NotFound`` (404), a number that is not a
  mainland mobile ``isv.MOBILE_NUMBER_ILLEGAL``, a rate limit ``isv.BUSINESS_LIMIT_CONTROL`` (200, as Aliyun
  answers business errors); success ``{"Code": "OK", "BizId": …, "RequestId": …}``.
- **WeChat** ``GET /cgi-bin/token?grant_type=client_credential&appid=&secret=`` →
  ``{"access_token", "expires_in": 7200}`` (a wrong secret: 40001); ``POST
  /cgi-bin/message/template/send?access_token=`` → ``{"errcode": 0, "errmsg": "ok", "msgid": …}``; an unknown token
  40001, an expired one 42001, an openid that does not follow the account 43004, a bad one 40003.
- **WeChat mini program** (小程序, its own ``mini_appid``/``mini_secret``; its token from the same ``/cgi-bin/token``):
  ``GET /sns/jscode2session?appid=&secret=&js_code=&grant_type=authorization_code`` → ``{"openid", "session_key",
  "unionid"}`` (what ``wx.login``'s code is worth), or 40029 (unknown or expired code), 40163 (code been used: a
  code works once), 40013/40125 (bad appid/secret); ``POST /wxa/business/getuserphonenumber?access_token=``
  ``{"code"}`` (the phone button's code) → ``{"errcode": 0, "phone_info": {"phoneNumber", "purePhoneNumber",
  "countryCode": "86", "watermark": {"timestamp", "appid"}}}``, 40029 for a bad, expired or used code, the token
  rules of template messages (40001, 42001; 48001 for the Official Account's token). One person per phone: the
  same phone is the same openid and unionid every time.
- **Webhook receiver** ``POST /webhook/{name}``: checks ``X-Forecourt-Signature`` (HMAC-SHA256 of
  ``"<timestamp>.<body>"`` with the merchant's webhook secret, or the receiver's own set by
  ``POST /_sim/webhook-secrets {"name", "secret"}``, as a fleet's webhook subscription has; 401 when wrong)
  and keeps each body once by ``X-Forecourt-Delivery`` (a repeat is counted in ``repeats``, as a careful
  receiver would dedupe).

Test control under ``/_sim`` (no signature): ``POST /_sim/faults`` ``{"sms_timeout_next": n,
"sms_rate_limit_next": n, "wechat_expire_tokens": true, "wechat_rate_limit_next": n, "wechat_expire_codes": true,
"wechat_mini_timeout_next": n, "webhook_fail_next": n, "delay_s": 6}``; ``POST /_sim/wechat-users``
``{"phone": "1380013xxxx"}`` → ``{"openid", "unionid", "login_code", "phone_code"}`` (what ``wx.login`` and the
getPhoneNumber button give the mini program: each code valid 5 minutes, once); ``GET /_sim/sms``, ``/_sim/wechat``,
``/_sim/wechat-mini``, ``/_sim/webhook``: what was received, in order.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

MOBILE = re.compile(r"^1[3-9]\d{9}$")
FOLLOWERS = re.compile(r"^o[A-Za-z0-9_-]{10,40}$")     # openids that follow the account
UNFOLLOWED_PREFIX = "oUnfollowed"


@dataclass
class Faults:
    sms_timeout_next: int = 0          # the next n SendSms calls answer only after delay_s, and send nothing
    sms_rate_limit_next: int = 0       # the next n SendSms calls: isv.BUSINESS_LIMIT_CONTROL
    wechat_expire_tokens: bool = False  # every token issued so far has expired (42001 on its next use)
    wechat_rate_limit_next: int = 0    # the next n template sends: 45009
    wechat_expire_codes: bool = False  # every mini program code issued so far has expired (40029)
    wechat_mini_timeout_next: int = 0  # the next n jscode2session / getuserphonenumber calls answer after delay_s
    webhook_fail_next: int = 0         # the next n webhook posts: 503
    delay_s: float = 6.0               # how late a "timeout" answers (longer than the client waits)


@dataclass
class MessagingKeys:
    access_key_id: str = field(default_factory=lambda: "LTAI" + secrets.token_hex(8))
    access_key_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    appid: str = field(default_factory=lambda: "wx" + secrets.token_hex(8))
    app_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    mini_appid: str = field(default_factory=lambda: "wx" + secrets.token_hex(8))     # the mini program (小程序)
    mini_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    webhook_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    def merchant_config(self, base_url: str) -> dict[str, Any]:
        """What an installation configures to use this simulator (the ``FORECOURT_SMS_*`` … settings)."""
        return {"sms_endpoint": base_url, "sms_access_key_id": self.access_key_id,
                "sms_access_key_secret": self.access_key_secret, "wechat_endpoint": base_url,
                "wechat_appid": self.appid, "wechat_secret": self.app_secret, "webhook_secret": self.webhook_secret,
                "wechat_template_id": "alarm-template-1", "sms_template_code": "SMS_4700017",
                "wechat_mini_appid": self.mini_appid, "wechat_mini_secret": self.mini_secret}


CODE_TTL_S = 300          # a wx.login or phone button code is valid 5 minutes, once


@dataclass
class WeChatUser:
    """One person as the mini program sees them: their phone, openid (this app) and unionid (the open platform)."""

    phone: str
    openid: str = field(default_factory=lambda: "o" + secrets.token_urlsafe(20)[:27])
    unionid: str = field(default_factory=lambda: "o" + secrets.token_urlsafe(20)[:27])


@dataclass
class MiniCode:
    kind: str                 # login (wx.login) or phone (the getPhoneNumber button)
    user: WeChatUser
    expires: float            # time.monotonic
    used: bool = False


def _encode(text: str) -> str:
    return quote(text, safe="~")


def _signature(params: dict[str, str], secret: str) -> str:
    canonical = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(params.items()))
    to_sign = f"POST&{_encode('/')}&{_encode(canonical)}"
    return base64.b64encode(hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()).decode()


class MessagingSim:
    """The simulator's state and its ASGI app (``app``)."""

    def __init__(self, keys: MessagingKeys | None = None, token_ttl_s: int = 7200) -> None:
        self.keys = keys or MessagingKeys()
        self.faults = Faults()
        self.token_ttl_s = token_ttl_s
        self.tokens: dict[str, float] = {}                  # access_token → expires (time.monotonic)
        self.token_apps: dict[str, str] = {}                # access_token → the appid it was issued to
        self.mini_token_requests = 0
        self.wechat_users: dict[str, WeChatUser] = {}       # by phone
        self.mini_codes: dict[str, MiniCode] = {}
        self.mini: list[dict[str, Any]] = []                # answered jscode2session / getuserphonenumber calls
        self.mini_refused: list[dict[str, Any]] = []
        self.sms: list[dict[str, Any]] = []                 # accepted SendSms calls
        self.sms_refused: list[dict[str, Any]] = []         # refused ones, with the code
        self.wechat: list[dict[str, Any]] = []
        self.wechat_refused: list[dict[str, Any]] = []
        self.token_requests = 0
        self.webhook: list[dict[str, Any]] = []
        self.webhook_repeats = 0
        self.webhook_secrets: dict[str, str] = {}          # a receiver's own secret, by its name
        self.app = Starlette(routes=[
            Route("/", self._send_sms, methods=["POST"]),
            Route("/cgi-bin/token", self._token, methods=["GET"]),
            Route("/cgi-bin/message/template/send", self._template_send, methods=["POST"]),
            Route("/sns/jscode2session", self._jscode2session, methods=["GET"]),
            Route("/wxa/business/getuserphonenumber", self._phone_number, methods=["POST"]),
            Route("/webhook/{name}", self._webhook, methods=["POST"]),
            Route("/_sim/faults", self._set_faults, methods=["POST"]),
            Route("/_sim/wechat-users", self._wechat_user, methods=["POST"]),
            Route("/_sim/webhook-secrets", self._webhook_secret, methods=["POST"]),
            Route("/_sim/{what}", self._received, methods=["GET"]),
        ])

    async def close(self) -> None:
        return None

    # --- Aliyun SMS ---------------------------------------------------------------------------------

    async def _send_sms(self, request: Request) -> JSONResponse:
        form = {k: str(v) for k, v in (await request.form()).items()}
        request_id = str(uuid.uuid4()).upper()

        def refuse(code: str, message: str, status: int = 200) -> JSONResponse:
            self.sms_refused.append({"code": code, "PhoneNumbers": form.get("PhoneNumbers", ""),
                                     "OutId": form.get("OutId", "")})
            return JSONResponse({"Code": code, "Message": message, "RequestId": request_id}, status)

        if form.get("Action") != "SendSms" or form.get("Version") != "2017-05-25":
            return refuse("InvalidAction.NotFound", "Specified api is not found", 404)
        if form.get("AccessKeyId") != self.keys.access_key_id:
            return refuse("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)
        signature = form.pop("Signature", "")
        if not hmac.compare_digest(signature, _signature(form, self.keys.access_key_secret)):
            return refuse("SignatureDoesNotMatch", "Specified signature is not matched with our calculation.", 400)
        if self.faults.sms_timeout_next > 0:
            self.faults.sms_timeout_next -= 1
            await asyncio.sleep(self.faults.delay_s)       # the client has given up by now; nothing is sent
            return refuse("isp.SYSTEM_ERROR", "timeout", 500)
        if self.faults.sms_rate_limit_next > 0:
            self.faults.sms_rate_limit_next -= 1
            return refuse("isv.BUSINESS_LIMIT_CONTROL", "触发小时级流控Permits:5")
        if not MOBILE.match(form.get("PhoneNumbers", "")):
            return refuse("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        try:
            params = json.loads(form.get("TemplateParam", "{}"))
        except ValueError:
            return refuse("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
        if any(len(str(v)) > 35 for v in params.values()):
            return refuse("isv.PARAM_LENGTH_LIMIT", "参数超出长度限制")
        biz_id = f"{secrets.randbelow(10**15):015d}^0"
        self.sms.append({"PhoneNumbers": form["PhoneNumbers"], "SignName": form.get("SignName", ""),
                         "TemplateCode": form.get("TemplateCode", ""), "TemplateParam": params,
                         "OutId": form.get("OutId", ""), "BizId": biz_id})
        return JSONResponse({"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": request_id})

    # --- WeChat -------------------------------------------------------------------------------------

    async def _token(self, request: Request) -> JSONResponse:
        q = request.query_params
        self.token_requests += 1
        secrets_of = {self.keys.appid: self.keys.app_secret, self.keys.mini_appid: self.keys.mini_secret}
        appid = q.get("appid", "")
        if q.get("grant_type") != "client_credential" or appid not in secrets_of:
            return JSONResponse({"errcode": 40013, "errmsg": "invalid appid"})
        if q.get("secret") != secrets_of[appid]:
            return JSONResponse({"errcode": 40001,
                                 "errmsg": "invalid credential, access_token is invalid or not latest"})
        if appid == self.keys.mini_appid:
            self.mini_token_requests += 1
        token = secrets.token_urlsafe(48)
        self.tokens[token] = time.monotonic() + self.token_ttl_s
        self.token_apps[token] = appid
        return JSONResponse({"access_token": token, "expires_in": self.token_ttl_s})

    def _token_refused(self, token: str) -> tuple[int, str] | None:
        """Why WeChat refuses this access token (40001 unknown, 42001 expired), or None."""
        if self.faults.wechat_expire_tokens:
            self.faults.wechat_expire_tokens = False
            self.tokens = {t: 0.0 for t in self.tokens}
        if token not in self.tokens:
            return 40001, "invalid credential, access_token is invalid or not latest"
        if self.tokens[token] <= time.monotonic():
            return 42001, "access_token expired"
        return None

    async def _template_send(self, request: Request) -> JSONResponse:
        token = request.query_params.get("access_token", "")
        body: dict[str, Any] = await request.json()

        def refuse(code: int, message: str) -> JSONResponse:
            self.wechat_refused.append({"errcode": code, "touser": body.get("touser", "")})
            return JSONResponse({"errcode": code, "errmsg": message})

        token_refused = self._token_refused(token)
        if token_refused is not None:
            return refuse(*token_refused)
        if self.faults.wechat_rate_limit_next > 0:
            self.faults.wechat_rate_limit_next -= 1
            return refuse(45009, "reach max api daily quota limit")
        touser = str(body.get("touser", ""))
        if touser.startswith(UNFOLLOWED_PREFIX):
            return refuse(43004, "require subscribe")
        if not FOLLOWERS.match(touser):
            return refuse(40003, "invalid openid")
        if not body.get("template_id"):
            return refuse(40037, "invalid template_id")
        msgid = secrets.randbelow(10**12)
        self.wechat.append({**body, "msgid": msgid})
        return JSONResponse({"errcode": 0, "errmsg": "ok", "msgid": msgid})

    # --- WeChat mini program ------------------------------------------------------------------------

    def _code(self, code: str, kind: str) -> tuple[int, str] | MiniCode:
        """The code's user, or why WeChat refuses it (unknown or expired 40029, used 40163); a code works once."""
        if self.faults.wechat_expire_codes:
            self.faults.wechat_expire_codes = False
            for issued in self.mini_codes.values():
                issued.expires = 0.0
        found = self.mini_codes.get(code)
        if found is None or found.kind != kind or found.expires <= time.monotonic():
            return 40029, "invalid code"
        if found.used:
            return 40163, "code been used"
        found.used = True
        return found

    async def _mini_timeout(self) -> bool:
        if self.faults.wechat_mini_timeout_next <= 0:
            return False
        self.faults.wechat_mini_timeout_next -= 1
        await asyncio.sleep(self.faults.delay_s)        # the client has given up by now
        return True

    def _mini_refuse(self, api: str, code: int, message: str) -> JSONResponse:
        self.mini_refused.append({"api": api, "errcode": code})
        return JSONResponse({"errcode": code, "errmsg": message})

    async def _jscode2session(self, request: Request) -> JSONResponse:
        q, api = request.query_params, "jscode2session"
        if await self._mini_timeout():
            return self._mini_refuse(api, -1, "system error")
        if q.get("appid") != self.keys.mini_appid:
            return self._mini_refuse(api, 40013, "invalid appid")
        if q.get("secret") != self.keys.mini_secret:
            return self._mini_refuse(api, 40125, "invalid appsecret")
        if q.get("grant_type") != "authorization_code":
            return self._mini_refuse(api, 40002, "invalid grant_type")
        found = self._code(q.get("js_code", ""), "login")
        if isinstance(found, tuple):
            return self._mini_refuse(api, *found)
        self.mini.append({"api": api, "openid": found.user.openid})
        return JSONResponse({"openid": found.user.openid, "unionid": found.user.unionid,
                             "session_key": base64.b64encode(secrets.token_bytes(16)).decode()})

    async def _phone_number(self, request: Request) -> JSONResponse:
        api = "getuserphonenumber"
        body: dict[str, Any] = await request.json()
        if await self._mini_timeout():
            return self._mini_refuse(api, -1, "system error")
        token = request.query_params.get("access_token", "")
        token_refused = self._token_refused(token)
        if token_refused is not None:
            return self._mini_refuse(api, *token_refused)
        if self.token_apps.get(token) != self.keys.mini_appid:
            return self._mini_refuse(api, 48001, "api unauthorized")
        found = self._code(str(body.get("code", "")), "phone")
        if isinstance(found, tuple):
            return self._mini_refuse(api, 40029, "invalid code")    # WeChat answers a used phone code as invalid
        self.mini.append({"api": api, "openid": found.user.openid})
        return JSONResponse({"errcode": 0, "errmsg": "ok", "phone_info": {
            "phoneNumber": found.user.phone, "purePhoneNumber": found.user.phone, "countryCode": "86",
            "watermark": {"timestamp": int(time.time()), "appid": self.keys.mini_appid}}})

    # --- webhook receiver ---------------------------------------------------------------------------

    async def _webhook(self, request: Request) -> JSONResponse:
        raw = await request.body()
        timestamp = request.headers.get("x-forecourt-timestamp", "")
        secret = self.webhook_secrets.get(request.path_params["name"], self.keys.webhook_secret)
        expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("x-forecourt-signature", ""), expected):
            return JSONResponse({"error": "bad signature"}, 401)
        if self.faults.webhook_fail_next > 0:
            self.faults.webhook_fail_next -= 1
            return JSONResponse({"error": "busy"}, 503)
        delivery = request.headers.get("x-forecourt-delivery", "")
        if any(w["delivery"] == delivery for w in self.webhook):
            self.webhook_repeats += 1
        else:
            self.webhook.append({"name": request.path_params["name"], "delivery": delivery, "body": json.loads(raw)})
        return JSONResponse({"ok": True})

    # --- test control -------------------------------------------------------------------------------

    async def _set_faults(self, request: Request) -> JSONResponse:
        changes = await request.json()
        for key, value in changes.items():
            if not hasattr(self.faults, key):
                return JSONResponse({"error": f"unknown fault {key}"}, 400)
            setattr(self.faults, key, value)
        return JSONResponse(asdict(self.faults))

    async def _webhook_secret(self, request: Request) -> JSONResponse:
        """The receiver ``name`` verifies with ``secret`` from now on (a subscription's, shown once)."""
        body = await request.json()
        self.webhook_secrets[str(body["name"])] = str(body["secret"])
        return JSONResponse({"ok": True})

    async def _wechat_user(self, request: Request) -> JSONResponse:
        """A person opens the mini program: ``wx.login``'s code and the phone button's code, for their phone."""
        phone = str((await request.json()).get("phone", ""))
        if not MOBILE.match(phone):
            return JSONResponse({"error": "phone: an 11-digit mainland mobile"}, 400)
        user = self.wechat_users.setdefault(phone, WeChatUser(phone))
        codes = {}
        for kind in ("login", "phone"):
            codes[kind] = secrets.token_urlsafe(24)
            self.mini_codes[codes[kind]] = MiniCode(kind, user, time.monotonic() + CODE_TTL_S)
        return JSONResponse({"openid": user.openid, "unionid": user.unionid, "login_code": codes["login"],
                             "phone_code": codes["phone"]})

    async def _received(self, request: Request) -> JSONResponse:
        what = request.path_params["what"]
        if what == "sms":
            return JSONResponse({"received": self.sms, "refused": self.sms_refused})
        if what == "wechat":
            return JSONResponse({"received": self.wechat, "refused": self.wechat_refused,
                                 "token_requests": self.token_requests})
        if what == "wechat-mini":
            return JSONResponse({"received": self.mini, "refused": self.mini_refused,
                                 "token_requests": self.mini_token_requests})
        if what == "webhook":
            return JSONResponse({"received": self.webhook, "repeats": self.webhook_repeats})
        return JSONResponse({"error": "sms, wechat, wechat-mini or webhook"}, 404)
