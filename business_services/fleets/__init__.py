"""Fleet accounts at head office: enterprises, their money and credit, vehicles and cards with limits checked
before the pump starts, statements, the bank link and the open API for fleets (docs/fleets.md)."""
