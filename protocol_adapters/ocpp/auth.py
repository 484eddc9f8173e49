"""The id-token list the central system authorises cards and app users against.

Head office will push the member and card lists; until then the list comes from the station file
or a JSON file. ``AuthorizationCache.replace`` swaps the whole list at once (a list with one bad
entry changes nothing) and, when the cache has a file, writes it there (atomically), so the edge
node keeps authorising with the last list it was given while head office is unreachable.

OCPP id tags are case-insensitive: ``rfid0001`` and ``RFID0001`` are the same card. A tag not on
the list is refused: ``Invalid`` in 1.6, ``Unknown`` in 2.0.1 (the answer each version defines).
The file is a JSON object ``{"RFID0001": "Accepted", "STOLEN01": "Blocked"}``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path

from protocol_adapters.ocpp.codec import OcppVersion


class TokenStatus(StrEnum):
    """What the list may say about a token (the values OCPP 1.6 and 2.0.1 share)."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"


#: the answer for a token that is not on the list
UNKNOWN_TOKEN: dict[OcppVersion, str] = {OcppVersion.V16: "Invalid", OcppVersion.V201: "Unknown"}


class AuthListError(ValueError):
    """An id-token list (or its file) that cannot be used; the message says which entry and why."""


def _validated(tokens: Mapping[str, TokenStatus | str], origin: str) -> dict[str, TokenStatus]:
    checked: dict[str, TokenStatus] = {}
    for tag, status in tokens.items():
        if not isinstance(tag, str) or not 1 <= len(tag) <= 36:
            raise AuthListError(f"{origin}: id tag {tag!r} must be 1 to 36 characters")
        try:
            checked[tag.casefold()] = TokenStatus(status)
        except ValueError:
            allowed = ", ".join(s.value for s in TokenStatus)
            raise AuthListError(f"{origin}: {tag!r}: status {status!r} is not one of {allowed}") from None
    return checked


class AuthorizationCache:
    """Token → status, replaced as a whole; optionally kept in a JSON file."""

    def __init__(self, tokens: Mapping[str, TokenStatus | str] | None = None, *, path: Path | None = None) -> None:
        self.path = path
        self._tokens = _validated(tokens or {}, "id_tags")

    @classmethod
    def load(cls, path: Path, fallback: Mapping[str, TokenStatus | str] | None = None) -> AuthorizationCache:
        """The list kept in ``path``; ``fallback`` (e.g. the station file's) when the file does not exist yet."""
        if not path.exists():
            return cls(fallback, path=path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise AuthListError(f"{path}: cannot read the id-token list: {exc}") from exc
        if not isinstance(raw, dict):
            raise AuthListError(f"{path}: expected a JSON object of id tag → status")
        return cls(_validated(raw, str(path)), path=path)

    def replace(self, tokens: Mapping[str, TokenStatus | str]) -> None:
        """Make ``tokens`` the whole list (and write it to the file, if any); all or nothing."""
        checked = _validated(tokens, "id-token list")
        if self.path is not None:
            temp = self.path.with_name(self.path.name + ".tmp")
            temp.write_text(json.dumps({t: s.value for t, s in sorted(checked.items())}, indent=1), encoding="utf-8")
            os.replace(temp, self.path)
        self._tokens = checked

    def status(self, id_tag: str) -> TokenStatus | None:
        """The list's word on ``id_tag``; None when it is not on the list."""
        return self._tokens.get(id_tag.casefold())

    def answer(self, id_tag: str, version: OcppVersion) -> str:
        """The authorisation status to send the charger for ``id_tag``."""
        status = self.status(id_tag)
        return UNKNOWN_TOKEN[version] if status is None else status.value

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, id_tag: object) -> bool:
        return isinstance(id_tag, str) and id_tag.casefold() in self._tokens
