"""Ranking: papers against reader profiles, each item with the reasons it is there.

``textmatch`` folds, tokenizes and stems text; ``index`` finds the profiles' terms in the
papers; ``termstats`` keeps the store's document frequencies; ``lexical`` scores keywords
(BM25F) and explains every match; ``ranker`` ranks many profiles at once, a block at a time.
"""

from __future__ import annotations

from paperdigest.ranking.lexical import B, K1, PRIOR_DOCS, TITLE_WEIGHT, item_to_json, items_to_json, rank, select
from paperdigest.ranking.ranker import Ranked, rank_profiles
from paperdigest.ranking.termstats import TermStats
from paperdigest.ranking.textmatch import EXACT_PREFIX

__all__ = ["B", "EXACT_PREFIX", "K1", "PRIOR_DOCS", "TITLE_WEIGHT", "TermStats", "item_to_json", "items_to_json",
           "rank", "rank_profiles", "Ranked", "select"]
