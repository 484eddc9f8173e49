"""Modbus TCP and RTU: declarative point maps, a pure register codec and one async client."""
