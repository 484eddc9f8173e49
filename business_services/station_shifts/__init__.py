"""Head office's copies of each station's shifts, what it received for each, and their reconciliation."""
