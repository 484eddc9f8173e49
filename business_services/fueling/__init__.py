"""Fuelling transactions: recorded once each from the edge's ``fueling.completed`` events."""
