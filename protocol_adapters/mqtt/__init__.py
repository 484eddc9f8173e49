"""MQTT: the client helpers every service uses (``client.py``)."""
