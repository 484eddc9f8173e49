"""Stored-value cards at head office: card types, cards, recharges with offers, card payments (docs/cards.md)."""
