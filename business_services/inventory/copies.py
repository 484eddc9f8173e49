"""Head office's side of wet stock: the copies of the station servers' reconciliations (``inventory.reconciled``),
kept in the same table, never computed here (docs/inventory.md "Where it runs"). On head office's bus only."""

from __future__ import annotations

from business_services.inventory.handlers import COPY_HANDLERS
from business_services.messagebus import Handler

EVENT_HANDLERS: dict[str, list[Handler]] = COPY_HANDLERS
COMMAND_HANDLERS: dict[type, Handler] = {}
