"""The station server's prices: the set its edge node holds and each nozzle's state (docs/station-prices.md)."""
