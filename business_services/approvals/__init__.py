"""Approvals: a request that someone else must approve before it takes effect (price changes, refunds …)."""
