"""Load and validate ``paperdigest.toml``.

One config path: ``--config PATH``, else ``$PAPERDIGEST_CONFIG``, else ``config/paperdigest.toml``.
Relative paths inside the file resolve against the file's folder. Every problem is a
:class:`ConfigError` with one line naming the table and key, e.g.
``profile "x": unknown key "keywrds"``. Secrets never live in the file: the SMTP password
comes from ``PAPERDIGEST_SMTP_PASSWORD``.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.errors import HeaderParseError
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ConfigError

DEFAULT_CONFIG = Path("config/paperdigest.toml")
CONFIG_ENV = "PAPERDIGEST_CONFIG"
PASSWORD_ENV = "PAPERDIGEST_SMTP_PASSWORD"
PROFILE_NAME_RE = re.compile(r"^[a-z0-9-]{1,64}$")  # the store keeps names in 64 characters
SOURCE_FORMATS = ("auto", "text", "html", "hf-api", "jsonfeed", "rss", "atom")
# Fallback cap on one input's size: a listing page is ~100 KB, a capture rarely over 1 MB.
DEFAULT_MAX_INPUT_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class SourceConfig:
    name: str
    path: Path | None = None
    url: str | None = None
    format: str = "auto"
    # Options for the Hugging Face daily-papers API (date, limit, sort), sent as query parameters.
    params: dict[str, str] = field(default_factory=dict)
    timeout: float = 20.0


@dataclass(frozen=True)
class EmailConfig:
    from_addr: str
    smtp_url: str | None = None
    starttls: bool = False
    timeout: float = 30.0
    list_unsubscribe: str | None = None
    list_id: str = "paperdigest"

    @property
    def password(self) -> str | None:
        return os.environ.get(PASSWORD_ENV) or None


@dataclass(frozen=True)
class ScheduleConfig:
    cron: str = "0 7 * * *"
    timezone: str = "UTC"


@dataclass(frozen=True)
class FeedConfig:
    """The rolling window a feed shows: the newest ``max_items`` entries or ``max_days`` days."""

    max_items: int = 100
    max_days: int = 30
    base_url: str = "https://paperdigest.invalid/"


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    keywords: dict[str, float]
    recipients: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    min_score: float = 0.0
    max_items: int = 20
    send_empty: bool = False
    backfill_days: int = 7


@dataclass(frozen=True)
class Config:
    path: Path
    store_url: str
    output_dir: Path
    sources: tuple[SourceConfig, ...]
    profiles: tuple[Profile, ...]
    email: EmailConfig
    schedule: ScheduleConfig
    feed: FeedConfig
    max_input_bytes: int = DEFAULT_MAX_INPUT_BYTES

    def profile(self, name: str) -> Profile:
        for p in self.profiles:
            if p.name == name:
                return p
        raise ConfigError(f'--profile: no profile named "{name}" in {self.path}')


def config_path(explicit: str | os.PathLike[str] | None) -> Path:
    if explicit:
        return Path(explicit)
    env = os.environ.get(CONFIG_ENV)
    return Path(env) if env else DEFAULT_CONFIG


# --------------------------------------------------------------------------- helpers


class _Table:
    """A TOML table being validated: typed getters, and a check that no key is left unread."""

    def __init__(self, where: str, data: Any) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: must be a table, not {_type(data)}")
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
            raise self.err(key, f"must be a string, not {_type(v)}")
        return v

    def flag(self, key: str, default: bool) -> bool:
        v = self._get(key, False)
        if v is None:
            return default
        if not isinstance(v, bool):
            raise self.err(key, f"must be true or false, not {_type(v)}")
        return v

    def number(self, key: str, default: float, minimum: float | None = None, positive: bool = False) -> float:
        v = self._get(key, False)
        if v is None:
            return default
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise self.err(key, f"must be a number, not {_type(v)}")
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
            raise self.err(key, f"must be an integer, not {_type(v)}")
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
            raise self.err(key, f"must be a table, not {_type(v)}")
        return v

    def allow(self, *keys: str) -> _Table:
        """Refuse unknown keys first: a typo ("keywrds") is reported as itself, not as a missing key."""
        for key in self.data:
            if key not in keys:
                raise ConfigError(f'{self.where}: unknown key "{key}"')
        return self

    def done(self) -> None:
        for key in self.data:
            if key not in self.seen:
                raise ConfigError(f'{self.where}: unknown key "{key}"')


def _type(v: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(v), type(v).__name__)


def _resolve(base: Path, value: str) -> Path:
    p = Path(os.path.expanduser(value))
    return Path(os.path.normpath(p if p.is_absolute() else (base / p)))


def _check_address(where: str, key: str, value: str) -> str:
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


def _store_url(base: Path, url: str) -> str:
    """Make a relative SQLite path absolute against the config's folder."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        rest = url[len("sqlite:///"):]
        if rest and rest != ":memory:":
            return "sqlite:///" + str(_resolve(base, rest))
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


