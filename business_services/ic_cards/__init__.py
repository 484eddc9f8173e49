"""IC cards (petrol cards with a chip purse): the station's readers, grey locks and IC payments, and head
office's purse mirror, grey list and loads. docs/ic-cards.md."""
