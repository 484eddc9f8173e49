"""Alipay open-platform gateway simulator (docs/simulators.md, "Payment providers")."""
