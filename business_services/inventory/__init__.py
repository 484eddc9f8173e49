"""Wet stock: tank reconciliation (book vs measured at 20 °C) and statistical leak detection (``leak``)."""
