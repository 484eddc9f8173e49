"""The station server's IC-card calls to head office, over its ``HeadOfficeLink`` (the station's API key):
the grey list (``grey_list``, for ``Desk.grey_list``) and loads (``LoadAuthority``)."""

from __future__ import annotations

from typing import Any

from business_services.ic_cards.model import IcCardError, Psam
from business_services.online_payments.station_client import HeadOfficeDown, HeadOfficeLink


class HeadOfficeIc:
    def __init__(self, link: HeadOfficeLink, psam: Psam) -> None:
        self.link, self.psam = link, psam

    async def grey_list(self, card_no: str, counter: int) -> dict[str, Any] | None:
        status, data = await self.link.call("GET", f"/api/v1/ic-cards/{card_no}/grey/{counter}")
        if status == 404:
            return None
        if status != 200:
            raise IcCardError(str(data.get("detail") or f"总部答复 {status} (head office answered {status})"))
        return data

    async def _post(self, path: str, body: dict[str, Any] | None, key: str) -> dict[str, Any]:
        try:
            status, data = await self.link.call("POST", path, body, idempotency_key=key)
        except HeadOfficeDown as exc:
            raise IcCardError("总部连接中断，暂不能圈存 (head office is unreachable: no load now)", 503) from exc
        if status != 200:
            raise IcCardError(str(data.get("detail") or f"总部答复 {status} (head office answered {status})"),
                              status if status in (404, 409, 422) else 409)
        return data

    async def authorise(self, load_no: str, card_no: str, station: str, counter: int,
                        amount_fen: int) -> dict[str, Any]:
        return await self._post(f"/api/v1/ic-cards/{card_no}/loads", {
            "load_no": load_no, "station": station, "counter": counter, "amount_fen": amount_fen},
            f"ic-load:{load_no}")

    async def confirm(self, load_no: str, tac: str) -> dict[str, Any]:
        return await self._post(f"/api/v1/ic-cards/loads/{load_no}/confirm", {"tac": tac}, f"ic-load-confirm:{load_no}")

    async def reverse(self, load_no: str) -> dict[str, Any]:
        return await self._post(f"/api/v1/ic-cards/loads/{load_no}/reverse", None, f"ic-load-reverse:{load_no}")
