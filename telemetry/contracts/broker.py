"""Where the MQTT broker is: parsed once from ``mqtt://user:pass@host:port`` and handed to every client."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit


def url_without_password(url: str) -> str:
    """``scheme://user:***@host:port/…``: a URL (MQTT or PostgreSQL) fit for a log line or an error message."""
    parts = urlsplit(url)
    if ":" not in parts.netloc.rpartition("@")[0]:
        return url
    user = parts.netloc.rpartition("@")[0].partition(":")[0]
    return parts._replace(netloc=f"{user}:***@{parts.netloc.rpartition('@')[2]}").geturl()


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: str | None = None
    mqtt5: bool = True   # MQTT v5 (shared subscriptions); the in-process broker speaks only 3.1.1

    @classmethod
    def from_url(cls, url: str, *, ca_file: str | None = None, mqtt5: bool = True) -> BrokerAddress:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError(f"expected mqtt://host:port or mqtts://host:port, got {url!r}")
        tls = parts.scheme in ("mqtts", "ssl")
        try:
            port = parts.port
        except ValueError:   # 'abc' or 99999: name the URL without its password
            raise ValueError(f"a port from 1 to 65535 in {url_without_password(url)}") from None
        if port == 0:
            raise ValueError(f"a port from 1 to 65535 in {url_without_password(url)}")
        return cls(host=parts.hostname or "127.0.0.1", port=port or (8883 if tls else 1883),
                   username=unquote(parts.username) if parts.username else None,
                   password=unquote(parts.password) if parts.password else None,
                   tls=tls, ca_file=ca_file, mqtt5=mqtt5)

    def url(self) -> str:
        """The broker's URL without user or password: safe to log."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``aiomqtt.Client``."""
        import aiomqtt  # local import keeps this module importable without the MQTT stack

        version = aiomqtt.ProtocolVersion.V5 if self.mqtt5 else aiomqtt.ProtocolVersion.V311
        kwargs: dict[str, Any] = {"hostname": self.host, "port": self.port, "username": self.username,
                                  "password": self.password, "protocol": version}
        if self.tls:
            kwargs["tls_context"] = ssl.create_default_context(cafile=self.ca_file)
        return kwargs
