"""What a loaded ``paperdigest.toml`` is: plain frozen dataclasses, and where the file is found.

One config path: ``--config PATH``, else ``$PAPERDIGEST_CONFIG``, else ``config/paperdigest.toml``.
Secrets never live in the file: the SMTP password comes from ``PAPERDIGEST_SMTP_PASSWORD``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from paperdigest.errors import ConfigError

DEFAULT_CONFIG = Path("config/paperdigest.toml")
CONFIG_ENV = "PAPERDIGEST_CONFIG"
PASSWORD_ENV = "PAPERDIGEST_SMTP_PASSWORD"
SECRET_ENV = "PAPERDIGEST_SECRET"  # signs the web app's links and forms; never in the file
PROFILE_NAME_RE = re.compile(r"^[a-z0-9-]{1,64}$")  # the store keeps names in 64 characters
SOURCE_FORMATS = ("auto", "text", "html", "hf-api", "jsonfeed", "rss", "atom")
DIGEST_CADENCES = ("daily", "weekly")
WEEK_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
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
    """A reader's interest: keywords (term = weight), and/or in the reader's own words
    (``description``) and papers they want more of (``liked``: arXiv ids or exact titles).
    At least one of the three is set (the loader checks)."""

    name: str
    title: str
    keywords: dict[str, float] = field(default_factory=dict)
    recipients: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    min_score: float = 0.0
    max_items: int = 20
    send_empty: bool = False
    backfill_days: int = 7
    # How much the listings' momentum (upvotes, their gain, days listed) orders the digest: 0..1.
    momentum: float = 0.0
    # "daily": a digest every run; "weekly": one a week, on the first run on or after week_day.
    digest: str = "daily"
    week_day: str = "monday"
    # What a reader wrote about their interest, and the papers they liked (arXiv ids, else
    # titles): the semantic ranking reads them; keyword ranking ignores them.
    description: str = ""
    liked: tuple[str, ...] = ()

    @property
    def needs_embeddings(self) -> bool:
        """Whether this profile ranks by meaning too (it needs paper embeddings)."""
        return bool(self.description or self.liked)


@dataclass(frozen=True)
class SemanticConfig:
    """``[semantic]``: the embedding model (``"wordllama"`` or a local model folder, see
    paperdigest.ranking.embedding) and whether it may be downloaded."""

    model: str = "wordllama"
    allow_download: bool = False


@dataclass(frozen=True)
class WebConfig:
    """The web app for readers (``[web]``): where it is reached from outside, where it listens.

    ``base_url`` is the public address every link in an email or page starts with (the reverse
    proxy's); ``trusted_proxies`` are the addresses whose X-Forwarded-For/-Proto are believed.
    """

    base_url: str
    host: str = "127.0.0.1"
    port: int = 8000
    trusted_proxies: tuple[str, ...] = ("127.0.0.1",)


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
    # A folder whose templates override the built-in ones of the same name ([output] templates).
    templates: Path | None = None
    web: WebConfig | None = None
    semantic: SemanticConfig = field(default_factory=SemanticConfig)

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
