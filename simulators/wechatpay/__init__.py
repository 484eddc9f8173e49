"""WeChat Pay APIv3 simulator (docs/simulators.md, "Payment providers")."""
