"""The ``paperdigest`` command line.

Exit codes: 0 all went well; 1 some input or delivery failed (the rest went through);
2 usage or configuration error. Errors are one line on stderr, never a traceback
(set ``PAPERDIGEST_DEBUG=1`` to see one). With ``--json`` stdout holds exactly one JSON object.

Prefect is imported only by ``run`` and ``serve``, so ``ingest``, ``rank`` and ``preview``
start fast.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from functools import wraps
from typing import Any, TypeVar

import click

from . import __version__
from .config import Config, load_config
from .errors import ConfigError, PaperdigestError, one_line

F = TypeVar("F", bound=Callable[..., Any])

CONFIG_HELP = "Config file (default: $PAPERDIGEST_CONFIG, else config/paperdigest.toml)."


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("paperdigest: %(levelname)s: %(message)s"))
    root = logging.getLogger("paperdigest")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    root.propagate = False


def _guard(fn: F) -> F:
    """Turn the project's errors into one line and an exit code; hide tracebacks."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ConfigError as e:
            click.echo(f"paperdigest: error: {e}", err=True)
            sys.exit(2)
        except PaperdigestError as e:
            click.echo(f"paperdigest: error: {e}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("paperdigest: interrupted", err=True)
            sys.exit(130)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as e:  # noqa: BLE001 - last resort: one line, no traceback
            if os.environ.get("PAPERDIGEST_DEBUG"):
                raise
            click.echo(f"paperdigest: internal error: {type(e).__name__}: {one_line(str(e))} "
                       "(set PAPERDIGEST_DEBUG=1 for a traceback)", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def _now() -> datetime:
    """The one place the CLI reads the clock (``PAPERDIGEST_NOW`` pins it, for tests and replays)."""
    pinned = os.environ.get("PAPERDIGEST_NOW")
    if pinned:
        try:
            value = datetime.fromisoformat(pinned.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"PAPERDIGEST_NOW: not an ISO 8601 date-time: {pinned!r}") from None
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.now(timezone.utc)


def _emit(data: dict[str, Any]) -> None:
    """Indented for a person at a terminal, compact when piped. orjson (a Prefect dependency
    too) writes a large ``rank`` answer (25 MB for 2,000 profiles) several times faster."""
    import orjson

    raw = orjson.dumps(data, option=orjson.OPT_INDENT_2 if sys.stdout.isatty() else 0)
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a text-only stream (some embedding): go through text
        click.echo(raw.decode("utf-8"))
        return
    sys.stdout.flush()
    buffer.write(raw + b"\n")
    buffer.flush()


def config_option(fn: F) -> F:
    return click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
                        help=CONFIG_HELP)(fn)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="paperdigest")
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr.")
def main(verbose: bool) -> None:
    """paperdigest: digests of trending research papers, ranked for each reader.

    \b
    Typical use:
      paperdigest run                  # ingest sources, rank, render, deliver
      paperdigest ingest FILE...       # only store new listings
      paperdigest rank FILE...         # show what each profile would get
      paperdigest preview --profile P  # the next digest, without sending it
      paperdigest serve                # run on the config's cron schedule
    """
    _setup_logging(verbose)


# --------------------------------------------------------------------------- ingest


