"""``suggest``: keywords a profile lacks, learnt from what its reader keeps.

The reader's papers are the profile's ``liked`` papers found in the store and its best-ranked
recent papers (the first ``TOP_ITEMS`` items of each of its ``RECENT_DIGESTS`` newest digests).
The rest of the store (its ``BACKGROUND`` newest papers, less every paper the profile's digests
ever held) is what they are compared with, and where the papers a term would have added come
from. Read only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from paperdigest.config import Profile
from paperdigest.store import Store

RECENT_DIGESTS = 30
TOP_ITEMS = 10
BACKGROUND = 10_000
SHOWN = 5  # papers listed per term


@dataclass
class SuggestReport:
    profile: str
    kept: int  # how many of the reader's papers the suggestions come from
    compared: int  # how many other papers they were compared with
    suggestions: list[dict[str, Any]] = field(default_factory=list)
    liked_not_found: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"profile": self.profile, "kept": self.kept, "compared": self.compared,
                "suggestions": self.suggestions, "liked_not_found": self.liked_not_found}


def suggest_for_profile(store: Store, profile: Profile, *, limit: int = 15) -> SuggestReport:
    from paperdigest.ranking.suggest import suggest_terms

    liked = store.find_liked(profile.liked)
    kept_ids = sorted(set(liked.values()) | set(store.profile_paper_ids(
        profile.name, recent_digests=RECENT_DIGESTS, top=TOP_ITEMS)))
    given = set(store.profile_paper_ids(profile.name)) | set(liked.values())
    kept = [p for _, p in store.papers_with_ids(kept_ids)]
    others = store.papers_with_ids([pid for pid in store.newest_paper_ids(BACKGROUND + len(given))
                                    if pid not in given][:BACKGROUND])
    report = SuggestReport(profile.name, len(kept), len(others),
                           liked_not_found=[e for e in profile.liked if e not in liked])
    by_id = dict(others)
    for s in suggest_terms(profile, kept, others, limit=limit):
        report.suggestions.append({
            "term": s.term, "score": s.score, "support": s.support, "would_add_count": len(s.would_add),
            "would_add": [{"title": by_id[pid].title, "arxiv_id": by_id[pid].arxiv_id} for pid in s.would_add[:SHOWN]],
        })
    return report
