"""Forecourt's composition root: the CLI, settings, and the embedded PostgreSQL and broker.

Nothing imports this package; it imports the others and hands each service what it needs.
"""
