"""Every list that can be exported to Excel: add a line here to give a list page its export."""

from __future__ import annotations

from business_services.audit import views as audit
from business_services.cards import views as cards
from business_services.exports.model import ExportKind
from business_services.fleets import card_views as fleet_cards
from business_services.fleets import statements as fleet_statements
from business_services.fleets import views as fleets
from business_services.ledger import views as ledger
from business_services.members import views as members
from business_services.orders import views as orders
from business_services.points import views as points

KINDS = {k.name: k for k in (
    ExportKind("audit", "审计记录", "audit:read", audit.AuditFilter, audit.COLUMNS, audit.count, audit.rows),
    ExportKind("orders", "订单", "order:read", orders.OrderFilter, orders.COLUMNS, orders.count, orders.rows),
    ExportKind("cards", "储值卡", "card:read", cards.CardFilter, cards.COLUMNS, cards.count, cards.rows),
    ExportKind("ledger_statement", "资金账户流水", "ledger:read", ledger.StatementFilter, ledger.STATEMENT_COLUMNS,
               ledger.statement_count, ledger.statement_rows),
    ExportKind("members", "会员", "member:read", members.MemberFilter, members.COLUMNS, members.count, members.rows),
    ExportKind("points_redemptions", "积分兑换记录", "member:read", points.RedemptionFilter, points.REDEMPTION_COLUMNS,
               points.redemptions_count, points.redemption_rows),
    ExportKind("fleet_statements", "车队对账单", "fleet:read", fleet_statements.StatementFilter,
               fleet_statements.COLUMNS, fleet_statements.count, fleet_statements.rows),
    ExportKind("fleet_cards", "车队卡", "fleet:read", fleet_cards.CardFilter, fleet_cards.COLUMNS, fleet_cards.count,
               fleet_cards.rows),
    ExportKind("fleet_enterprises", "车队企业", "fleet:read", fleets.EnterpriseFilter, fleets.COLUMNS, fleets.count,
               fleets.rows),
)}
