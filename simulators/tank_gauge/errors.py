"""Exceptions of the tank gauge package: one hierarchy for the simulator and the TLS codec.

The TLS codec errors (``TlsProtocolError`` and below) are what a client-side parser raises on a
bad frame; an edge adapter that reuses ``codec``/``reports`` catches ``TlsProtocolError`` and
turns it into one "device answered badly" outcome.
"""

from __future__ import annotations


class TankGaugeError(Exception):
    """Base class of every error raised by ``simulators.tank_gauge``."""


class UnknownTankError(TankGaugeError, KeyError):
    """A tank number that the console does not have."""


class TankStateError(TankGaugeError):
    """An operation that the tank cannot do in its present state (e.g. a leak test during a delivery)."""


class TlsProtocolError(TankGaugeError, ValueError):
    """A frame that does not follow the TLS serial protocol."""


class TruncatedFrameError(TlsProtocolError):
    """The frame has no SOH at the start or no ETX at the end (cut short on the line)."""


class MalformedFrameError(TlsProtocolError):
    """The frame is complete but its content does not follow the layout (bad length, non-hex …)."""


class ChecksumMismatchError(TlsProtocolError):
    """The 16-bit checksum after ``&&`` does not make the byte sum zero."""


class UnknownCommandError(TlsProtocolError):
    """The console answered ``SOH 9999FF1B ETX``: it did not understand the command."""
