"""``show``: everything the store knows about one paper."""

from __future__ import annotations


import click

from paperdigest.cli.app import config_option, current_time, emit, guard, main, missing_store_file
from paperdigest.config import load_config
from paperdigest.errors import StoreError


@main.command()
@config_option
@click.argument("ident", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@guard
def show(config_path: str | None, ident: str, as_json: bool) -> None:
    """Show everything the store knows about a paper: ID is an arXiv id (or a URL holding
    one), a paper uid ("arxiv:2502.11111", "title:..."), or its exact title.

    Prints each field with the capture it came from and when, every capture that listed
    the paper (with the upvotes it gave, where its source gives any), the digests that held
    it with each reader's delivery status, and per profile whether it was considered and
    how it ranks now. Reads the store; changes nothing. Exit 1 when no paper matches.
    """
    from paperdigest.pipeline.paperinfo import render_text, show_papers
    from paperdigest.store import Store

    config = load_config(config_path)
    missing = missing_store_file(config.store_url)
    if missing is not None:
        raise StoreError(f"show: no store at {missing} yet (ingest or run first)")
    with Store(config.store_url, create=False) as store:
        report = show_papers(store, config, ident, now=current_time())
    if as_json:
        emit(report)
    else:
        click.echo(render_text(report), nl=False)
