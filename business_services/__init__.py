"""The business plane: one package per domain (orders, payments, shifts, prices …)."""
