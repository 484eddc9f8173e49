"""The one double-entry ledger (head office): accounts, balanced entries, balances kept with them."""
