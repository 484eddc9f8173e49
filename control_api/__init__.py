"""The control API: REST, WebSocket and web pages on top of the services. Nothing imports it."""
