"""``ingest`` and ``rank``: listing files in, a report or a ranking out."""

from __future__ import annotations

import gc
import os
import sys
from typing import Any

import click

from paperdigest.cli.app import Process, config_option, current_time, emit, guard, main, missing_store_file
from paperdigest.config import Config, load_config
from paperdigest.errors import PaperdigestError, one_line


@main.command()
@config_option
@click.argument("paths", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@guard
def ingest(config_path: str | None, paths: tuple[str, ...], as_json: bool) -> None:
    """Store the papers of listing files (files, folders or globs) and report what is new.

    Each input is reported in the order given; a bad input is reported and the rest still
    go through. The same bytes twice are a duplicate and change nothing. When a profile has a
    description or liked papers, the new papers are embedded too ([semantic] model). Exit 1
    if any input failed.
    """
    from paperdigest.pipeline import check_embedder, embed_papers, ingest_capture, read_path_captures
    from paperdigest.store import Store

    config = load_config(config_path)
    now = current_time()
    check_embedder(config)  # a bad [semantic] model is a config error before anything is stored
    with Store(config.store_url) as store:
        caps = read_path_captures(paths, max_bytes=config.max_input_bytes, now=now)
        reports = [ingest_capture(store, c, output_dir=config.output_dir, now=now) for c in caps]
        embedded = embed_papers(store, config)  # only when a profile ranks by meaning
    if as_json:
        emit({"snapshots": [r.to_json() for r in reports], "new_papers": sum(r.new for r in reports),
              "embedded": embedded})
    else:
        for r in reports:
            if r.error and not r.papers:
                click.echo(f"FAILED     {r.source}: {r.error}")
            else:
                tag = "duplicate" if r.duplicate else f"{r.new:4d} new"
                updated = f"  ({r.updated} filled in or corrected)" if r.updated else ""
                warned = f"  ({r.warning})" if r.warning else ""
                click.echo(f"{tag:10} {r.papers:4d} papers  {r.source}{updated}{warned}")
        click.echo(f"{sum(r.new for r in reports)} new papers")
    if any(r.error for r in reports):
        sys.exit(1)


# --------------------------------------------------------------------------- rank


def _open_store(config: Config) -> Any:
    """The store, if there is one (ranking reads it and never creates it); else None."""
    if missing_store_file(config.store_url) is not None:
        return None
    from paperdigest.store import Store

    try:
        return Store(config.store_url, create=False)
    except PaperdigestError:
        return None


def _store_stats(store: Any, papers: list[Any]) -> Any:
    """IDF statistics of the store (read only) plus the listings being ranked; None without a store."""
    if store is None:
        return None
    from paperdigest.pipeline import TERM_STATS_BLOB
    from paperdigest.ranking import TermStats

    try:
        saved = store.load_blob(TERM_STATS_BLOB)
    except PaperdigestError:
        return None
    if not saved:
        return None
    stats = TermStats.from_json(saved[0])
    if not stats.current:  # from an older text analysis; the next run rebuilds them
        return None
    stats.add(papers)
    return stats


@main.command()
@config_option
@click.argument("paths", nargs=-1, required=True)
@click.option("--profile", "profile_name", default=None, help="Rank for this profile only.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most N items per profile.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@guard
def rank(config_path: str | None, paths: tuple[str, ...], profile_name: str | None, limit: int | None,
         as_json: bool) -> None:
    """Rank the papers of listing files against the profiles; store nothing, send nothing.

    Lists every paper that passes a profile's filters, best first, with the keywords that
    matched and what each contributed; a profile with a description or liked papers also
    lists what is close in meaning, and says so. max_items does not apply; --limit caps each
    list. Vectors of papers the store holds are read from it; the others are computed.
    """
    from paperdigest.ranking import items_to_json, rank_profiles
    from paperdigest.sources.captures import parse_capture, read_path_captures

    if Process.exit_fast:
        # A process of its own, building millions of small acyclic objects (papers, index,
        # items): the cyclic collector would only rescan them again and again.
        gc.disable()
    config = load_config(config_path)
    profiles = [config.profile(profile_name)] if profile_name else list(config.profiles)
    now = current_time()
    papers: dict[str, Any] = {}
    failed = False
    for cap in read_path_captures(paths, max_bytes=config.max_input_bytes, now=now):
        if cap.error:
            click.echo(f"paperdigest: error: {cap.error}", err=True)
            failed = True
            continue
        try:
            listing = parse_capture(cap)
        except PaperdigestError as e:
            click.echo(f"paperdigest: error: {e}", err=True)
            failed = True
            continue
        for p in listing.papers:
            papers.setdefault(p.key, p)
    plist = list(papers.values())
    store = _open_store(config)
    try:
        stats = _store_stats(store, plist)
        meaning = None
        if any(p.needs_embeddings for p in profiles):
            from paperdigest.pipeline.meaning import MeaningSource

            meaning = MeaningSource(config, store, save=False).for_papers(profiles, plist)
    finally:
        if store is not None:
            store.close()
    ranked = rank_profiles(plist, profiles, stats, limit=limit, meaning=meaning)
    out: list[dict[str, Any]] = []
    for prof in profiles:
        out.append({"name": prof.name, "title": prof.title, "items": items_to_json(ranked[prof.name].items)})
    if as_json:
        emit({"profiles": out, "papers": len(plist)})
    else:
        for entry in out:
            click.echo(f"== {entry['title']} ({entry['name']}): {len(entry['items'])} papers")
            for n, item in enumerate(entry["items"], 1):
                click.echo(f"{n:3d}. {item['score']:6.2f}  {one_line(item['title'], 100)}")
                click.echo(f"            why: {item['why']}")
    if Process.exit_fast:
        # The ranking leaves millions of small objects; freeing them one by one on the way out
        # costs most of a second for a large input and achieves nothing. Output is flushed.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1 if failed else 0)
    if failed:
        sys.exit(1)
