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
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from paperdigest.config.checks import check_address, resolve_path, absolute_store_url, Table, validate_cron
from paperdigest.config.model import (DEFAULT_MAX_INPUT_BYTES, DIGEST_CADENCES, PROFILE_NAME_RE, SOURCE_FORMATS,
                                      WEEK_DAYS, Config, EmailConfig, FeedConfig, Profile, ScheduleConfig, SemanticConfig,
                                      SourceConfig, WebConfig, config_path)
from paperdigest.errors import ConfigError

# A profile's reader words and liked papers: generous bounds that still catch a pasted file.
MAX_DESCRIPTION = 2000
MAX_LIKED = 200
MAX_LIKED_ENTRY = 500


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
    top = Table("config", data).allow("store", "output", "limits", "source", "email", "schedule", "feed", "profile",
                                      "web", "semantic")

    store = Table("store", top.table("store") or {})
    store_url = absolute_store_url(base, store.text("url", "sqlite:///var/paperdigest.db") or "")
    if "://" not in store_url:
        raise store.err("url", f'is not a SQLAlchemy URL: "{store_url}"')
    store.done()

    output = Table("output", top.table("output") or {})
    output_dir = resolve_path(base, output.text("dir", "var/out") or "var/out")
    templates_text = output.text("templates")
    templates = resolve_path(base, templates_text) if templates_text else None
    if templates is not None and not templates.is_dir():
        raise output.err("templates", f'is not a folder: "{templates}"')
    output.done()

    limits = Table("limits", top.table("limits") or {})
    max_input_bytes = limits.integer("max_input_bytes", DEFAULT_MAX_INPUT_BYTES, minimum=1)
    limits.done()

    sources = tuple(_source(base, i, s) for i, s in enumerate(_array(top, "source")))
    names = [s.name for s in sources]
    for n in names:
        if names.count(n) > 1:
            raise ConfigError(f'source "{n}": duplicate source name')

    email = _email(top.table("email"))
    schedule = _schedule(top.table("schedule"))

    feed_t = Table("feed", top.table("feed") or {})
    feed = FeedConfig(
        max_items=feed_t.integer("max_items", 100, minimum=1),
        max_days=feed_t.integer("max_days", 30, minimum=1),
        base_url=feed_t.text("base_url", FeedConfig.base_url) or FeedConfig.base_url,
    )
    if urlsplit(feed.base_url).scheme not in ("http", "https"):
        raise feed_t.err("base_url", "must be an http or https URL")
    feed_t.done()

    web_t = top.table("web")
    web = _web(web_t) if web_t is not None else None

    semantic = _semantic(top.table("semantic"))

    profiles = tuple(_profile(i, p) for i, p in enumerate(_array(top, "profile")))
    pnames = [p.name for p in profiles]
    for n in pnames:
        if pnames.count(n) > 1:
            raise ConfigError(f'profile "{n}": duplicate profile name')
    top.done()
    return Config(path=path, store_url=store_url, output_dir=output_dir, sources=sources,
                  profiles=profiles, email=email, schedule=schedule, feed=feed,
                  max_input_bytes=max_input_bytes, templates=templates, web=web, semantic=semantic)


def _array(top: Table, key: str) -> list[Any]:
    v = top._get(key, False)
    if v is None:
        return []
    if not isinstance(v, list):
        raise ConfigError(f'config: "{key}" must be an array of tables ([[{key}]])')
    return v


