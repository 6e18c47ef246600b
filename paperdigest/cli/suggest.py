"""``suggest``: keywords a profile lacks, from the papers its reader keeps (read only)."""

from __future__ import annotations


import click

from paperdigest.cli.app import config_option, emit, guard, main, missing_store_file
from paperdigest.config import load_config
from paperdigest.errors import StoreError, one_line


@main.command()
@config_option
@click.option("--profile", "profile_name", required=True, help="The profile to suggest keywords for.")
@click.option("--limit", type=click.IntRange(min=1), default=15, show_default=True, help="At most N terms.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@guard
def suggest(config_path: str | None, profile_name: str, limit: int, as_json: bool) -> None:
    """Propose keywords the profile lacks, with the papers each would have added.

    Learns from the papers the reader keeps: the profile's liked papers (those in the store)
    and the best-ranked papers of its recent digests. A term (a word or a phrase of up to three)
    is proposed when it is more frequent among them than in the rest of the store, occurs in at
    least two of them, and is not covered by the profile's keywords; "score" is its offer weight
    (Robertson's term-selection score for query expansion). Changes nothing.
    """
    from paperdigest.pipeline.suggest import suggest_for_profile
    from paperdigest.store import Store

    config = load_config(config_path)
    profile = config.profile(profile_name)
    missing = missing_store_file(config.store_url)
    if missing is not None:
        raise StoreError(f"store {missing}: no store yet (run paperdigest ingest or run first)")
    with Store(config.store_url, create=False) as store:
        report = suggest_for_profile(store, profile, limit=limit)
    for entry in report.liked_not_found:
        click.echo(f"paperdigest: warning: profile \"{profile.name}\": liked paper not in the store: "
                   f"{one_line(entry, 120)}", err=True)
    if as_json:
        emit(report.to_json())
        return
    if not report.kept:
        click.echo(f'Profile "{profile.name}" keeps no papers yet (no liked paper in the store, no digest): '
                   "nothing to learn from.")
        return
    click.echo(f'Keywords "{profile.name}" lacks, from {report.kept} papers it keeps against '
               f"{report.compared:,} others:")
    if not report.suggestions:
        click.echo("  (none stands out)")
    for n, s in enumerate(report.suggestions, 1):
        term = '"' + one_line(s["term"], 60) + '"'
        click.echo(f"{n:3d}. {term:32} score {s['score']:5.2f}, in {s['support']} of its papers; "
                   f"would have added {s['would_add_count']}")
        for paper in s["would_add"]:
            ident = f" (arXiv {paper['arxiv_id']})" if paper["arxiv_id"] else ""
            click.echo(f"       - {one_line(paper['title'], 90)}{ident}")
