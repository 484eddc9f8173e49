"""The mini program's (小程序) side of WeChat quick registration: head office exchanges the two codes the mini program
got from WeChat for who the person is.

- ``wx.login``'s code: ``GET /sns/jscode2session?appid=&secret=&js_code=&grant_type=authorization_code`` →
  ``{"openid", "session_key", "unionid"}`` (the session key is not kept: nothing here decrypts);
- the phone button's (getPhoneNumber) code: ``POST /wxa/business/getuserphonenumber?access_token=`` ``{"code"}`` →
  ``phone_info`` (the phone WeChat verified), with the mini program's access token
  (``business_services/wechat_token.py``: kept until it expires or WeChat says 40001/42001, then fetched again).

Each code works once and for 5 minutes. WeChat's refusals become ``model.wechat_refusal`` (the person authorises
again: 422/409; head office's keys are wrong or WeChat is busy: ``WeChatUnavailable``, 503), a timeout or no
connection ``WeChatUnavailable``. Settings ``FORECOURT_WECHAT_MINI_APPID``/``_SECRET`` and the shared
``FORECOURT_WECHAT_ENDPOINT`` (the messaging simulator in the demo and tests). Openids and phones never appear in a
log line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import niquests

from business_services.members.model import (
    MemberError,
    WeChatUnavailable,
    wechat_phone,
    wechat_refusal,
    wechat_token_refusal,
)
from business_services.wechat_token import AccessToken, TokenUnavailable


@dataclass(frozen=True, slots=True)
class MiniProgramConfig:
    """Where and as which mini program to ask WeChat (``forecourt/services.py::mini_program`` from the settings)."""

    appid: str
    secret: str
    endpoint: str = "https://api.weixin.qq.com"
    timeout_s: float = 5.0


@dataclass(frozen=True, slots=True)
class WeChatPerson:
    """Who the mini program's user is, as WeChat told: openid (this mini program), unionid (when bound to an open
    platform account), and the phone WeChat verified."""

    openid: str
    unionid: str | None
    phone: str


class MiniProgram:
    """One company's mini program: its access token is kept here between requests (one per API process)."""

    def __init__(self, config: MiniProgramConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._endpoint = config.endpoint.rstrip("/")
        self._token = AccessToken(config.endpoint, config.appid, config.secret, config.timeout_s, clock)

    async def identify(self, login_code: str, phone_code: str) -> WeChatPerson:
        """The person behind both codes (the login code first: a refused one leaves the phone code unused)."""
        try:
            async with niquests.AsyncSession() as http:
                openid, unionid = await self._session(http, login_code)
                return WeChatPerson(openid, unionid, await self._phone(http, phone_code))
        except TokenUnavailable as exc:
            raise wechat_token_refusal(exc.code, exc.errmsg) from exc
        except niquests.exceptions.Timeout as exc:
            raise WeChatUnavailable("连接微信超时，请稍后重试 (WeChat did not answer in time; retry)") from exc
        except niquests.exceptions.RequestException as exc:
            raise WeChatUnavailable("暂时无法连接微信，请稍后重试 (WeChat cannot be reached; retry)") from exc
        except ValueError as exc:
            if isinstance(exc, MemberError):
                raise
            raise WeChatUnavailable("微信的应答无法识别，请稍后重试 (WeChat's answer was not JSON; retry)") from exc

    async def _session(self, http: niquests.AsyncSession, login_code: str) -> tuple[str, str | None]:
        response = await http.get(f"{self._endpoint}/sns/jscode2session", timeout=self.config.timeout_s,
                                  params={"appid": self.config.appid, "secret": self.config.secret,
                                          "js_code": login_code, "grant_type": "authorization_code"})
        answer: dict[str, Any] = response.json() or {}
        if not answer.get("openid"):
            raise wechat_refusal(int(answer.get("errcode", -1)), str(answer.get("errmsg", ""))[:200], "login_code")
        unionid = answer.get("unionid")
        return str(answer["openid"]), str(unionid) if unionid else None

    async def _phone(self, http: niquests.AsyncSession, phone_code: str) -> str:
        async def ask(token: str) -> dict[str, Any]:
            response = await http.post(f"{self._endpoint}/wxa/business/getuserphonenumber", json={"code": phone_code},
                                       params={"access_token": token}, timeout=self.config.timeout_s)
            return response.json() or {}
        answer = await self._token.call(http, ask)
        code = int(answer.get("errcode", -1))
        info = answer.get("phone_info") or {}
        if code != 0 or not info:
            raise wechat_refusal(code, str(answer.get("errmsg", ""))[:200], "phone_code")
        if (info.get("watermark") or {}).get("appid") != self.config.appid:
            raise WeChatUnavailable("微信返回的手机号不属于本小程序，请重新授权 (the phone_info's watermark names "
                                    "another app)")
        return wechat_phone(str(info.get("countryCode", "")), str(info.get("purePhoneNumber", "")))
