"""Points at head office: earning rules, the points ledger with lots for expiry, refunds, the points mall,
transfers and 积分归属 (docs/points.md)."""
