"""Settings from ``FORECOURT_*`` environment variables (and an optional env file), validated at start.

A wrong value stops the program with the variable's name and what was expected:
``FORECOURT_API_PORT: expected an integer from 1 to 65535, got 'abc'``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "FORECOURT_"
Port = Annotated[int, Field(ge=1, le=65535)]


class SettingsError(ValueError):
    """A setting is wrong; the message names the variable and what was expected."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    database_url: str | None = Field(None, description="PostgreSQL URL; unset = embedded PostgreSQL in data_dir")
    mqtt_url: str | None = Field(None, description="mqtt://[user:pass@]host:port; unset = a broker started for you")
    mqtt_ca_file: Path | None = Field(None, description="CA bundle for mqtts:// brokers")
    mqtt_v5: bool = Field(True, description="speak MQTT v5 (needed for shared subscriptions)")
    data_dir: Path = Field(Path(".forecourt"), description="where the embedded PostgreSQL and broker keep data")
    group: str = Field("demo-co", pattern=r"^[A-Za-z0-9_.-]+$", description="Sparkplug group: operating company")
    primary_host_id: str | None = Field("forecourt", description="Sparkplug primary host: ingest says STATE, "
                                        "edge nodes wait for it before births; empty = do not wait")
    edge_outbox_max_mb: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        256, description="store-and-forward queue limit; over it the oldest telemetry is dropped (never events)")
    ingest_group: str = Field("+", description="Sparkplug group(s) ingest subscribes to; + = every company")
    ingest_worker_id: str = Field("1", pattern=r"^[A-Za-z0-9_-]+$",
                                  description="stable id of this ingest worker (its persistent MQTT session)")
    ingest_share_group: str | None = Field("ingest", description="MQTT v5 shared-subscription group for ingest")
    business_group: str = Field("+", pattern=r"^(\+|[A-Za-z0-9][A-Za-z0-9_.-]{0,63})$",
                                description="the group whose events the business consumer records; + = every company")
    business_stall_after_s: Annotated[float, Field(ge=1, le=86_400)] = Field(
        30.0, description="/healthz of `forecourt business` turns 503 when an event has waited this long")
    broker_drop_watch: bool = Field(True, description="ingest and business warn when the broker's $SYS "
                                    "dropped-message count rises (Mosquitto)")
    api_host: str = "127.0.0.1"
    api_port: Port = 8000
    edge_metrics_port: Port = 9101
    ingest_metrics_port: Port = 9102
    business_metrics_port: Port = 9103
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("postgresql://", "postgres://")):
            raise ValueError("a URL like postgresql://user@host:5432/dbname")
        return v

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("mqtt://", "mqtts://")):
            raise ValueError("a URL like mqtt://host:1883 or mqtts://host:8883")
        return v


_EXPECTED = {
    "int_parsing": "an integer", "bool_parsing": "true or false", "literal_error": "one of the listed values",
    "greater_than_equal": "a larger number", "less_than_equal": "a smaller number",
    "string_pattern_mismatch": "letters, digits, '.', '_' or '-' only",
}


def _explain(err: dict[str, object]) -> str:
    loc = err.get("loc") or ("?",)
    name = ENV_PREFIX + str(loc[0]).upper()  # type: ignore[index]
    kind = str(err.get("type"))
    if kind == "extra_forbidden":
        return f"{name}: not a setting Forecourt knows (check the spelling; see `forecourt --help`)"
    expected = _EXPECTED.get(kind) or str(err.get("msg", "")).removeprefix("Value error, ")
    ctx = err.get("ctx")
    if isinstance(ctx, dict) and "expected" in ctx:
        expected = f"one of {ctx['expected']}"
    return f"{name}: expected {expected}, got {err.get('input')!r}"


def load_settings(env_file: Path | None = None) -> Settings:
    """Read and validate settings; raises ``SettingsError`` naming every wrong variable."""
    if env_file is not None and not env_file.is_file():
        raise SettingsError(f"settings file {env_file} does not exist")
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    unknown = sorted(k for k in os.environ if k.startswith(ENV_PREFIX) and k not in known
                     and not k.startswith(ENV_PREFIX + "TEST_"))
    if unknown:
        raise SettingsError("; ".join(f"{k}: not a setting Forecourt knows (check the spelling; "
                                      "see `forecourt --help`)" for k in unknown))
    try:
        return Settings(_env_file=env_file)  # type: ignore[call-arg]
    except ValidationError as exc:
        raise SettingsError("; ".join(_explain(dict(e)) for e in exc.errors())) from exc
