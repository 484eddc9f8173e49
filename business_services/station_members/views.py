"""Reads of the station's member list, for the POS (offline lookups) and other contexts (receipts)."""

from __future__ import annotations

from typing import Any

import psycopg

from business_services.station_members import repository
from business_services.station_members.model import CardSummary, LookupBy, MemberSummary, from_list, mask_card, yuan
from telemetry.contracts.members import ListedCard, phone_digest


async def lookup(conn: psycopg.AsyncConnection, by: LookupBy, key: str, group: str) -> MemberSummary | None:
    """The member ``key`` finds in the list (offline), or None. A card finds its member; a card of nobody
    (anonymous) is answered as a member-less summary holding only the card."""
    blocked = await repository.blocked(conn, key) if by is LookupBy.PLATE else None
    if by is LookupBy.CARD_NO:
        card = await repository.card(conn, key)
        if card is None:
            return None
        if card.member_no is None:
            return _anonymous(card)
        found = await repository.members_where(conn, repository.BY_MEMBER_NO, card.member_no)
    elif by is LookupBy.PHONE:
        found = await repository.members_where(conn, repository.BY_PHONE_DIGEST, phone_digest(key, group))
    elif by is LookupBy.QR:
        found = await repository.members_where(conn, repository.BY_QR, key)
    else:
        found = await repository.members_where(conn, repository.BY_PLATE, key)
    if not found:
        return None if blocked is None else MemberSummary("", "", "", "", "", 0, None, offline=True,
                                                          blocked_plate=blocked)
    member = found[0]
    return from_list(member, await repository.cards_of(conn, member.member_no), blocked)


def _anonymous(card: ListedCard) -> MemberSummary:
    return MemberSummary("", "", "", "", "", 0, None,
                         (CardSummary(card.card_no, card.kind, card.status, card.balance_fen, card.offline_limit_fen),),
                         card.plates, offline=True)


async def held(conn: psycopg.AsyncConnection, station: str) -> dict[str, Any]:
    """How far the station holds the list and when it last pulled (for the POS and /healthz-like checks)."""
    cur = await conn.execute(
        """SELECT held_seq, pulled_at, (SELECT count(*) FROM business.station_member_list
                                        WHERE kind = 'member' AND item IS NOT NULL)
           FROM business.station_member_list_held WHERE station = %s""", (station,))
    row = await cur.fetchone()
    return {"held_seq": int(row[0]) if row else 0, "pulled_at": row[1] if row else None,
            "members": int(row[2]) if row else 0}


async def receipt_note(conn: psycopg.AsyncConnection, order_no: str) -> dict[str, Any] | None:
    """The member of a paid order and its card payments' balances, for the receipt; None: neither noted (the POS
    notes the member when it shows the receipt) nor paid by card (a drive-through order paid without the POS)."""
    cur = await conn.execute(
        "SELECT member_no, points_quoted, points_balance FROM business.station_member_receipts WHERE order_no = %s",
        (order_no,))
    row = await cur.fetchone()
    cur = await conn.execute(
        """SELECT c.card_no, c.balance_fen, c.offline FROM business.station_card_payments c
           JOIN business.payment_allocations a USING (payment_no)
           WHERE a.order_no = %s AND c.state = 'taken' ORDER BY c.at DESC LIMIT 1""", (order_no,))
    card = await cur.fetchone()
    if row is None and card is None:
        return None
    row = row or (None, None, None)
    return {"member_no": row[0], "points_quoted": row[1], "points_balance": row[2],
            "card_no": card[0] if card else None, "balance_fen": card[1] if card else None,
            "offline": bool(card[2]) if card else False}


async def receipt_lines(conn: psycopg.AsyncConnection, order_no: str, member_no: str | None) -> list[tuple[str, str]]:
    """The member's lines of a printed receipt: member, card and its balance after payment, points earned (or
    that head office decides them) and the points balance; none for an order sold to no member."""
    note = await receipt_note(conn, order_no)
    member = (note or {}).get("member_no") or member_no
    if not member:
        return []
    lines = [("会员", str(member))]
    if note and note.get("card_no"):
        lines.append(("储值卡", mask_card(str(note["card_no"]))))
        if note.get("balance_fen") is not None:
            about = "约 " if note.get("offline") else ""
            lines.append(("卡余额", f"{about}{yuan(int(note['balance_fen']))} 元"))
    quoted = (note or {}).get("points_quoted")
    lines.append(("本单积分", f"+{quoted}" if quoted is not None else "积分以总部入账为准"))
    if note and note.get("points_balance") is not None:
        lines.append(("积分余额", str(note["points_balance"])))
    return lines


async def names(conn: psycopg.AsyncConnection, member_nos: list[str]) -> dict[str, str]:
    """Listed members' masked names (张*) by member number (a member no longer listed is left out)."""
    cur = await conn.execute(
        """SELECT key, item->>'name_masked' FROM business.station_member_list
           WHERE kind = 'member' AND item IS NOT NULL AND key = ANY(%s)""", (member_nos,))
    return {str(key): str(name) for key, name in await cur.fetchall()}
