"""Head office's copy of the orders each station server owns."""
