"""Settings base for services: environment variables, validated once, failing fast with a fix-it message.

Why a wrapper around pydantic-settings: a raw ValidationError traceback at import time tells an operator
little. `load_settings` turns it into one line per problem naming the environment variable and how to set it.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SHADOW_KEY_LENGTH = 16
SHADOW_KEY_HINT = (
    "the HMAC key that authenticates shadowed dry-run writes from the façade; no default on purpose. "
    "Set the same value for the façade and the services, e.g. "
    "export STRANGLER_SHADOW_KEY=$(python -c 'import secrets; print(secrets.token_hex(32))')"
)


class SettingsError(RuntimeError):
    """Settings are missing or invalid; the message names each variable and the fix."""


class LegacyTime(BaseSettings):
    """LEGACY_TZ alone: the ACL's data-migration translators read it without the services' secrets."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    legacy_tz: str = Field("Europe/London", validation_alias=AliasChoices("LEGACY_TZ", "legacy_tz"),
                           description="IANA time zone of the legacy local timestamps, e.g. Europe/London")

    @field_validator("legacy_tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/London)") from exc
        return value


def legacy_tz() -> str:
    """The services' LEGACY_TZ setting (validated; SettingsError names a bad zone)."""
    return _legacy_tz(os.environ.get("LEGACY_TZ"))


@functools.lru_cache(maxsize=8)
def _legacy_tz(_value: str | None) -> str:
    """Keyed on the variable's text: validated once per value, not once per translated row."""
    return load_settings(LegacyTime).legacy_tz


class ServiceSettings(LegacyTime):
    """Settings every service needs. Subclasses add their own database URL and upstreams."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    shadow_key: SecretStr = Field(validation_alias=AliasChoices("STRANGLER_SHADOW_KEY", "shadow_key"),
                                  description=SHADOW_KEY_HINT)
    shadow_window_s: float = Field(30.0, validation_alias=AliasChoices("STRANGLER_SHADOW_WINDOW_S",
                                                                       "shadow_window_s"))
    var_dir: Path = Field(Path("var"), validation_alias=AliasChoices("STRANGLER_VAR_DIR", "var_dir"))
    legacy_base_url: str = Field("http://127.0.0.1:5000",
                                 validation_alias=AliasChoices("LEGACY_BASE_URL", "legacy_base_url"),
                                 description="base URL of the legacy monolith's JSON API (loopback only)")
    legacy_timeout_s: float = Field(3.0, validation_alias=AliasChoices("LEGACY_TIMEOUT_S", "legacy_timeout_s"))
    db_busy_timeout_ms: int = Field(
        5000, ge=1, le=60_000, validation_alias=AliasChoices("STRANGLER_DB_BUSY_TIMEOUT_MS", "db_busy_timeout_ms"),
        description="how long a SQLite write waits for the lock (ms) before a retry; "
                    "after the retries the answer is 503 DATABASE_BUSY")

    @field_validator("shadow_key")
    @classmethod
    def _key_long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < MIN_SHADOW_KEY_LENGTH:
            raise ValueError(f"must be at least {MIN_SHADOW_KEY_LENGTH} characters")
        return value


DEFAULT_ID_START = 10_000_000


class IdRangeSettings(BaseSettings):
    """A service's id range start alone (subclasses name its variable with `id_start_field`): the data
    migration reads it without the service's secrets."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    id_start: int = DEFAULT_ID_START


def id_start_field(env: str, description: str) -> Any:
    """The `id_start` field read from `env`: the first id the service hands out itself."""
    return Field(DEFAULT_ID_START, ge=1, le=2**31 - 1, validation_alias=AliasChoices(env, "id_start"),
                 description=description)


def describe_errors(cls: type[BaseSettings], exc: ValidationError) -> str:
    """One readable line per invalid or missing variable, with the field's hint."""
    lines = [f"{cls.__name__}: configuration problem(s):"]
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]) or "?"
        field = next((f for f in cls.model_fields.values()
                      if isinstance(f.validation_alias, AliasChoices) and name in f.validation_alias.choices),
                     None)
        hint = f" — {field.description}" if field is not None and field.description else ""
        if error["type"] == "missing":
            lines.append(f"  {name} is required but not set{hint}")
        else:
            lines.append(f"  {name} is invalid: {error['msg']}{hint}")
    return "\n".join(lines)


def load_settings[S: BaseSettings](cls: type[S], **overrides: Any) -> S:
    """Instantiate settings from env (+ overrides) or raise SettingsError with a readable message."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        raise SettingsError(describe_errors(cls, exc)) from None
