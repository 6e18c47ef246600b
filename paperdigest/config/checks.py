"""Validation helpers for the config loader: a TOML table that refuses unknown keys and
type-checks what it hands out, and the checks of single values (addresses, cron, paths).

Every problem is a :class:`ConfigError` with one line naming the table and key.
"""

from __future__ import annotations

import os
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from paperdigest.errors import ConfigError

# --------------------------------------------------------------------------- helpers


class Table:
    """A TOML table being validated: typed getters, and a check that no key is left unread."""

    def __init__(self, where: str, data: Any) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: must be a table, not {type_name(data)}")
        self.where = where
        self.data = data
        self.seen: set[str] = set()

    def _get(self, key: str, required: bool) -> Any:
        self.seen.add(key)
        if key not in self.data:
            if required:
                raise ConfigError(f'{self.where}: missing key "{key}"')
            return None
        return self.data[key]

    def err(self, key: str, why: str) -> ConfigError:
        return ConfigError(f'{self.where}: key "{key}" {why}')

    def text(self, key: str, default: str | None = None, required: bool = False) -> str | None:
        v = self._get(key, required)
        if v is None:
            return default
        if not isinstance(v, str):
            raise self.err(key, f"must be a string, not {type_name(v)}")
        return v

    def flag(self, key: str, default: bool) -> bool:
        v = self._get(key, False)
        if v is None:
            return default
        if not isinstance(v, bool):
            raise self.err(key, f"must be true or false, not {type_name(v)}")
        return v

    def number(self, key: str, default: float, minimum: float | None = None, positive: bool = False) -> float:
        v = self._get(key, False)
        if v is None:
            return default
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise self.err(key, f"must be a number, not {type_name(v)}")
        if v != v or v in (float("inf"), float("-inf")):
            raise self.err(key, "must be a finite number")
        if positive and v <= 0:
            raise self.err(key, f"must be positive, not {v}")
        if minimum is not None and v < minimum:
            raise self.err(key, f"must be at least {minimum}, not {v}")
        return float(v)

    def integer(self, key: str, default: int, minimum: int = 0) -> int:
        v = self._get(key, False)
        if v is None:
            return default
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.err(key, f"must be an integer, not {type_name(v)}")
        if v < minimum:
            raise self.err(key, f"must be at least {minimum}, not {v}")
        return v

    def str_list(self, key: str) -> list[str]:
        v = self._get(key, False)
        if v is None:
            return []
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise self.err(key, "must be a list of strings")
        return list(v)

    def table(self, key: str) -> dict[str, Any] | None:
        v = self._get(key, False)
        if v is None:
            return None
        if not isinstance(v, dict):
            raise self.err(key, f"must be a table, not {type_name(v)}")
        return v

    def allow(self, *keys: str) -> Table:
        """Refuse unknown keys first: a typo ("keywrds") is reported as itself, not as a missing key."""
        for key in self.data:
            if key not in keys:
                raise ConfigError(f'{self.where}: unknown key "{key}"')
        return self

    def done(self) -> None:
        for key in self.data:
            if key not in self.seen:
                raise ConfigError(f'{self.where}: unknown key "{key}"')


def type_name(v: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(v), type(v).__name__)


def resolve_path(base: Path, value: str) -> Path:
    p = Path(os.path.expanduser(value))
    return Path(os.path.normpath(p if p.is_absolute() else (base / p)))


def check_address(where: str, key: str, value: str) -> str:
    name, addr = parseaddr(value)
    bad = ConfigError(f'{where}: key "{key}" is not a valid email address: "{value}"')
    if not addr or "@" not in addr or any(c in value for c in "\r\n"):
        raise bad
    try:
        Address(addr_spec=addr)
    except (HeaderParseError, ValueError, IndexError):
        raise bad from None
    local, _, domain = addr.rpartition("@")
    if not local or not domain or "." not in domain.strip(".") or " " in addr:
        raise bad
    return value


def absolute_store_url(base: Path, url: str) -> str:
    """Make a relative SQLite path absolute against the config's folder."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        rest = url[len("sqlite:///"):]
        if rest and rest != ":memory:":
            return "sqlite:///" + str(resolve_path(base, rest))
    return url


def validate_cron(expr: str) -> None:
    """A standard five-field cron expression (numbers, names, ranges, lists, steps)."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"needs 5 fields, has {len(fields)}")
    limits = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
    names = [{}, {}, {},
             {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())},
             {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())}]
    for f, (lo, hi), nm in zip(fields, limits, names):
        for part in f.split(","):
            rng, _, step = part.partition("/")
            if step and (not step.isdigit() or int(step) == 0):
                raise ValueError(f'bad step in "{f}"')
            if rng == "*":
                continue
            for bound in rng.split("-", 1):
                val = nm.get(bound.lower()) if bound.isalpha() else (int(bound) if bound.isdigit() else None)
                if val is None or not lo <= val <= hi:
                    raise ValueError(f'"{f}" is out of range {lo}-{hi}')


# --------------------------------------------------------------------------- loading
