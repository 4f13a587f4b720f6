"""The one object that reads settings from the environment."""

from __future__ import annotations

import builtins
import os
from collections.abc import Mapping

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ImproperlyConfiguredEnv(Exception):
    """A required environment variable is missing or malformed."""


class Env:
    def __init__(self, source: Mapping[builtins.str, builtins.str] | None = None) -> None:
        self._source = os.environ if source is None else source

    def str(self, name: builtins.str, default: builtins.str | None = None) -> builtins.str:
        value = self._source.get(name)
        if value is None or value == "":
            if default is None:
                raise ImproperlyConfiguredEnv(f"Set the environment variable {name}.")
            return default
        return value

    def optional(self, name: builtins.str) -> builtins.str | None:
        value = self._source.get(name)
        return value or None

    def bool(self, name: builtins.str, default: builtins.bool = False) -> builtins.bool:
        value = self._source.get(name)
        if value is None:
            return default
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ImproperlyConfiguredEnv(f"{name} must be a boolean (1/0, true/false), got {value!r}.")

    def int(self, name: builtins.str, default: builtins.int) -> builtins.int:
        value = self._source.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError as exc:
            raise ImproperlyConfiguredEnv(f"{name} must be an integer, got {value!r}.") from exc

    def float(self, name: builtins.str, default: builtins.float) -> builtins.float:
        value = self._source.get(name)
        if value is None or value == "":
            return default
        try:
            return float(value)
        except ValueError as exc:
            raise ImproperlyConfiguredEnv(f"{name} must be a number, got {value!r}.") from exc

    def list(
        self, name: builtins.str, default: builtins.list[builtins.str] | None = None
    ) -> builtins.list[builtins.str]:
        value = self._source.get(name)
        if value is None or value == "":
            return list(default or [])
        return [item.strip() for item in value.split(",") if item.strip()]


env = Env()
