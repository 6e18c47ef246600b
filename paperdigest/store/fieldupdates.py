"""What a later capture may change in a stored paper, and which of its values are refused.

No SQL here: :mod:`paperdigest.store.papers` asks these functions, then writes.

The rules (the README's "A paper's life in the store" says the same for operators):

* A capture **fills** a field the store lacks (an abstract that was not yet available, authors,
  a link, an AI summary, a date, an arXiv id) from any source.
* A capture **corrects** a field the store has only when it comes from the same source that
  gave the stored value: a source corrects itself. Another source's different spelling of the
  same abstract never overwrites it, so two sources listing one paper do not flip it back and
  forth (and its feed entry is not "updated" at every run). A title is corrected only for a
  paper known by its arXiv id: for the others the title is the identity.
* A missing or empty value never overwrites one that is there.
* **Refused** (the value is ignored, the rest of the paper kept, a warning names the capture):
  upvotes below 0 or above :data:`MAX_UPVOTES`, a date more than :data:`FUTURE_SLACK` after
  the capture, a title with no letter or digit (it could not be shown nor identify a paper).
* Upvotes are a reading, not a correction: the latest reading of any source is the paper's.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from paperdigest.errors import one_line
from paperdigest.models import Paper
from paperdigest.store.rows import aware, utc

MAX_UPVOTES = 1_000_000  # the most-upvoted papers have a few thousand; PostgreSQL's INTEGER ends at 2**31
FUTURE_SLACK = timedelta(days=2)  # a listing's date may run a time zone or a day ahead, not more

# Fields a capture may fill or correct, in the order ``show`` lists them.
FIELDS = ("title", "abstract", "authors", "url", "published", "ai_summary", "arxiv_id")


def label(p: Paper) -> str:
    """How a warning names a paper: its title (clipped) and arXiv id when known."""
    title = one_line(p.title, 60) or "(no title)"
    return f"'{title}'" + (f" (arXiv:{p.arxiv_id})" if p.arxiv_id else "")


def vet(p: Paper, source: str, latest: datetime) -> tuple[Paper, list[str]]:
    """The paper without its absurd values, and one warning per value dropped. ``latest`` is
    the latest date a paper may carry (the capture's time plus :data:`FUTURE_SLACK`)."""
    bad_votes = p.upvotes is not None and not 0 <= p.upvotes <= MAX_UPVOTES
    bad_date = p.published is not None and p.published > latest
    if not (bad_votes or bad_date):
        return p, []
    warnings: list[str] = []
    changes: dict[str, Any] = {}
    if bad_votes:
        assert p.upvotes is not None
        why = "negative" if p.upvotes < 0 else f"over {MAX_UPVOTES:,}"
        warnings.append(f"{source}: {label(p)}: upvotes {p.upvotes} ignored ({why})")
        changes["upvotes"] = None
    if bad_date:
        assert p.published is not None
        warnings.append(f"{source}: {label(p)}: date {p.published.date().isoformat()} ignored (in the future)")
        changes["published"] = None
    return (replace(p, **changes) if changes else p), warnings


def proposed(row: Any, p: Paper, *, by_arxiv: bool, title_ok: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """(fills, corrections) a capture's paper proposes for a stored row: field -> new value.

    Fills apply at once; corrections only when the capture's source gave the stored value
    (the caller checks). ``title_ok`` is False for a title that folds to nothing.
    """
    fills: dict[str, Any] = {}
    fixes: dict[str, Any] = {}
    if p.arxiv_id and not row.arxiv_id:
        fills["arxiv_id"] = p.arxiv_id  # an arXiv id is identity: filled, never changed
    if p.abstract and p.abstract != row.abstract:
        (fixes if row.abstract else fills)["abstract"] = p.abstract
    if by_arxiv and title_ok and p.title != row.title:
        fixes["title"] = p.title
    if p.url and p.url != row.url:
        (fixes if row.url else fills)["url"] = p.url
    if p.authors:
        authors = json.dumps(list(p.authors))
        if authors != row.authors:
            (fixes if row.authors else fills)["authors"] = authors
    if p.published:
        published = utc(p.published)
        if row.published is None:
            fills["published"] = published
        elif aware(row.published) != published:
            fixes["published"] = published
    if p.ai_summary and p.ai_summary != row.ai_summary:
        (fixes if row.ai_summary else fills)["ai_summary"] = p.ai_summary
    return fills, fixes


def previous_text(row: Any, field: str) -> str | None:
    """The stored value a change replaces, as text for the change log (None when missing)."""
    value = getattr(row, field)
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return str(aware(value).isoformat())  # type: ignore[union-attr]
    return str(value)
