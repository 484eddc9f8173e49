"""Start-up failures that explain themselves: which setting, flag or file, and what to do.

Each check raises ``InfrastructureError`` with one line that the CLI prints without a traceback.
Passwords never appear: URLs are shown through ``url_without_password``.
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path

from forecourt.local import InfrastructureError
from telemetry.contracts.broker import url_without_password


def database_failure(url: str, exc: Exception) -> InfrastructureError:
    """The database at ``url`` refused us or is not there: say so, naming FORECOURT_DATABASE_URL."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    reason = reason.removeprefix("connection failed: ").split(" failed: ")[-1].removeprefix("FATAL:").strip()
    password = _password(url)
    if password:
        reason = reason.replace(password, "***")
    return InfrastructureError(
        f"数据库连接失败 (cannot use the database) {url_without_password(url)}: {reason}; "
        "check FORECOURT_DATABASE_URL (host, port, user, database), or unset it for the embedded PostgreSQL")


def _password(url: str) -> str:
    userinfo = url.partition("://")[2].rpartition("@")[0]
    return userinfo.partition(":")[2]


def check_port_free(host: str, port: int, set_by: str) -> None:
    """Raise if something already listens on ``host:port``; ``set_by`` names the flag or setting to change."""
    if port == 0:
        return
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as asyncio's servers do
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise port_failure(host, port, set_by, exc) from None


def port_failure(host: str, port: int, set_by: str, exc: OSError) -> InfrastructureError:
    if exc.errno == errno.EADDRINUSE:
        what = "已被占用 (is in use); stop what uses it or choose another port with"
    else:
        what = f"无法监听 (cannot listen: {exc.strerror}); choose another address or port with"
    return InfrastructureError(f"端口 {host}:{port} {what} {set_by}")


def check_data_dir(path: Path) -> None:
    """Raise unless ``path`` (FORECOURT_DATA_DIR) is a folder we can create and write in."""
    probe = path / ".forecourt-write-check"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise InfrastructureError(
            f"数据目录不可写 (data directory not writable) {path}: {exc.strerror}; "
            "set FORECOURT_DATA_DIR to a folder you can write in") from None
