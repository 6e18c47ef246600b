"""Every URL a reader is given, in emails and on pages: all under ``[web] base_url`` (the
address the reverse proxy answers on), with signed tokens where the link acts for a reader."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from paperdigest.config import Config
from paperdigest.delivery.render import ReaderLinks
from paperdigest.delivery.signing import CONFIRM_TTL, Signer, load_secret

FEED_SUFFIX = {"rss": "xml", "atom": "atom"}


@dataclass(frozen=True)
class Links:
    base_url: str  # ends with "/"
    signer: Signer

    def url(self, path: str) -> str:
        return self.base_url + path.lstrip("/")

    def confirm(self, subscriber_id: int, nonce: str, now: datetime) -> str:
        token = self.signer.sign("confirm", subscriber_id, nonce, expires=now + CONFIRM_TTL)
        return self.url(f"confirm/{token}")

    def unsubscribe(self, subscriber_id: int) -> str:
        return self.url(f"unsubscribe/{self.signer.sign('unsubscribe', subscriber_id)}")

    def manage(self, subscriber_id: int) -> str:
        return self.url(f"manage/{self.signer.sign('manage', subscriber_id)}")

    def feedback(self, subscriber_id: int, paper_id: int, kind: str) -> str:
        return self.url(f"feedback/{self.signer.sign('feedback', subscriber_id, paper_id, kind)}")

    def feed(self, profile: str, kind: str) -> str:
        return self.url(f"feeds/{profile}.{FEED_SUFFIX[kind]}")

    def private_feed(self, feed_key: str, kind: str) -> str:
        return self.url(f"feeds/private/{feed_key}.{FEED_SUFFIX[kind]}")

    def digests(self, profile: str) -> str:
        return self.url(f"digests/{profile}/")

    def reader(self, subscriber_id: int, paper_ids: Sequence[int]) -> ReaderLinks:
        """The links one email to a web subscriber carries: per paper, and in the footer."""
        return ReaderLinks(manage=self.manage(subscriber_id), unsubscribe=self.unsubscribe(subscriber_id),
                           more=tuple(self.feedback(subscriber_id, p, "more") for p in paper_ids),
                           less=tuple(self.feedback(subscriber_id, p, "less") for p in paper_ids))


def links_for(config: Config) -> Links | None:
    """The config's links, or None without ``[web]``; ConfigError when the secret is missing."""
    if config.web is None:
        return None
    return Links(config.web.base_url, Signer(load_secret()))
