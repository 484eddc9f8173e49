"""Print the argon2 hash of a charger's key for the station file's ``password_hash``.

``python -m protocol_adapters.ocpp.hash_key`` asks for the key (not echoed) or reads it from
standard input, so that the key itself never lands in a shell history or a station file.
"""

from __future__ import annotations

import getpass
import sys

from protocol_adapters.ocpp.security import CredentialError, hash_key


def main() -> int:
    key = getpass.getpass("charger key: ") if sys.stdin.isatty() else sys.stdin.readline().strip()
    try:
        print(hash_key(key))
    except CredentialError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
