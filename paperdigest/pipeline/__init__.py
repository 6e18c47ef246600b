"""The steps of a digest run as plain functions: the Prefect flow in ``flows/digest.py`` wraps
each in a task, and ``run_digest`` composes them without Prefect (for ``--without-prefect``
and for tests).

Order of a run and why it is safe to kill at any point:

1. read or fetch every source; archive the raw bytes; parse; ingest (one transaction per
   capture, so one bad input never rolls back another); then embed the papers that have no
   vector under the current model yet (only when a profile ranks by meaning; ``semantic``);
2. per profile: rank the papers it has not considered yet, then create the digest, its
   items, its owed deliveries and the cursor move in one transaction;
3. write every digest's Markdown that is not written yet;
4. claim and send every owed delivery (this run's and any a crashed run left), marking each
   sent only after the server accepted it;
5. rewrite the feeds from the store.

Steps 3-5 work from the store, not from this run's memory, so the next run finishes
whatever a killed run left.
"""
from __future__ import annotations

from paperdigest.pipeline.deliver import EmailReport, Sender, deliver_owed, run_owner
from paperdigest.pipeline.digests import (TERM_STATS_BLOB, Selection, build_profile_digest, digest_day, publish_feeds,
                                          schedule_zone, select_for_profile, term_stats, write_markdown,
                                          write_pending_markdown)
from paperdigest.pipeline.failpoints import failpoint
from paperdigest.pipeline.ingest import (FETCH_ATTEMPTS, FETCH_BACKOFF, SHORT_CAPTURE_MIN_HISTORY, SHORT_CAPTURE_RATIO,
                                         InputReport, capture_warning, collect_captures, fetch_capture,
                                         ingest_capture, read_file_sources)
from paperdigest.pipeline.run import DigestReport, RunReport, assemble_report, item_json, run_digest
from paperdigest.pipeline.semantic import check_embedder, embed_papers, embedder_for
from paperdigest.sources.captures import Capture, parse_capture, read_path_captures

__all__ = ["FETCH_ATTEMPTS", "FETCH_BACKOFF", "SHORT_CAPTURE_MIN_HISTORY", "SHORT_CAPTURE_RATIO",
           "TERM_STATS_BLOB", "Capture", "DigestReport", "EmailReport", "InputReport", "RunReport", "Selection",
           "Sender", "assemble_report", "build_profile_digest", "capture_warning", "check_embedder",
           "collect_captures", "deliver_owed", "digest_day", "embed_papers", "embedder_for", "failpoint",
           "fetch_capture", "ingest_capture", "item_json", "parse_capture", "publish_feeds",
           "read_file_sources", "read_path_captures", "run_digest", "run_owner", "schedule_zone", "select_for_profile",
           "term_stats", "write_markdown", "write_pending_markdown"]
