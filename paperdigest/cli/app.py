"""The ``paperdigest`` command line.

Exit codes: 0 all went well; 1 some input or delivery failed (the rest went through);
2 usage or configuration error. Errors are one line on stderr, never a traceback
(set ``PAPERDIGEST_DEBUG=1`` to see one). With ``--json`` stdout holds exactly one JSON object.

Prefect is imported only by ``run`` and ``serve``, so ``ingest``, ``rank`` and ``preview``
start fast.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from functools import wraps
from typing import Any, TypeVar

import click

from paperdigest import __version__
from paperdigest.errors import ConfigError, PaperdigestError, one_line

F = TypeVar("F", bound=Callable[..., Any])

CONFIG_HELP = "Config file (default: $PAPERDIGEST_CONFIG, else config/paperdigest.toml)."


def setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("paperdigest: %(levelname)s: %(message)s"))
    root = logging.getLogger("paperdigest")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    root.propagate = False


def guard(fn: F) -> F:
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


def current_time() -> datetime:
    """The one place the CLI reads the clock (``PAPERDIGEST_NOW`` pins it, for tests and replays)."""
    pinned = os.environ.get("PAPERDIGEST_NOW")
    if pinned:
        try:
            value = datetime.fromisoformat(pinned.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"PAPERDIGEST_NOW: not an ISO 8601 date-time: {pinned!r}") from None
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.now(timezone.utc)


def missing_store_file(url: str) -> str | None:
    """The path of a SQLite store that does not exist yet (the read-only commands never create
    one); None for an existing file or any other database."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):].split("?", 1)[0]
        if not path or path == ":memory:" or not os.path.exists(path):
            return path
    return None


def emit(data: dict[str, Any]) -> None:
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
      paperdigest show ID              # everything the store knows about a paper
      paperdigest suggest --profile P  # keywords the profile lacks
      paperdigest serve                # run on the config's cron schedule
      paperdigest web                  # the web app: subscribe, manage, unsubscribe, feeds
    """
    setup_logging(verbose)


class Process:
    """Set by the console script: the command runs as a process of its own (tests call ``main`` in-process)."""

    exit_fast = False
