"""Everything that crosses a process boundary: MQTT topics, Sparkplug payloads, events, units."""
