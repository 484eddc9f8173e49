"""Wet-stock reconciliation (罐存比对): book against measured stock at 20 °C, deliveries, losses. docs/inventory.md.
Statistical leak detection over the daily results: ``leak`` (docs/leak-detection.md)."""
