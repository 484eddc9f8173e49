"""One change of a card, done the same way everywhere: lock its row, then audit the change and list the card as
it now is on the stations' member list (a closed card unlisted), in the caller's unit of work."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from business_services.audit.model import AuditEntry
from business_services.cards import repository, views
from business_services.cards.model import CardNotFound, Status, repayment
from business_services.ledger import repository as ledger
from business_services.ledger.model import card_overdraft_repaid_entry
from business_services.member_list import repository as member_list
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.members import ListedCard

PUBLIC = ("status", "frozen_for", "member_no", "main_card_no", "linked_card_no", "replaced_by", "plates", "grades",
          "stations", "daily_limit_fen", "litres_per_fill", "fills_per_day", "overdraft_fen")


def public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in PUBLIC}


async def locked(conn: psycopg.AsyncConnection, card_no: str) -> dict[str, Any]:
    row = await repository.card(conn, card_no, lock=True)
    if row is None:
        raise CardNotFound(card_no)
    return row


async def listed(uow: UnitOfWork, card_no: str) -> dict[str, Any]:
    """List the card as it now is (unlist a closed one); the row."""
    row = await repository.card(uow.conn, card_no)
    assert row is not None   # noqa: S101 (the caller holds its lock)
    if row["status"] == Status.CLOSED:
        await member_list.unlist(uow.conn, "card", card_no)
        return row
    balance = await views.balance(uow.conn, card_no)
    await member_list.record(uow.conn, ListedCard(
        card_no=card_no, kind=row["kind"], member_no=row["member_no"], main_card_no=row["main_card_no"],
        status=row["status"], offline_limit_fen=row["offline_limit_fen"], offline_daily_fen=row["offline_daily_fen"],
        plates=tuple(row["plates"]), grades=tuple(row["grades"]), daily_limit_fen=row["daily_limit_fen"],
        litres_per_fill=row["litres_per_fill"], fills_per_day=row["fills_per_day"], stations=tuple(row["stations"]),
        balance_fen=max(balance, 0)))
    return row


async def changed(uow: UnitOfWork, action: str, before: dict[str, Any], extra: dict[str, Any] | None = None) -> \
        dict[str, Any]:
    """Audit a change of a card and list it as it now is; the card's row after the change."""
    after = await listed(uow, before["card_no"])
    await uow.audit(AuditEntry(action, f"card:{before['card_no']}", before["station"], public(before),
                               public(after) | (extra or {})))
    return after


async def repay_overdraft(uow: UnitOfWork, row: dict[str, Any], reference: str, at: datetime) -> None:
    """What the card now holds repays what it owes for offline sales; paid off, an overdraft freeze ends."""
    if not row["overdraft_fen"]:
        return
    amount = repayment(await views.balance(uow.conn, row["card_no"]), row["overdraft_fen"])
    if amount:
        await ledger.post(uow.conn, card_overdraft_repaid_entry(f"{row['card_no']}:{reference}", row["card_no"],
                                                                 amount, at))
    left = row["overdraft_fen"] - amount
    changes: dict[str, Any] = {"overdraft_fen": left}
    if not left and row["frozen_for"] == "overdraft":
        changes |= {"status": Status.ACTIVE.value, "frozen_for": None}
    await repository.update_card(uow.conn, row["card_no"], **changes)
