"""CNG and LNG fills: recorded once each from the edge's ``gas_fill.completed`` events."""
