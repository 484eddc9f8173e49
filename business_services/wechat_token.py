"""WeChat's server-side access token, one per app: ``GET /cgi-bin/token?grant_type=client_credential&appid=&secret=``
→ ``{"access_token", "expires_in"}``. The Official Account that sends alarm template messages
(``notifications/channels.py``) and the mini program that reads a member's phone number (``members/wechat.py``)
each keep one ``AccessToken``: fetched once, kept until shortly before ``expires_in`` or until WeChat calls it
invalid (40001, 40014, 42001), then fetched again, once per refusal (``AccessToken.call``). Concurrent callers
share one fetch. Transport errors (timeouts, refused connections) are the caller's to turn into its own error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import niquests

log = logging.getLogger(__name__)

TOKEN_INVALID = frozenset({40001, 40014, 42001})   # invalid credential, invalid token, token expired
TOKEN_MARGIN_S = 300                                 # fetch a new token this long before it expires


class TokenUnavailable(Exception):
    """``/cgi-bin/token`` gave no token: ``code`` WeChat's errcode (-1: no usable answer), ``errmsg`` its text."""

    def __init__(self, code: int, errmsg: str) -> None:
        super().__init__(f"token {code}: {errmsg}")
        self.code, self.errmsg = code, errmsg


class AccessToken:
    """One app's access token (``appid``, ``secret``) at ``endpoint``, kept on ``clock`` (monotonic seconds)."""

    def __init__(self, endpoint: str, appid: str, secret: str, timeout_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.endpoint, self.appid, self._secret, self.timeout_s = endpoint.rstrip("/"), appid, secret, timeout_s
        self._clock = clock
        self._token: tuple[str, float] | None = None      # (access_token, valid until, on our clock)
        self._fetching = asyncio.Lock()

    async def get(self, http: niquests.AsyncSession, *, refused: str | None = None) -> str:
        """The token to use; a new one when none is kept, it is about to expire, or it is ``refused`` (the one WeChat
        just called invalid: a token another caller fetched meanwhile is used instead of fetching again)."""
        async with self._fetching:
            if self._token and self._token[0] != refused and self._clock() < self._token[1]:
                return self._token[0]
            response = await http.get(f"{self.endpoint}/cgi-bin/token", timeout=self.timeout_s,
                                      params={"grant_type": "client_credential", "appid": self.appid,
                                              "secret": self._secret})
            try:
                body: dict[str, Any] = response.json() or {}
            except ValueError:
                body = {}
            if "access_token" not in body:
                raise TokenUnavailable(int(body.get("errcode", -1)), str(body.get("errmsg", ""))[:200])
            self._token = (str(body["access_token"]),
                           self._clock() + int(body.get("expires_in", 7200)) - TOKEN_MARGIN_S)
            return self._token[0]

    async def call(self, http: niquests.AsyncSession,
                   request: Callable[[str], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
        """WeChat's answer to ``request(access_token)``; when it refuses the token (40001/40014/42001) a new one is
        fetched and the request sent again, once (a second refusal is the answer)."""
        token = await self.get(http)
        answer = await request(token)
        code = int(answer.get("errcode", 0) or 0)
        if code not in TOKEN_INVALID:
            return answer
        log.info("wechat access_token of %s refused (%d); fetching a new one", self.appid, code)
        return await request(await self.get(http, refused=token))
