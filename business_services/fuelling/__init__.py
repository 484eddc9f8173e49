"""Fuelling transactions: recorded once each from the edge's ``fuelling.completed`` events."""
