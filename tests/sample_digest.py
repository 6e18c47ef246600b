"""A fixed, invented digest: the input of the golden files, the screenshot and other tests.

Every title and abstract here is made up. The three items cover the shapes a renderer
meets: a paper with its own URL, authors, upvotes, an AI summary and sightings over three
days; one known only by its arXiv id, with many authors and an abstract long enough to be
trimmed; one with neither URL nor id nor authors nor, yet, an abstract, whose title holds
characters every format must escape.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from paperdigest.config import EmailConfig
from paperdigest.models import DigestView, FeedEntry, Match, Paper, RankedItem, Sightings

CREATED = datetime(2025, 3, 14, 7, 0, 5, tzinfo=timezone.utc)

PAPERS = (
    Paper(
        title="Draft Trees, Not Draft Chains: Speculative Decoding for Low-Latency LLM Serving",
        abstract=(
            "Speculative decoding speeds up autoregressive generation by letting a small draft "
            "model propose tokens that a large target model verifies in parallel. We replace the "
            "usual single draft chain with a shallow tree of candidates whose shape adapts to the "
            "draft model's confidence, and verify the whole tree with one masked forward pass. On "
            "three serving workloads the method cuts median latency by 2.1x at equal output "
            "quality, without retraining either model."
        ),
        arxiv_id="2503.10001",
        url="https://example.org/papers/2503.10001",
        authors=("Mira Okonkwo", "Tobias Lindqvist", "Hana Sato"),
        upvotes=42,
        ai_summary="A tree of draft tokens, verified in a single pass, halves serving latency.",
    ),
    Paper(
        title="Three Bits Are Enough: Quantized KV Caches Without Retraining",
        abstract=(
            "The key-value cache dominates memory use when large language models serve long "
            "contexts. We study post-training quantization of the cache alone and find that keys "
            "and values behave very differently: keys carry a few outlier channels that must stay "
            "in higher precision, while values tolerate aggressive rounding. A per-channel scheme "
            "for keys and a per-token scheme for values reach three bits per entry with less than "
            "half a point of perplexity lost on four model families. We release kernels that fuse "
            "dequantization into attention so that the smaller cache also means faster decoding, "
            "and we report where the approach fails: very small models and retrieval-heavy tasks "
            "whose answers hinge on rare tokens deep in the context window."
        ),
        arxiv_id="2503.10002",
        authors=("Priya Raman", "Jonas Weber", "Li Wei", "Amara Diallo", "Sven Aalto",
                 "Carmen Ruiz", "Felix Braun", "Yuki Tanaka"),
        upvotes=17,
    ),
    Paper(
        title="Small & Fast: Pruning <1B Models with *Structured* Masks_v2",
    ),
)

SEEN = (
    Sightings(first_seen=CREATED - timedelta(days=2, hours=2), last_seen=CREATED - timedelta(hours=2), captures=7,
              days=3, upvotes=42, gain=15, since="yesterday"),
    Sightings(first_seen=CREATED - timedelta(days=1, hours=2), last_seen=CREATED - timedelta(hours=2), captures=2,
              days=2, upvotes=17),
)

ITEMS = (
    RankedItem(PAPERS[0], 3.5, (Match("speculative decoding", "title+abstract", 2.5),
                                Match("latency", "title", 1.0)), sightings=SEEN[0]),
    RankedItem(PAPERS[1], 2.25, (Match("quantization", "abstract", 1.5),
                                 Match("kv cache", "title+abstract", 0.75)), sightings=SEEN[1]),
    RankedItem(PAPERS[2], 1.0, (Match("pruning", "title", 1.0),)),
)


def sample_view(**changes: object) -> DigestView:
    """The fixed sample digest; keyword arguments replace fields (e.g. ``items=()``)."""
    fields: dict[str, object] = dict(
        digest_id="efficient-inference/2025-03-14",
        profile_name="efficient-inference",
        profile_title="Efficient inference",
        date=date(2025, 3, 14),
        created=CREATED,
        new_papers=57,
        matched=5,
        items=ITEMS,
        warnings=('The capture from source "hf-daily" looks short: 4 papers where there are usually 50 or more.',),
    )
    fields.update(changes)
    return DigestView(**fields)  # type: ignore[arg-type]


def empty_view(new_papers: int = 12) -> DigestView:
    return sample_view(items=(), matched=0, new_papers=new_papers, warnings=())


def hostile_paper(text: str, url: str | None = None) -> Paper:
    return Paper(title=text, abstract=text, url=url, authors=(text, "Ada"), ai_summary=text, arxiv_id=text)


def hostile_view(text: str, url: str | None = None) -> DigestView:
    """One item whose every free-text field (and the profile title, a warning and the digest
    id) is ``text``."""
    item = RankedItem(hostile_paper(text, url), 1.0, (Match(text, "title", 1.0),))
    return sample_view(profile_title=text, digest_id=f"efficient-inference/{text}", items=(item,),
                       warnings=(text,), new_papers=1, matched=1)


def hostile_entry(text: str, url: str | None = None) -> FeedEntry:
    return FeedEntry(guid=f"efficient-inference/{text}", paper=hostile_paper(text, url), added=CREATED,
                     score=1.0, matches=(Match(text, "title", 1.0),))


def sample_entries(n: int = 3) -> list[FeedEntry]:
    """Feed entries for the sample papers, one hour apart, oldest last (newest first)."""
    out = []
    for i, item in enumerate(ITEMS[:n]):
        key = item.paper.arxiv_id or f"title-{i}"
        out.append(FeedEntry(guid=f"efficient-inference/{key}", paper=item.paper,
                             added=CREATED - timedelta(hours=i), score=item.score, matches=item.matches))
    return out


def email_config(unsubscribe: str | None = "https://digest.example.org/unsubscribe?p=efficient-inference") -> EmailConfig:
    return EmailConfig(from_addr="Paper Digest <digest@example.org>", list_unsubscribe=unsubscribe,
                       list_id="paperdigest.example.org")