def load_config(explicit: str | os.PathLike[str] | None = None) -> Config:
    path = config_path(explicit)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read config: {e.strerror or e}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: config is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: TOML syntax error: {e}") from None
    return parse_config(data, path)


def parse_config(data: dict[str, Any], path: Path) -> Config:
    base = path.resolve().parent
    top = _Table("config", data).allow("store", "output", "limits", "source", "email", "schedule", "feed", "profile")

    store = _Table("store", top.table("store") or {})
    store_url = _store_url(base, store.text("url", "sqlite:///var/paperdigest.db") or "")
    if "://" not in store_url:
        raise store.err("url", f'is not a SQLAlchemy URL: "{store_url}"')
    store.done()

    output = _Table("output", top.table("output") or {})
    output_dir = _resolve(base, output.text("dir", "var/out") or "var/out")
    output.done()

    limits = _Table("limits", top.table("limits") or {})
    max_input_bytes = limits.integer("max_input_bytes", DEFAULT_MAX_INPUT_BYTES, minimum=1)
    limits.done()

    sources = tuple(_source(base, i, s) for i, s in enumerate(_array(top, "source")))
    names = [s.name for s in sources]
    for n in names:
        if names.count(n) > 1:
            raise ConfigError(f'source "{n}": duplicate source name')

    email = _email(top.table("email"))
    schedule = _schedule(top.table("schedule"))

    feed_t = _Table("feed", top.table("feed") or {})
    feed = FeedConfig(
        max_items=feed_t.integer("max_items", 100, minimum=1),
        max_days=feed_t.integer("max_days", 30, minimum=1),
        base_url=feed_t.text("base_url", FeedConfig.base_url) or FeedConfig.base_url,
    )
    if urlsplit(feed.base_url).scheme not in ("http", "https"):
        raise feed_t.err("base_url", "must be an http or https URL")
    feed_t.done()

    profiles = tuple(_profile(i, p) for i, p in enumerate(_array(top, "profile")))
    pnames = [p.name for p in profiles]
    for n in pnames:
        if pnames.count(n) > 1:
            raise ConfigError(f'profile "{n}": duplicate profile name')
    top.done()
    return Config(path=path, store_url=store_url, output_dir=output_dir, sources=sources,
                  profiles=profiles, email=email, schedule=schedule, feed=feed,
                  max_input_bytes=max_input_bytes)


def _array(top: _Table, key: str) -> list[Any]:
    v = top._get(key, False)
    if v is None:
        return []
    if not isinstance(v, list):
        raise ConfigError(f'config: "{key}" must be an array of tables ([[{key}]])')
    return v


def _source(base: Path, index: int, data: Any) -> SourceConfig:
    name = data.get("name") if isinstance(data, dict) else None
    t = _Table(f'source "{name}"' if isinstance(name, str) else f"source #{index + 1}", data).allow(
        "name", "path", "url", "format", "date", "limit", "sort", "timeout")
    name = t.text("name", required=True) or ""
    path = t.text("path")
    url = t.text("url")
    if bool(path) == bool(url):
        raise ConfigError(f'{t.where}: needs exactly one of "path" or "url"')
    if url and urlsplit(url).scheme not in ("http", "https"):
        raise t.err("url", f'must be an http or https URL, not "{url}"')
    fmt = t.text("format", "auto") or "auto"
    if fmt not in SOURCE_FORMATS:
        raise t.err("format", f'must be one of {", ".join(SOURCE_FORMATS)}, not "{fmt}"')
    params: dict[str, str] = {}
    for key in ("date", "limit", "sort"):
        v = t._get(key, False)
        if v is not None:
            if isinstance(v, bool) or not isinstance(v, (str, int)):
                raise t.err(key, "must be a string or an integer")
            params[key] = str(v)
    timeout = t.number("timeout", 20.0, positive=True)
    t.done()
    return SourceConfig(name=name, path=_resolve(base, path) if path else None, url=url,
                        format=fmt, params=params, timeout=timeout)


