"""The station edge node: polls devices through protocol adapters and publishes Sparkplug B."""
