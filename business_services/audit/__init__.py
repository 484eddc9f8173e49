"""The audit chain: who did what, when, from where, before and after; each record hashes the one before it."""