@main.command()
@config_option
@click.argument("paths", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@_guard
def ingest(config_path: str | None, paths: tuple[str, ...], as_json: bool) -> None:
    """Store the papers of listing files (files, folders or globs) and report what is new.

    Each input is reported in the order given; a bad input is reported and the rest still
    go through. The same bytes twice are a duplicate and change nothing. Exit 1 if any
    input failed.
    """
    from .pipeline import ingest_capture, read_path_captures
    from .store import Store

    config = load_config(config_path)
    now = _now()
    with Store(config.store_url) as store:
        caps = read_path_captures(paths, max_bytes=config.max_input_bytes, now=now)
        reports = [ingest_capture(store, c, output_dir=config.output_dir, now=now) for c in caps]
    if as_json:
        _emit({"snapshots": [r.to_json() for r in reports], "new_papers": sum(r.new for r in reports)})
    else:
        for r in reports:
            if r.error and not r.papers:
                click.echo(f"FAILED     {r.source}: {r.error}")
            else:
                tag = "duplicate" if r.duplicate else f"{r.new:4d} new"
                click.echo(f"{tag:10} {r.papers:4d} papers  {r.source}" + (f"  ({r.warning})" if r.warning else ""))
        click.echo(f"{sum(r.new for r in reports)} new papers")
    if any(r.error for r in reports):
        sys.exit(1)


# --------------------------------------------------------------------------- rank


def _store_stats(config: Config, papers: list[Any]) -> Any:
    """IDF statistics of the store (read only) plus the listings being ranked; None without a store."""
    url = config.store_url
    if url.startswith("sqlite:///"):
        db = url[len("sqlite:///"):]
        if not db or not os.path.exists(db):
            return None
    from .pipeline import TERM_STATS_BLOB
    from .ranking import TermStats
    from .store import Store

    try:
        with Store(url, create=False) as store:
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
@_guard
def rank(config_path: str | None, paths: tuple[str, ...], profile_name: str | None, limit: int | None,
         as_json: bool) -> None:
    """Rank the papers of listing files against the profiles; store nothing, send nothing.

    Lists every paper that passes a profile's filters, best first, with the keywords that
    matched and what each contributed. max_items does not apply; --limit caps each list.
    """
    from .captures import parse_capture, read_path_captures
    from .ranking import items_to_json
    from .ranking import rank as rank_papers

    if _exit_fast:
        # A process of its own, building millions of small acyclic objects (papers, index,
        # items): the cyclic collector would only rescan them again and again.
        gc.disable()
    config = load_config(config_path)
    profiles = [config.profile(profile_name)] if profile_name else list(config.profiles)
    now = _now()
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
    ranked = rank_papers(plist, profiles, _store_stats(config, plist))
    out: list[dict[str, Any]] = []
    for prof in profiles:
        items = ranked[prof.name][:limit] if limit else ranked[prof.name]
        out.append({"name": prof.name, "title": prof.title, "items": items_to_json(items)})
    if as_json:
        _emit({"profiles": out, "papers": len(plist)})
    else:
        for entry in out:
            click.echo(f"== {entry['title']} ({entry['name']}): {len(entry['items'])} papers")
            for n, item in enumerate(entry["items"], 1):
                click.echo(f"{n:3d}. {item['score']:6.2f}  {one_line(item['title'], 100)}")
                click.echo(f"            why: {item['why']}")
    if _exit_fast:
        # The ranking leaves millions of small objects; freeing them one by one on the way out
        # costs most of a second for a large input and achieves nothing. Output is flushed.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1 if failed else 0)
    if failed:
        sys.exit(1)


# --------------------------------------------------------------------------- run


@main.command()
@config_option
@click.option("--snapshot", "snapshots", multiple=True, metavar="PATH",
              help="Also ingest this listing file (repeatable), besides the configured sources.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("--without-prefect", is_flag=True,
              help="Run the same steps in this process without Prefect (no retries, no artifacts).")
@_guard
def run(config_path: str | None, snapshots: tuple[str, ...], as_json: bool, without_prefect: bool) -> None:
    """Run the digest now: ingest, rank, render, deliver, publish feeds.

    Runs the Prefect flow ``digest`` (a temporary Prefect server starts unless
    PREFECT_API_URL points at one). Whatever an earlier, interrupted run owed is sent too.
    """
    config = load_config(config_path)
    now = _now()
    if without_prefect:
        from .pipeline import run_digest

        report = run_digest(config, extra_snapshots=snapshots, now=now)
        data = report.to_json()
    else:
        from .digest import run_flow

        data = run_flow(str(config.path), list(snapshots), now)
    _print_run(data, as_json)
    if data.get("failed"):
        sys.exit(1)


def _print_run(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _emit(data)
        return
    for s in data["snapshots"]:
        state = "FAILED" if s["error"] and not s["papers"] else ("duplicate" if s["duplicate"] else f"{s['new']} new")
        click.echo(f"ingest  {s['source']}: {state}" + (f" ({s['error']})" if s["error"] else "")
                   + (f" [warning: {s['warning']}]" if s.get("warning") else ""))
    for d in data["digests"]:
        sent = ", ".join(f"{e['to']}: {e['status']}" for e in d["emails"]) or "no email"
        click.echo(f"digest  {d['profile']}: {len(d['items'])} papers -> {d['markdown']}; {sent}; feed {d['feed']}")
    for e in data.get("other_emails", []):
        click.echo(f"resent  {e['digest']} to {e['to']}: {e['status']}")


# --------------------------------------------------------------------------- preview


@main.command()
@config_option
@click.option("--profile", "profile_name", required=True, help="The profile to preview.")
@click.option("--format", "fmt", type=click.Choice(["md", "html", "text", "rss"]), default="md", show_default=True)
@_guard
def preview(config_path: str | None, profile_name: str, fmt: str) -> None:
    """Print what the profile's next digest would hold, without recording or sending anything."""
    from .preview import preview_digest

    config = load_config(config_path)
    click.echo(preview_digest(config, config.profile(profile_name), fmt, _now()), nl=False)


# --------------------------------------------------------------------------- serve


@main.command()
@config_option
@_guard
def serve(config_path: str | None) -> None:
    """Serve the ``digest`` deployment on the config's cron schedule (needs a Prefect server).

    \b
    Terminal 1:  prefect server start
    Terminal 2:  PREFECT_API_URL=http://127.0.0.1:4200/api paperdigest serve
    Trigger now: prefect deployment run 'digest/paperdigest'
    """
    from .digest import serve_deployment

    config = load_config(config_path)
    serve_deployment(config)


_exit_fast = False


def entry() -> None:
    """The console script: ``main`` run as a process of its own (tests call ``main`` in-process)."""
    global _exit_fast
    _exit_fast = True
    main()


if __name__ == "__main__":  # pragma: no cover
    entry()