def _source(base: Path, index: int, data: Any) -> SourceConfig:
    name = data.get("name") if isinstance(data, dict) else None
    t = Table(f'source "{name}"' if isinstance(name, str) else f"source #{index + 1}", data).allow(
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
    return SourceConfig(name=name, path=resolve_path(base, path) if path else None, url=url,
                        format=fmt, params=params, timeout=timeout)


def _email(data: dict[str, Any] | None) -> EmailConfig:
    t = Table("email", data or {})
    from_addr = t.text("from", "Paper Digest <digest@localhost.localdomain>") or ""
    check_address("email", "from", from_addr)
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
    t = Table("schedule", data or {})
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


def _web(data: dict[str, Any]) -> WebConfig:
    """``[web]``: the reader-facing app. Its secret comes from PAPERDIGEST_SECRET, never the file."""
    t = Table("web", data).allow("base_url", "host", "port", "trusted_proxies")
    base_url = t.text("base_url", required=True) or ""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise t.err("base_url", f'must be an http or https URL without query or fragment, not "{base_url}"')
    if any(ch.isspace() or not ch.isprintable() or ch in "<>\"'" for ch in base_url):
        raise t.err("base_url", "must not hold spaces, quotes or angle brackets")
    host = t.text("host", "127.0.0.1") or "127.0.0.1"
    port = t.integer("port", 8000, minimum=1)
    if port > 65535:
        raise t.err("port", f"must be at most 65535, not {port}")
    proxies = tuple(t.str_list("trusted_proxies")) if "trusted_proxies" in data else ("127.0.0.1",)
    t.done()
    return WebConfig(base_url=base_url.rstrip("/") + "/", host=host, port=port, trusted_proxies=proxies)


def _profile(index: int, data: Any) -> Profile:
    name = data.get("name") if isinstance(data, dict) else None
    t = Table(f'profile "{name}"' if isinstance(name, str) else f"profile #{index + 1}", data).allow(
        "name", "title", "recipients", "keywords", "exclude", "min_score", "max_items", "send_empty", "backfill_days",
        "momentum", "digest", "week_day", "description", "liked")
    name = t.text("name", required=True) or ""
    if not PROFILE_NAME_RE.fullmatch(name):
        raise t.err("name", f'must match [a-z0-9-]+ (at most 64 characters), not "{name}"')
    title = t.text("title", name) or name
    if any(not ch.isprintable() for ch in title):
        raise t.err("title", "must not hold control characters")
    recipients = t.str_list("recipients")
    for r in recipients:
        check_address(t.where, "recipients", r)
    keywords: dict[str, float] = {}
    for term, w in (t.table("keywords") or {}).items():
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not (w > 0) or w == float("inf"):
            raise ConfigError(f'{t.where}: keyword "{term}" needs a positive number as weight, not {w!r}')
        if not any(part.strip() for part in term.split("|")) or not re.search(r"\w", term):
            raise ConfigError(f'{t.where}: keyword "{term}" is empty')
        keywords[term] = float(w)
    description = " ".join((t.text("description", "") or "").split())
    if len(description) > MAX_DESCRIPTION:
        raise t.err("description", f"is longer than {MAX_DESCRIPTION} characters (a sentence or two is enough)")
    if not description.isprintable():
        raise t.err("description", "must not hold control characters")
    liked = t.str_list("liked")
    if len(liked) > MAX_LIKED:
        raise t.err("liked", f"lists more than {MAX_LIKED} papers")
    for entry in liked:
        if not entry.strip():
            raise t.err("liked", "holds an empty entry (an arXiv id or an exact title is needed)")
        if not entry.isprintable():
            raise t.err("liked", "holds an entry with control characters")
        if len(entry) > MAX_LIKED_ENTRY:
            raise t.err("liked", f"holds an entry longer than {MAX_LIKED_ENTRY} characters")
    if not (keywords or description or liked):
        raise ConfigError(f'{t.where}: needs "keywords" (a table of term = weight), "description" or "liked"')
    exclude = t.str_list("exclude")
    min_score = t.number("min_score", 0.0, minimum=0.0)
    max_items = t.integer("max_items", 20, minimum=1)
    send_empty = t.flag("send_empty", False)
    backfill_days = t.integer("backfill_days", 7, minimum=0)
    momentum = t.number("momentum", 0.0, minimum=0.0)
    if momentum > 1:
        raise t.err("momentum", f"must be between 0 and 1, not {momentum:g}")
    digest, week_day = _cadence(t)
    t.done()
    return Profile(name=name, title=title, keywords=keywords, recipients=tuple(recipients),
                   exclude=tuple(exclude), min_score=min_score, max_items=max_items,
                   send_empty=send_empty, backfill_days=backfill_days, momentum=momentum, digest=digest,
                   week_day=week_day, description=description, liked=tuple(e.strip() for e in liked))


def _cadence(t: Table) -> tuple[str, str]:
    """A profile's ``digest`` ("daily" or "weekly") and, for a weekly one, its ``week_day``."""
    digest = t.text("digest", "daily") or "daily"
    if digest not in DIGEST_CADENCES:
        raise t.err("digest", f'must be "daily" or "weekly", not "{digest}"')
    week_day = t.text("week_day")
    if week_day is not None and digest != "weekly":
        raise t.err("week_day", 'applies only to a weekly digest (digest = "weekly")')
    week_day = (week_day or "monday").lower()
    if week_day not in WEEK_DAYS:
        raise t.err("week_day", f'must be a day of the week ("monday" ... "sunday"), not "{week_day}"')
    return digest, week_day


def _semantic(data: dict[str, Any] | None) -> SemanticConfig:
    """Which embedding model; it is resolved and loaded (paperdigest.ranking.embedding) only
    when a profile has a description or liked papers."""
    t = Table("semantic", data or {})
    model = t.text("model", SemanticConfig.model) or ""
    if not model.strip():
        raise t.err("model", 'must name a model ("wordllama" or the path of a local model folder)')
    allow_download = t.flag("allow_download", False)
    t.done()
    return SemanticConfig(model=model, allow_download=allow_download)
