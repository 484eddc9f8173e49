"""车牌无感支付 by a fleet vehicle card (docs/vision.md "Drive-through payment", docs/fleets.md "Paying by plate").

A recognised plate that is no member's but a listed fleet vehicle card's attaches the card when ``refusal`` allows
(the enterprise let the card pay by its plate: ``ListedFleetCard.drive_through``; card and enterprise open). When
the fuelling's order is due, ``authorised`` asks the existing fleet path for an authorisation of exactly what the
order owes (``station_fleets.service.authorise``: head office decides while it answers, the station alone from its
list within the card's offline limits otherwise; no PIN, the card must allow that; every other limit holds), with
nothing sent to the pump (the fuelling is over). The order is then paid with 车队挂账 against that authorisation, as
the POS pays one. A refusal, or an authorisation for less than the order owes (released at once), goes to the
cashier with the reason.

Exactly once: the authorisation's number is kept on the attachment as soon as it is made, and a later round (after a
crash) pays against that one instead of asking again; the fleet provider captures one authorisation once.
"""

from __future__ import annotations

import psycopg

from business_services.drive_through import model, repository
from business_services.online_payments.station_client import HeadOfficeLink
from business_services.orders import views as orders
from business_services.station_fleets import repository as fleets
from business_services.station_fleets import service as fleet_service
from business_services.station_fleets.model import FleetRuleError
from telemetry.contracts.members import ListedFleetCard

NOT_ALLOWED = "车队车辆卡未开通车牌无感支付，请收银员收款 (the fleet card does not pay by its plate: the cashier " \
              "takes it)"
NOT_OPEN = "车队卡或其企业状态不可用，请收银员收款 (the fleet card or its enterprise is not open: the cashier takes it)"
SHORT = "车队卡可用额度或限额不足以支付本单，请收银员收款 (the fleet card may not pay all of it: the cashier takes it)"


class FleetPlateRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def refusal(card: ListedFleetCard | None) -> str | None:
    """Why the plate's fleet card does not attach (None: it does). The confidence was checked first."""
    if card is None:
        return model.NOT_A_MEMBER
    if not card.drive_through:
        return NOT_ALLOWED
    if card.status != "active" or card.enterprise_status != "normal":
        return NOT_OPEN
    return None


async def _fuelled(device: str, point: int, nozzle: int, preset_fen: int) -> str | None:
    """The fuelling is over: nothing is sent to the pump; the authorisation only decides and reserves."""
    return None


async def authorised(conn: psycopg.AsyncConnection, link: HeadOfficeLink | None, a: repository.Attachment,
                     owed_fen: int) -> str:
    """The number of an open authorisation of the card for ``owed_fen`` (made now, or the one made before a crash);
    raises ``FleetPlateRefused`` with the reason for the cashier. ``conn`` in autocommit."""
    known = await repository.fleet_auth_of(conn, a.recognition_id)
    if known is not None:
        found = await fleets.get(conn, known)
        if found is not None and found.state in ("reserved", "captured") and found.preset_fen >= owed_fen:
            return known
    order = await orders.detail(conn, a.station, a.order_no or "")
    if order is None or order["pump"] is None:
        raise FleetPlateRefused(model.NOT_YET)
    try:
        decided = await fleet_service.authorise(conn, link, _fuelled, fleet_service.FleetRequest(
            a.station, f"{order['pump']}/{order['fuelling_point']}/{order['nozzle']}", card_no=a.card_no,
            plate=a.plate, wanted_fen=owed_fen, drive_through=True))
    except FleetRuleError as refused:
        raise FleetPlateRefused(f"{refused.message}，请收银员收款"[:200]) from None
    if decided.state != "reserved":
        raise FleetPlateRefused(f"车队卡拒绝：{decided.reason} (the fleet card refused: the cashier takes it)"[:200])
    if decided.preset_fen < owed_fen:
        await fleet_service.release(conn, link, decided.auth_no)
        raise FleetPlateRefused(SHORT)
    await repository.fleet_authorised(conn, a.recognition_id, decided.auth_no)
    return decided.auth_no