def _email(data: dict[str, Any] | None) -> EmailConfig:
    t = _Table("email", data or {})
    from_addr = t.text("from", "Paper Digest <digest@localhost.localdomain>") or ""
    _check_address("email", "from", from_addr)
    smtp_url = t.text("smtp_url")
    if smtp_url:
        parts = urlsplit(smtp_url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise t.err("smtp_url", "must look like smtp://[user@]host[:port] or smtps://...")
        if parts.password:
            raise t.err("smtp_url", "must not hold a password: set PAPERDIGEST_SMTP_PASSWORD")
        try:
            _ = parts.port  # urlsplit raises ValueError for a bad port only when asked
        except ValueError:
            raise t.err("smtp_url", "has a bad port") from None
    starttls = t.flag("starttls", False)
    timeout = t.number("timeout", 30.0, positive=True)
    unsub = t.text("list_unsubscribe")
    if unsub and urlsplit(unsub).scheme not in ("mailto", "http", "https"):
        raise t.err("list_unsubscribe", "must be a mailto:, http: or https: URL")
    list_id = t.text("list_id", "paperdigest") or "paperdigest"
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.\-]*", list_id):
        raise t.err("list_id", "may hold only letters, digits, dots and hyphens")
    t.done()
    return EmailConfig(from_addr=from_addr, smtp_url=smtp_url, starttls=starttls, timeout=timeout,
                       list_unsubscribe=unsub, list_id=list_id)


def _schedule(data: dict[str, Any] | None) -> ScheduleConfig:
    t = _Table("schedule", data or {})
    cron = t.text("cron", "0 7 * * *") or ""
    try:
        validate_cron(cron)
    except ValueError as e:
        raise t.err("cron", f'is not a valid cron expression ("{cron}": {e})') from None
    tz = t.text("timezone", "UTC") or "UTC"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise t.err("timezone", f'is not a known time zone: "{tz}"') from None
    t.done()
    return ScheduleConfig(cron=cron, timezone=tz)


def _profile(index: int, data: Any) -> Profile:
    name = data.get("name") if isinstance(data, dict) else None
    t = _Table(f'profile "{name}"' if isinstance(name, str) else f"profile #{index + 1}", data).allow(
        "name", "title", "recipients", "keywords", "exclude", "min_score", "max_items", "send_empty", "backfill_days")
    name = t.text("name", required=True) or ""
    if not PROFILE_NAME_RE.fullmatch(name):
        raise t.err("name", f'must match [a-z0-9-]+ (at most 64 characters), not "{name}"')
    title = t.text("title", name) or name
    if any(not ch.isprintable() for ch in title):
        raise t.err("title", "must not hold control characters")
    recipients = t.str_list("recipients")
    for r in recipients:
        _check_address(t.where, "recipients", r)
    kw = t.table("keywords")
    if not kw:
        raise ConfigError(f'{t.where}: missing key "keywords" (a table of term = weight)')
    keywords: dict[str, float] = {}
    for term, w in kw.items():
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not (w > 0) or w == float("inf"):
            raise ConfigError(f'{t.where}: keyword "{term}" needs a positive number as weight, not {w!r}')
        if not any(part.strip() for part in term.split("|")) or not re.search(r"\w", term):
            raise ConfigError(f'{t.where}: keyword "{term}" is empty')
        keywords[term] = float(w)
    exclude = t.str_list("exclude")
    min_score = t.number("min_score", 0.0, minimum=0.0)
    max_items = t.integer("max_items", 20, minimum=1)
    send_empty = t.flag("send_empty", False)
    backfill_days = t.integer("backfill_days", 7, minimum=0)
    t.done()
    return Profile(name=name, title=title, keywords=keywords, recipients=tuple(recipients),
                   exclude=tuple(exclude), min_score=min_score, max_items=max_items,
                   send_empty=send_empty, backfill_days=backfill_days)
