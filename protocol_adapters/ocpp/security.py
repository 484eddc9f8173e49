"""Charger authentication at the websocket handshake: OCPP security profiles 0, 1 and 2 (pure, no I/O).

OCPP 1.6 Security Whitepaper / OCPP 2.0.1 Part 2 A00:

- **profile 0**: no authentication; the charge point id in the URL is all (trusted networks only);
- **profile 1**: HTTP Basic authentication over ``ws://``: user = the charge point id, password = that
  charger's *AuthorizationKey* (1.6) / *BasicAuthPassword* (2.0.1), 16 to 40 characters;
- **profile 2**: the same over TLS (``wss://``), the central system showing a server certificate.

``ChargerCredentials`` holds one password check per charge point: an argon2 hash (the station file
keeps only the hash) or a key read from a file at start (kept in memory, compared in constant time).
``ChargerCredentials.check`` gives the reason a handshake is refused, or None when it is let in; the
server answers a refusal with HTTP 401 and never logs the password.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

#: OCPP 2.0.1 BasicAuthPassword / 1.6 AuthorizationKey length, characters
KEY_MIN, KEY_MAX = 16, 40
_HASHER = PasswordHasher()


class SecurityProfile(IntEnum):
    NONE = 0
    BASIC_AUTH = 1
    TLS_BASIC_AUTH = 2


class CredentialError(ValueError):
    """A charger credential that cannot be used (a bad hash, a key of the wrong length)."""


def hash_key(key: str) -> str:
    """The argon2 hash of an AuthorizationKey, for the station file's ``password_hash``."""
    check_key(key)
    return _HASHER.hash(key)


def check_key(key: str) -> str:
    """``key`` when it is a usable AuthorizationKey (16 to 40 printable ASCII characters)."""
    if not KEY_MIN <= len(key) <= KEY_MAX or not all(33 <= ord(c) <= 126 for c in key):
        raise CredentialError(f"an authorization key must be {KEY_MIN} to {KEY_MAX} printable ASCII characters")
    return key


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(user, password) of an ``Authorization: Basic …`` header; None when absent or not readable."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not token:
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


def basic_header(user: str, password: str) -> str:
    """The ``Authorization`` header value a charger sends (the simulator's side of ``basic_credentials``)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


@dataclass(frozen=True, slots=True)
class KeyCheck:
    """How one charger's password is checked: an argon2 ``key_hash`` or a plain ``key`` read at start."""

    key_hash: str | None = None
    key: str | None = None

    def __post_init__(self) -> None:
        if (self.key_hash is None) == (self.key is None):
            raise CredentialError("give exactly one of a key hash and a key")
        if self.key is not None:
            check_key(self.key)
        if self.key_hash is not None and not self.key_hash.startswith("$argon2"):
            raise CredentialError("the key hash must be an argon2 hash ($argon2id$…)")

    def matches(self, password: str) -> bool:
        """Whether ``password`` is this charger's key (argon2 takes 0.1–0.3 s: call it off the event loop)."""
        if self.key is not None:
            return hmac.compare_digest(password.encode(), self.key.encode())
        try:
            return _HASHER.verify(self.key_hash or "", password)
        except (VerificationError, InvalidHashError):
            return False


class ChargerCredentials:
    """Charge point id → its key check, and the profile the central system enforces."""

    def __init__(self, profile: SecurityProfile, keys: Mapping[str, KeyCheck]) -> None:
        self.profile = profile
        self.keys = dict(keys)

    @property
    def required(self) -> bool:
        return self.profile >= SecurityProfile.BASIC_AUTH

    def check(self, charge_point: str, authorization: str | None) -> str | None:
        """Why a handshake of ``charge_point`` with that ``Authorization`` header is refused; None: let in."""
        if not self.required:
            return None
        key = self.keys.get(charge_point)
        if key is None:
            return "unknown charge point"
        credentials = basic_credentials(authorization)
        if credentials is None:
            return "no basic credentials"
        user, password = credentials
        if user != charge_point:
            return "user is not the charge point id"
        if not key.matches(password):
            return "wrong password"
        return None
