"""A card reader simulator: readers speaking a framed PC/SC-style protocol over TCP to petrol IC cards
(PBOC-style purses with the grey lock). docs/protocols/card-reader.md."""
