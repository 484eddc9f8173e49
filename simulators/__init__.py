"""Station device simulators: physics models stepped by a clock, each behind its real protocol."""
