"""Every list that can be exported to Excel: add a line here to give a list page its export."""

from __future__ import annotations

from business_services.audit import views as audit
from business_services.cards import views as cards
from business_services.exports.model import ExportKind
from business_services.orders import views as orders

KINDS = {k.name: k for k in (
    ExportKind("audit", "审计记录", "audit:read", audit.AuditFilter, audit.COLUMNS, audit.count, audit.rows),
    ExportKind("orders", "订单", "order:read", orders.OrderFilter, orders.COLUMNS, orders.count, orders.rows),
    ExportKind("cards", "储值卡", "card:read", cards.CardFilter, cards.COLUMNS, cards.count, cards.rows),
)}
